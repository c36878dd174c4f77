"""Ridge transfer: the readout refit's risk against its penalty.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from .. import theory
from ._common import _along, _check_sweep, _errorbar, _figure, _params_text, _pi_label


def ridge_curve(*, lam: Iterable[float] | None = None,
                thetas: Iterable[float] = (math.pi / 8, math.pi / 4, 3 * math.pi / 8),
                gamma: float = 0.5, sigma: float = 0.2, depth: int = 2,
                gamma_s: float | None = None, sigma_s: float = 0.0, mc: Any = None):
    """Ridge-transfer risk against the penalty lam, one line per theta (increasing in lam).

    mc : a 'linear' sweep over lam (and theta) at this gamma, sigma, depth and source; its
        means +- sem are drawn, and at lam = 0 (population source) the exact finite-d
        expectation of ridgeless transfer as an open diamond.
    """
    from matplotlib.lines import Line2D

    params = dict(gamma=gamma, sigma=sigma, depth=depth, gamma_s=gamma_s, sigma_s=sigma_s)
    lams = np.linspace(0.0, 2.0, 200) if lam is None else np.asarray(lam, dtype=float)
    thetas = [float(t) for t in thetas]
    fig = _figure((7.0, 5.0))
    ax = fig.subplots()
    if mc is not None:
        _check_sweep(mc, "linear", "the ridge sweep", **params)
    d = mc.settings.get("d") if mc is not None else None
    for i, th in enumerate(thetas):
        color = f"C{i}"
        R = theory.risk("linear", lam=lams, theta=th, **params)
        ax.plot(lams, R, color=color, lw=2, label=f"\u03b8 = {_pi_label(th)}")
        if mc is not None:
            found = _along(mc.grid, (mc.mean(), mc.sem()), "lam", {"theta": th})
            if found is not None:
                x, m, s = found
                _errorbar(ax, x, m, s, color=color, markeredgecolor="k", markeredgewidth=0.6)
            if gamma_s is None and float(gamma * d) > 2:
                exact = theory.risk("linear", theta=th, d=d, **params)
                ax.plot([0.0], [exact], marker="D", ms=8, mfc="none", mec=color, mew=1.5,
                        zorder=5, ls="")
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="0.3", lw=2, label="theory (asymptotic)"))
    if mc is not None:
        handles.append(Line2D([], [], color="0.3", marker="o", ls="", markeredgecolor="k",
                              label=f"Monte-Carlo, mean \u00b1 sem (d = {d}, "
                                    f"n = {int(round(gamma * d))}, "
                                    f"{mc.settings.get('instances')} runs)"))
        if gamma_s is None:
            handles.append(Line2D([], [], color="0.3", marker="D", mfc="none", ls="",
                                  label="\u03bb = 0: exact finite-d expectation"))
    ax.legend(handles=handles, fontsize=8, loc="best", framealpha=0.9)
    ax.set_xlabel("\u03bb   (ridge penalty of the readout refit)")
    ax.set_ylabel("R_ridge = |\u03b2\u0302 \u2212 \u03b2_t|\u00b2   (generalization error)")
    span = lams.max() - lams.min()
    ax.set_xlim(lams.min() - 0.03 * span, lams.max() + 0.02 * span)
    ax.set_title("Ridge transfer: risk increases with \u03bb\n" + _params_text(**params),
                 fontsize=10)
    return fig
