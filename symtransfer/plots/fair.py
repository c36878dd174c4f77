"""Figures of the fair comparison: every transfer method against tuned scratch, tuned itself.

``T_fair = R_tuned scratch - R_tuned method`` (:func:`symtransfer.transferability` with
``baseline='fair'``): scratch is ridge at lam* = sigma^2/gamma, L2-SP runs at its own lam*,
and a method without a hyperparameter of its own enters as it is. Every registered method
that starts from pretrained weights and has a theory is drawn (methods registered later are
picked up without edits); theory only, so the figures cost well under a second.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from .. import methods, theory
from ._common import DIVERGING, HALF_PI, _default_gamma, _figure, _gamma_line, _params_text


def fair_methods(names: Iterable[str] | None = None, **params) -> list:
    """The pretrained methods whose fair transferability exists at these parameters (a method
    whose theory does not cover them, e.g. a depth it has no kernel for, is left out)."""
    chosen = methods.pretrained() if names is None else [methods.get(n) for n in names]
    out = []
    for m in chosen:
        try:
            theory.transferability(m.name, baseline="fair", gamma=0.5, theta=0.5, **params)
        except (ValueError, NotImplementedError):
            continue
        out.append(m)
    return out


def fair_maps(*, gamma, theta, sigma: float, depth: int = 2, baseline: str = "fair",
              names: Iterable[str] | None = None) -> dict:
    """``{method name: T}`` over the outer grid (gamma rows, theta columns)."""
    params = dict(sigma=sigma, depth=depth)
    grid = dict(gamma=np.asarray(gamma)[:, None], theta=np.asarray(theta)[None, :], **params)
    return {m.name: np.asarray(theory.transferability(m.name, baseline=baseline, **grid),
                               dtype=float)
            for m in fair_methods(names, **params)}


def best_method(maps: dict) -> tuple[np.ndarray, list[str]]:
    """Index of the best method at each point (0: tuned scratch, where every T < 0; k: the k-th
    method of ``maps``) and the names in that order. Ties go to the earlier method."""
    names = ["scratch"] + list(maps)
    stack = np.stack([np.zeros_like(next(iter(maps.values())))] + list(maps.values()))
    stack = np.where(np.isnan(stack), -np.inf, stack)
    return np.argmax(stack, axis=0), names


def fair_phase_diagrams(*, sigma: float = 0.3, depth: int = 2, gamma=None, theta=None,
                        clip: float = 0.5, names: Iterable[str] | None = None):
    """One panel per method: T_fair over (theta/(pi/2), gamma), one diverging colour scale
    (blue: transfer helps) clipped at +-``clip``; black: T_fair = 0; dashed: theta = pi/3."""
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.lines import Line2D

    G = _default_gamma(gamma, 0.02, 2.5, 200)
    # 126 angles: no grid point at theta = pi/3 itself, where T_fair of L2-SP and of scratch
    # are both 0 and rounding would pick the winner
    TH = np.linspace(0.0, HALF_PI, 126) if theta is None else np.asarray(theta, dtype=float)
    X = TH / HALF_PI
    maps = fair_maps(gamma=G, theta=TH, sigma=sigma, depth=depth, names=names)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-clip, vmax=clip)
    fig = _figure((4.3 * len(maps) + 1.2, 4.8))
    axes = np.atleast_1d(fig.subplots(1, len(maps), sharey=True))
    mesh = None
    for ax, (name, T) in zip(axes, maps.items()):
        m = methods.get(name)
        mesh = ax.pcolormesh(X, G, np.clip(np.nan_to_num(T, nan=0.0), -clip, clip),
                             cmap=DIVERGING, norm=norm, shading="auto", rasterized=True)
        if np.nanmin(T) < 0 < np.nanmax(T):
            ax.contour(X, G, T, levels=[0.0], colors="k", linewidths=2.0)
        _theta_gamma_axes(ax, G)
        tuned = "at its \u03bb*" if "tuned" in m.variants else "as it is"
        ax.set_title(f"{m.label} ({tuned})", fontsize=10)
    axes[0].set_ylabel("\u03b3 = n/d")
    handles = [Line2D([], [], color="k", lw=2.0, label="T_fair = 0"),
               Line2D([], [], color="0.2", ls="--", lw=1.0, label="\u03b8 = \u03c0/3"),
               Line2D([], [], color="0.35", ls=":", lw=1.0, label="\u03b3 = 1")]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=9, frameon=False)
    cb = fig.colorbar(mesh, ax=list(axes), extend="both", shrink=0.95, pad=0.01)
    cb.set_label("T_fair = R(tuned scratch) \u2212 R(tuned method)")
    fig.suptitle("Every method against the fair baseline (optimal-ridge scratch): "
                 + _params_text(sigma=sigma, depth=depth), fontsize=11)
    return fig


def best_method_maps(*, sigma: float = 0.3, depth: int = 2, gamma=None, theta=None,
                     names: Iterable[str] | None = None):
    """The best method at each (theta, gamma): left, each method as given against ridgeless
    scratch (the paper's comparison; scratch where every T < 0; methods with a tuned variant
    are left out, their untuned learner being a limit of another: L2-SP at lam = 0 is the paper's
    fine-tuning form); right, tuned against tuned (the fair comparison; tuned scratch where
    every T_fair < 0). Colours: the methods' own."""
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    G = _default_gamma(gamma, 0.02, 2.5, 200)
    # 126 angles: no grid point at theta = pi/3 itself, where T_fair of L2-SP and of scratch
    # are both 0 and rounding would pick the winner
    TH = np.linspace(0.0, HALF_PI, 126) if theta is None else np.asarray(theta, dtype=float)
    X = TH / HALF_PI
    fig = _figure((11.6, 5.0))
    axes = fig.subplots(1, 2, sharey=True)
    used: dict[str, str] = {}
    titles = {"ridgeless": "as given, vs ridgeless scratch",
              "fair": "tuned, vs tuned scratch (fair)"}
    every = [m.name for m in fair_methods(names, sigma=sigma, depth=depth)]
    # as given, a method with a tuned variant is its lam = 0 limit (L2-SP: the paper's
    # fine-tuning form), not a procedure of its own: the left map shows the others
    plain = [n for n in every if "tuned" not in methods.get(n).variants]
    for ax, baseline, chosen in zip(axes, ("ridgeless", "fair"), (plain, every)):
        maps = fair_maps(gamma=G, theta=TH, sigma=sigma, depth=depth, baseline=baseline,
                         names=chosen)
        index, order = best_method(maps)
        colors = ["0.8"] + [methods.get(n).color for n in order[1:]]
        cmap = ListedColormap(colors)
        ax.pcolormesh(X, G, index, cmap=cmap, shading="auto", rasterized=True,
                      norm=BoundaryNorm(np.arange(len(order) + 1) - 0.5, len(order)))
        for k in np.unique(index):
            used[order[k]] = colors[k]
        _theta_gamma_axes(ax, G)
        ax.set_title(f"best method, {titles[baseline]}", fontsize=10)
    axes[0].set_ylabel("\u03b3 = n/d")
    label = {n: ("scratch (nothing transfers)" if n == "scratch" else methods.get(n).label)
             for n in used}
    fig.legend(handles=[Patch(color=c, label=label[n]) for n, c in used.items()],
               loc="outside lower center", ncol=len(used), fontsize=9, frameon=False)
    fig.suptitle("Best method at each (\u03b8, \u03b3): " + _params_text(sigma=sigma, depth=depth)
                 + "; dashed: \u03b8 = \u03c0/3", fontsize=11)
    return fig


def _theta_gamma_axes(ax, G: np.ndarray) -> None:
    """The (theta, gamma) panel's frame: theta = pi/3 dashed, gamma = 1 dotted, limits, label."""
    ax.axvline(2 / 3, color="0.2", ls="--", lw=1.0)
    if G.min() < 1 < G.max():
        _gamma_line(ax, label=False, horizontal=True)
    ax.set_xlim(0, 1)
    ax.set_ylim(G.min(), G.max())
    ax.set_xlabel("\u03b8 / (\u03c0/2)")
