"""Scratch training: double descent (asymptotic, exact finite-d, Monte-Carlo).
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from .. import theory
from ._common import _along, _check_sweep, _default_gamma, _errorbar, _figure, _gamma_line


def double_descent(*, gamma: Iterable[float] | None = None, sigma: float = 0.2,
                   d: int | None = None, mc: Any = None):
    """Scratch risk against gamma: the asymptotic curve (diverging at gamma = 1 with noise),
    the exact finite-d expectation on whole sample numbers n (d from ``mc`` when not given),
    and Monte-Carlo means +- sem from a scratch sweep over gamma. Log y-axis when sigma > 0.
    """

    G = _default_gamma(gamma, 0.05, 3.0, 600)
    if mc is not None:
        _check_sweep(mc, "scratch", "the scratch sweep", sigma=sigma)
        if d is None:
            d = int(mc.settings.get("d"))
        elif "d" not in mc.grid and int(mc.settings.get("d")) != int(d):
            raise ValueError(f"the scratch sweep was run at d={mc.settings.get('d')}, "
                             f"the figure shows d={d}")
    fig = _figure((7.0, 5.0))
    ax = fig.subplots()
    label = "asymptotic (d \u2192 \u221e)"
    for part in (G[G < 1], G[G > 1]):
        if part.size:
            ax.plot(part, theory.risk("scratch", gamma=part, sigma=sigma), color="C0", lw=2,
                    label=label)
            label = None
    if d is not None:
        n = np.arange(1, int(math.floor(G.max() * d)) + 1)
        n = n[(n >= G.min() * d) & (np.abs(n - d) > 1)]
        exact = theory.risk("scratch", gamma=n / d, sigma=sigma, d=d)
        label = f"exact expectation at d = {d} (n = \u03b3d whole)"
        for part in (n < d, n > d):
            if part.any():
                ax.plot(n[part] / d, exact[part], color="C1", lw=1.3, ls="--", label=label)
                label = None
    if mc is not None:
        found = _along(mc.grid, (mc.mean(), mc.sem()), "gamma", {})
        g, m, s = found
        _errorbar(ax, g, m, s, color="C3", markeredgecolor="k", markeredgewidth=0.6,
                  label=f"Monte-Carlo, mean \u00b1 sem ({mc.settings.get('instances')} runs)")
        if np.isnan(m).any():
            ax.plot([], [], ls="", label=f"({int(np.isnan(m).sum())} MC point(s) not "
                                         "run / not converged)")
    _gamma_line(ax)
    if sigma > 0:
        ax.set_yscale("log")
        top = 10.0 if mc is None else max(10.0, 3 * float(np.nanmax(mc.mean())))
        low = min(float(np.min(theory.risk("scratch", gamma=G[G > 1], sigma=sigma)))
                  if (G > 1).any() else 1.0, 1.0 - float(G.max()) if G.max() < 1 else 1.0)
        ax.set_ylim(max(low * 0.5, 1e-4), top)
    else:
        ax.set_ylim(0, 1.1)
    ax.set_xlim(G.min(), G.max())
    ax.set_xlabel("\u03b3 = n/d   (target samples per dimension)")
    ax.set_ylabel("R_scratch = |\u03b2\u0302 \u2212 \u03b2_t|\u00b2" + ("   (log scale)"
                                                                     if sigma > 0 else ""))
    ax.set_title("Scratch training (min-norm / least squares): double descent, "
                 f"\u03c3 = {sigma:g}", fontsize=10)
    ax.legend(fontsize=8, loc="upper right", framealpha=0.9)
    return fig
