"""The ReLU phase diagram beside the linear theory's, on a common feature axis.

Both panels plot transferability ``T = R_scratch - R_transfer`` (blue: transfer helps, red:
it hurts; the T = 0 contour in black) against gamma and the **feature residual** rho, the
fraction of the target's variance outside the pretrained feature space:

* linear theory (:func:`symtransfer.transferability`): ``rho = sin^2 theta``;
* ReLU networks (a :class:`~symtransfer.relu.sweep.ReluSweep` over gamma and theta): rho is
  measured, per theta, by :func:`symtransfer.relu.feature_overlap` (mean over instances).

Cells whose Monte-Carlo value is missing (not run, or an instance did not converge) are
hatched; cells whose sign is not resolved (|T| < 2 paired sem) are dotted. Built without
pyplot (Agg), like :mod:`symtransfer.plots`.
"""
from __future__ import annotations

import math

import numpy as np

from .. import theory
from ..plots import DIVERGING, METHOD_NAMES, NAN_HATCH, _edges, _figure


def _label_columns(ax, x: np.ndarray, values: np.ndarray, top: float,
                   min_gap: float = 0.03) -> None:
    """Label each column at the top of the panel with its theta/(pi/2), rotated so that
    neighbours do not overlap; where two columns are closer than ``min_gap`` (in the axis'
    units) only one is labelled, and the last column (theta = pi/2) always is."""
    keep = []
    for j in range(len(x)):
        if keep and x[j] - x[keep[-1]] < min_gap:
            if j == len(x) - 1:
                keep[-1] = j  # the last column wins
            continue
        keep.append(j)
    for j in keep:
        ax.annotate(f"{values[j]:.2f}", (x[j], top), textcoords="offset points",
                    xytext=(0, 2), ha="center", va="bottom", rotation=90, fontsize=7,
                    color="0.3", annotation_clip=False)
    ax.annotate("\u03b8/(\u03c0/2):", (0, top), textcoords="offset points", xytext=(-4, 2),
                ha="right", va="bottom", fontsize=7, color="0.3", annotation_clip=False)


def relu_phase_diagram(sweep, method: str = "finetune", *, sigma: float | None = None,
                       clip: float = 1.0):
    """Two panels: the linear theory's T(rho = sin^2 theta, gamma) of ``method`` ('linear' or
    'finetune') at the sweep's sigma, and the ReLU sweep's T over (measured rho, gamma).

    sweep : a ReluSweep with grid axes exactly ('gamma', 'theta') in either order.
    clip : the colour scale spans [-clip, clip] (values beyond are saturated).
    """
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle

    if method not in ("linear", "finetune"):
        raise ValueError(f"method must be 'linear' or 'finetune', got {method!r}")
    if set(sweep.grid) != {"gamma", "theta"}:
        raise ValueError(f"the sweep's grid axes must be gamma and theta, got {list(sweep.grid)}")
    sigma = float(sweep.settings.get("sigma", 0.0)) if sigma is None else float(sigma)
    T, sem = sweep.transferability(method)
    rho = sweep.overlap_residual()
    if list(sweep.grid) == ["theta", "gamma"]:
        T, sem, rho = T.T, sem.T, rho.T
    gamma, theta = sweep.grid["gamma"], sweep.grid["theta"]
    rho_theta = np.nanmean(rho, axis=0)           # rho depends on theta only
    order = np.argsort(rho_theta)
    rho_theta, T, sem = rho_theta[order], T[:, order], sem[:, order]
    gy = np.argsort(gamma)
    gamma, T, sem = gamma[gy], T[gy], sem[gy]
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-clip, vmax=clip)

    fig = _figure((12.4, 5.4))
    ax_lin, ax_relu = fig.subplots(1, 2, sharey=True)
    ex, ey = _edges(rho_theta), _edges(gamma)
    ex = np.clip(ex, 0.0, 1.0)
    G = np.linspace(max(0.02, ey[0]), ey[-1], 240)
    TH = np.linspace(0.0, math.pi / 2, 181)
    T_lin = np.asarray(theory.transferability(method, gamma=G[:, None], theta=TH[None, :],
                                              sigma=sigma), dtype=float)
    X = np.sin(TH) ** 2
    shade = np.clip(np.nan_to_num(T_lin, nan=0.0, posinf=clip, neginf=-clip), -clip, clip)
    mesh = ax_lin.pcolormesh(X, G, shade, cmap=DIVERGING, norm=norm, shading="auto",
                             rasterized=True)
    contour = np.where(np.isfinite(T_lin), T_lin, np.sign(T_lin) * 1e6)
    if method == "finetune":
        contour = np.where(G[:, None] < 1, contour, np.nan)
    if np.nanmin(contour) < 0 < np.nanmax(contour):
        ax_lin.contour(X, G, contour, levels=[0.0], colors="k", linewidths=2.0)
    ax_lin.set_title(f"Linear theory: T of {METHOD_NAMES[method]} (\u03c3 = {sigma:g})")
    ax_lin.set_xlabel("feature residual \u03c1 = sin\u00b2\u03b8")
    ax_lin.set_ylabel("\u03b3 = n/d")
    ax_lin.set_xlim(0, 1)
    ax_lin.set_ylim(G[0], G[-1])

    ax_relu.pcolormesh(ex, ey, np.ma.masked_invalid(np.clip(T, -clip, clip)), cmap=DIVERGING,
                       norm=norm, shading="flat", edgecolors="w", linewidth=0.4)
    for i, j in zip(*np.nonzero(~np.isfinite(T))):
        ax_relu.add_patch(Rectangle((ex[j], ey[i]), ex[j + 1] - ex[j], ey[i + 1] - ey[i],
                                    zorder=2, **NAN_HATCH))
    if np.isfinite(T).all() and T.shape[0] > 1 and T.shape[1] > 1 and T.min() < 0 < T.max():
        ax_relu.contour(rho_theta, gamma, T, levels=[0.0], colors="k", linewidths=2.0)
    unresolved = np.isfinite(T) & (np.abs(T) < 2 * np.nan_to_num(sem))
    yy, xx = np.meshgrid(gamma, rho_theta, indexing="ij")
    ax_relu.plot(xx[unresolved], yy[unresolved], "o", ms=3, color="0.2", zorder=5)
    _label_columns(ax_relu, rho_theta, theta[order] / (math.pi / 2), ey[-1])
    s = sweep.settings
    ax_relu.set_title(f"ReLU networks: d = {s['d']}, width {s['width']}, teacher width "
                      f"{s['teacher_width']}, {s['instances']} instances", pad=34)
    ax_relu.set_xlabel("feature residual \u03c1, measured (regression on pretrained features)")
    ax_relu.set_xlim(0, 1)
    ax_relu.tick_params(labelleft=True)
    handles = [Line2D([], [], color="k", lw=2.0, label="T = 0"),
               Patch(label="no value (not run / not converged)", **NAN_HATCH),
               Line2D([], [], marker="o", ls="", ms=3, color="0.2",
                      label="|T| < 2 paired sem (sign not resolved)")]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8.5,
               frameon=False)
    cb = fig.colorbar(mesh, ax=[ax_lin, ax_relu], extend="both", shrink=0.95, pad=0.01)
    cb.set_label("T = R_scratch \u2212 R_transfer   (> 0: transfer helps)")
    fig.suptitle(f"Transferability of {METHOD_NAMES[method]}: linear model vs two-layer ReLU "
                 "networks, against the part of the target outside the pretrained features")
    return fig
