"""Phase diagrams over (theta, gamma) and transferability slices against gamma, for linear
transfer and fine-tuning: theory beside Monte-Carlo.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from .. import theory
from ._common import (
    DIVERGING,
    HALF_PI,
    METHOD_NAMES,
    METHODS_LABEL,
    NAN_HATCH,
    _along,
    _check_sweep,
    _default_gamma,
    _edges,
    _errorbar,
    _figure,
    _gamma_line,
    _gamma_theta,
    _mpl,
    _params_text,
    _pi_label,
    mc_transferability,
    transfer_method,
)


def phase_diagram(method: str, *, sigma: float = 0.2, lam: float = 0.0, depth: int = 2,
                  gamma_s: float | None = None, sigma_s: float = 0.0, form: str = "exact",
                  gamma: Iterable[float] | None = None, theta: Iterable[float] | None = None,
                  mc: tuple[Any, Any] | None = None, clip: float | None = None,
                  baseline: str = "ridgeless"):
    """Theory transferability ``T(theta, gamma)`` of ``method`` ('linear' or 'finetune').

    x: theta/(pi/2) in [0, 1]; y: gamma. Diverging colours centred at T = 0 (blue: transfer
    helps, red: it hurts), the T = 0 contour in black; for fine-tuning also the boundary of
    the paper's form (dashed, theta* = pi/3 with population pretraining). Where T diverges
    (linear transfer at gamma = 1 with sigma > 0) the colour scale is clipped at ``clip``
    (default: the larger of 1 and |min T|), marked by the colour bar's arrow.

    mc : (scratch_sweep, method_sweep) adds a panel with the Monte-Carlo T on the sweeps'
        (gamma, theta) grid (see :func:`mc_transferability`), the theory's T = 0 contour over
        it; hatched cells have no Monte-Carlo value (not run, or training did not converge).
    baseline : the scratch learner T is measured against, 'ridgeless' (default) or
        'optimal_ridge' (see :func:`symtransfer.transferability`).
    """
    matplotlib, _ = _mpl()
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle

    m = transfer_method(method, "a phase diagram")
    params = dict(sigma=sigma, lam=lam, depth=depth, gamma_s=gamma_s, sigma_s=sigma_s)
    G = _default_gamma(gamma, 0.02, 2.5, 300)
    TH = np.linspace(0.0, HALF_PI, 181) if theta is None else np.asarray(theta, dtype=float)
    tkw = {} if baseline == "ridgeless" else {"baseline": baseline}
    T = np.asarray(theory.transferability(method, gamma=G[:, None], theta=TH[None, :],
                                          form=form, **params, **tkw), dtype=float)
    X = TH / HALF_PI
    finite = T[np.isfinite(T)]
    lo, hi = float(finite.min()), float(finite.max())
    cap = max(1.0, -lo) if clip is None else float(clip)
    vmin, vmax = min(lo, -1e-3), max(min(hi, cap), 1e-3)
    clipped = bool(np.nanmax(T) > vmax) if np.isfinite(T).any() else False
    norm = TwoSlopeNorm(vcenter=0.0, vmin=vmin, vmax=vmax)
    shade = np.clip(np.where(np.isnan(T), 0.0, T), vmin, vmax)
    # fine-tuning above gamma = 1 is least squares like scratch: T = 0 on a whole region,
    # where a zero contour is meaningless; contour gamma < 1 only
    T_contour = np.where(np.isfinite(T), T, np.sign(T) * 1e6)
    if m.pinned_above_one:
        T_contour = np.where(G[:, None] < 1, T_contour, np.nan)

    panels = 2 if mc is not None else 1
    fig = _figure((6.4 * panels + 1.0, 5.2 if mc is None else 5.9))
    axes = fig.subplots(1, panels, sharey=True, squeeze=False)[0]
    ax = axes[0]
    mesh = ax.pcolormesh(X, G, shade, cmap=DIVERGING, norm=norm, shading="auto",
                         rasterized=True)
    label_form = "" if len(m.forms) == 1 else f" ({form} form)"

    def overlay(a, legend_loc="upper right"):
        handles = []
        if np.nanmin(T_contour) < 0 < np.nanmax(T_contour):
            a.contour(X, G, T_contour, levels=[0.0], colors="k", linewidths=2.0)
            handles.append(Line2D([], [], color="k", lw=2.0,
                                  label=f"T = 0, theory{label_form}"))
        if form == "exact" and "paper" in m.forms and m.boundary_expr is not None \
                and baseline == "ridgeless":
            paper = np.asarray(theory.phase_boundary(method, gamma=G, form="paper",
                                                     **params), dtype=float)
            if np.isfinite(paper).any():
                a.plot(paper / HALF_PI, G, color="k", linestyle="--", linewidth=1.5)
                handles.append(Line2D([], [], color="k", ls="--", lw=1.5,
                                      label="T = 0, paper form"
                                      + (" (\u03b8* = \u03c0/3)" if gamma_s is None else "")))
        if G.min() < 1 < G.max():
            _gamma_line(a, label=False, horizontal=True)
            handles.append(Line2D([], [], color="0.35", ls=":", lw=1.0,
                                  label="\u03b3 = 1 (interpolation threshold)"))
        return handles

    handles = overlay(ax)
    if m.pinned_above_one and G.max() > 1:
        ax.text(0.5, (1 + G.max()) / 2, f"\u03b3 \u2265 1: {m.label} reaches least squares,\n"
                "like scratch: T = 0", ha="center", va="center", fontsize=9, color="0.25")
    if mc is None:
        ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.9)
    ax.set_xlabel("\u03b8 / (\u03c0/2)   (angle between source and target teachers)")
    ax.set_ylabel("\u03b3 = n/d   (target samples per dimension)")
    ax.set_xlim(0, 1)
    ax.set_ylim(G.min(), G.max())
    ax.set_title(f"Theory: T of {METHODS_LABEL(method, lam)}{label_form}")

    if mc is not None:
        scratch, msweep = mc
        _check_sweep(msweep, method, f"the {method} sweep", **params)
        grid, Tmc, sem = mc_transferability(scratch, msweep, baseline)
        gy, gx, Tmc, sem = _gamma_theta(grid, Tmc, sem)
        gx = gx / HALF_PI
        order_x, order_y = np.argsort(gx), np.argsort(gy)
        gx, gy = gx[order_x], gy[order_y]
        Tmc, sem = Tmc[np.ix_(order_y, order_x)], sem[np.ix_(order_y, order_x)]
        ex, ey = _edges(gx), _edges(gy, split=1.0)
        a2 = axes[1]
        a2.pcolormesh(ex, ey, np.ma.masked_invalid(np.clip(Tmc, vmin, vmax)), cmap=DIVERGING,
                      norm=norm, shading="flat", edgecolors="w", linewidth=0.4)
        missing = ~np.isfinite(Tmc)
        for (i, j) in zip(*np.nonzero(missing)):
            a2.add_patch(Rectangle((ex[j], ey[i]), ex[j + 1] - ex[j], ey[i + 1] - ey[i],
                                   zorder=2, **NAN_HATCH))
        # theory at the grid points: is the Monte-Carlo sign resolved, and does it agree?
        Tth = np.asarray(theory.transferability(method, gamma=gy[:, None], theta=(
            gx * HALF_PI)[None, :], form=form, **params, **tkw), dtype=float)
        resolved = np.isfinite(Tmc) & (np.abs(Tmc) > 2 * np.nan_to_num(sem) + 1e-3)
        # where the theory's T is exactly 0 (fine-tuning above gamma = 1) there is no sign
        # to resolve
        nonzero = np.abs(Tth) > 1e-9
        unresolved = np.isfinite(Tmc) & ~resolved & nonzero
        wrong = resolved & nonzero & (np.sign(Tmc) != np.sign(Tth))
        yy, xx = np.meshgrid(gy, gx, indexing="ij")
        a2.plot(xx[unresolved], yy[unresolved], "o", ms=3, color="0.2", zorder=5)
        a2.plot(xx[wrong], yy[wrong], "x", ms=8, mew=2, color="k", zorder=5)
        h2 = overlay(a2)
        h2 += [Patch(label="no MC value (not run / not converged)", **NAN_HATCH),
               Line2D([], [], marker="o", ls="", ms=3, color="0.2",
                      label="|T_MC| < 2 sem + 0.001 (sign not resolved)"),
               Line2D([], [], marker="x", ls="", ms=8, mew=2, color="k",
                      label="MC sign opposite to theory (resolved)")]
        fig.legend(handles=h2, loc="outside lower center", ncol=3, fontsize=8.5,
                   frameon=False)
        settings = msweep.settings
        a2.set_title(f"Monte-Carlo gradient flow: d = {settings.get('d')}, "
                     f"{settings.get('instances')} instances per point")
        a2.set_xlabel("\u03b8 / (\u03c0/2)")
        a2.set_xlim(0, 1)
        a2.set_ylim(G.min(), G.max())
        a2.tick_params(labelleft=True)
    cb = fig.colorbar(mesh, ax=list(axes), extend="max" if clipped else "neither",
                      shrink=0.95, pad=0.01)
    cb.set_label("T = R_scratch \u2212 R_transfer   (> 0: transfer helps)"
                 + (f"; clipped at {vmax:.2g}" if clipped else ""))
    fig.suptitle(f"Phase diagram of {METHOD_NAMES[method]}: " + _params_text(**params)
                 + ("" if baseline == "ridgeless" else f"; baseline: {baseline}"))
    return fig


def transfer_slices(method: str, *, thetas: Iterable[float] = (math.pi / 8, math.pi / 4,
                                                              3 * math.pi / 8),
                    gamma: Iterable[float] | None = None, sigma: float = 0.2,
                    lam: float = 0.0, depth: int = 2, gamma_s: float | None = None,
                    sigma_s: float = 0.0, form: str = "exact",
                    mc: tuple[Any, Any] | None = None, baseline: str = "ridgeless"):
    """Transferability T against gamma, one line per angle theta (theory; for fine-tuning the
    paper's form dashed), with Monte-Carlo means +- sem from (scratch_sweep, method_sweep) at
    the angles that are on the sweeps' grid."""
    from matplotlib.lines import Line2D

    m = transfer_method(method, "transfer slices")
    params = dict(sigma=sigma, lam=lam, depth=depth, gamma_s=gamma_s, sigma_s=sigma_s)
    G = _default_gamma(gamma, 0.02, 2.5, 500)
    thetas = [float(t) for t in thetas]
    fig = _figure((7.4, 5.0))
    ax = fig.subplots()
    colors = [f"C{i}" for i in range(len(thetas))]
    shown = []
    if mc is not None:
        scratch, msweep = mc
        _check_sweep(msweep, method, f"the {method} sweep", **params)
        grid, Tmc, sem = mc_transferability(scratch, msweep, baseline)
    tkw = {} if baseline == "ridgeless" else {"baseline": baseline}
    for th, color in zip(thetas, colors):
        T = np.asarray(theory.transferability(method, gamma=G, theta=th, form=form, **params,
                                              **tkw), dtype=float)
        ax.plot(G, np.where(np.isfinite(T), T, np.nan), color=color, lw=2,
                label=f"\u03b8 = {_pi_label(th)}")
        shown.append(T[np.isfinite(T) & (np.abs(G - 1) > 0.12)])
        if "paper" in m.forms and form == "exact":
            P = np.asarray(theory.transferability(method, gamma=G, theta=th, form="paper",
                                                  **params, **tkw), dtype=float)
            ax.plot(G, P, color=color, lw=1.2, ls="--")
        if mc is not None:
            found = _along(grid, (Tmc, sem), "gamma", {"theta": th})
            if found is not None:
                g, t, s = found
                _errorbar(ax, g, t, s, color=color, markeredgecolor="k", markeredgewidth=0.6)
                shown.append(t[np.isfinite(t)])
    ax.axhline(0, color="k", lw=0.8)
    _gamma_line(ax, label=False)
    values = np.concatenate(shown) if shown else np.array([0.0])
    lo, hi = float(values.min()), float(values.max())
    pad = 0.08 * max(hi - lo, 0.1)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlim(G.min(), G.max())
    handles, _ = ax.get_legend_handles_labels()
    extra = [Line2D([], [], color="0.3", lw=2, label="theory" + (" (exact form)" if
                                                             len(m.forms) > 1 else ""))]
    if "paper" in m.forms and form == "exact":
        extra.append(Line2D([], [], color="0.3", lw=1.2, ls="--", label="theory, paper form"))
    if mc is not None:
        settings = msweep.settings
        extra.append(Line2D([], [], color="0.3", marker="o", ls="", markeredgecolor="k",
                            label=f"Monte-Carlo, mean \u00b1 sem (d = {settings.get('d')}, "
                                  f"{settings.get('instances')} runs)"))
    extra.append(Line2D([], [], color="0.35", ls=":", lw=1, label="\u03b3 = 1"))
    ax.legend(handles=handles + extra, fontsize=8, loc="best", framealpha=0.9)
    ax.set_xlabel("\u03b3 = n/d   (target samples per dimension)")
    ax.set_ylabel("T = R_scratch \u2212 R_transfer   (> 0: transfer helps)")
    ax.set_title(f"Transferability of {METHODS_LABEL(method, lam)}: " + _params_text(**params),
                 fontsize=10)
    if m.gamma_one.get("transfer") == "inf" and sigma > 0:
        ax.text(0.99, 0.02, "T \u2192 +\u221e at \u03b3 = 1 (scratch's double-descent peak); "
                "axis clipped", transform=ax.transAxes, ha="right", va="bottom", fontsize=8,
                color="0.3")
    return fig
