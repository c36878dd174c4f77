"""Pretraining with a penalty toward the initialization: fine-tuning risk against mu and the
best penalty's transferability.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from .. import theory
from ._common import (
    HALF_PI,
    _along,
    _check_sweep,
    _errorbar,
    _figure,
    _index,
    _params_text,
    _pi_label,
    _setting,
)


def penalty_transfer(*, gamma: float = 0.5, sigma: float = 0.2,
                     thetas: Iterable[float] = (math.pi / 8, math.pi / 4, 3 * math.pi / 8,
                                                7 * math.pi / 16),
                     mu: Iterable[float] | None = None, mc: Any = None):
    """Fine-tuning after pretraining with the penalty ``mu |w - w_0|^2`` (depth 2, population
    source, vanishing initialization, so the penalty is weight decay).

    Left: the fine-tuning *risk* against mu, one colour per theta: exact form solid, paper's
    form dashed, the best penalty mu* (exact form) starred, the scratch risk (grey line; T > 0
    below it), and Monte-Carlo means +- sem of the fine-tuning runs from ``mc = (scratch,
    finetune)`` (the fine-tuning sweep over mu and theta at this gamma; the scratch sweep over
    gamma gives the grey band, mean +- sem of the scratch runs at this gamma). Risks, not
    differences, are plotted so that the scratch runs' own noise (shared by every point of a
    T curve) does not move the fine-tuning points. mu >= 1 learns nothing: fine-tuning is
    scratch training. Right: T at mu = 0 and at mu* against theta for a few gamma: the best
    penalty turns every negative T into (1-gamma) cos^2 >= 0.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    mus = np.linspace(0.0, 1.8, 721) if mu is None else np.asarray(mu, dtype=float)
    thetas = [float(t) for t in thetas]
    fig = _figure((13.0, 5.4))
    left, right = fig.subplots(1, 2)
    base = dict(gamma=gamma, sigma=sigma)
    ft = None
    if mc is not None:
        scratch, ft = mc
        _check_sweep(ft, "finetune", "the penalty sweep", gamma=gamma, sigma=sigma)
        if "gamma" in ft.grid and _index(ft.grid["gamma"], gamma) is None:
            raise ValueError(f"the penalty sweep has no gamma={gamma!r} (its gamma: "
                             f"{ft.grid['gamma'].tolist()})")
        if "mu" not in ft.grid:
            raise ValueError("the penalty sweep must have a 'mu' axis")
        try:  # the scratch band needs a scratch sweep with gamma as its only long axis
            found = _along(scratch.grid, (scratch.mean(), scratch.sem()), "gamma", {})
        except ValueError:
            found = None
        if found is not None:
            gs, ms, es = found
            k = _index(np.asarray(gs), gamma)
            if k is not None:
                left.axhspan(ms[k] - es[k], ms[k] + es[k], color="0.7", alpha=0.5, lw=0,
                             zorder=0)
    r_scratch = float(theory.risk("scratch", **base))
    left.axhline(r_scratch, color="0.35", lw=1.2, zorder=1)
    for i, th in enumerate(thetas):
        color = f"C{i}"
        for form, ls in (("exact", "-"), ("paper", "--")):
            R = theory.risk("finetune", theta=th, mu=mus, form=form, **base)
            left.plot(mus, R, color=color, ls=ls, lw=2 if form == "exact" else 1.3,
                      label=f"\u03b8 = {_pi_label(th)}" if form == "exact" else None)
        m_star = theory.optimal_penalty(theta=th, **base)
        left.plot([m_star], [theory.risk("finetune", theta=th, mu=m_star, **base)],
                  marker="*", ms=15, color=color, mec="k", zorder=6, ls="")
        if ft is not None:
            found = _along(ft.grid, (ft.mean(), ft.sem()), "mu", {"theta": th, "gamma": gamma})
            if found is not None:
                x, m, e = found
                _errorbar(left, x, m, e, color=color, markeredgecolor="k",
                          markeredgewidth=0.6)
    left.axvline(1.0, color="0.5", ls=":", lw=1.0)
    left.set_xlabel("\u03bc   (pretraining penalty \u03bc|w \u2212 w\u2080|\u00b2: rich "
                    "\u2192 lazy)")
    left.set_ylabel("R_finetune = |\u03b2\u0302 \u2212 \u03b2_t|\u00b2   (below the grey "
                    "line: T > 0)")
    handles, _ = left.get_legend_handles_labels()
    handles += [Line2D([], [], color="0.3", lw=2, label="exact form"),
                Line2D([], [], color="0.3", lw=1.3, ls="--", label="paper's form (c = 1)"),
                Line2D([], [], color="0.3", marker="*", ms=12, mec="k", ls="",
                       label="best \u03bc* (exact form)"),
                Line2D([], [], color="0.35", lw=1.2, label="scratch risk (theory)")]
    if ft is not None:
        handles.append(Patch(color="0.7", alpha=0.5, label="scratch runs, mean \u00b1 sem"))
        handles.append(Line2D([], [], color="0.3", marker="o", ls="", markeredgecolor="k",
                              label=f"fine-tuning runs \u00b1 sem (d = "
                                    f"{_setting(ft, 'd')}, {ft.errors.shape[-1]} runs)"))
    left.legend(handles=handles, fontsize=8, loc="upper left", framealpha=0.9, ncol=2)
    left.set_title("Fine-tuning risk after penalized pretraining\n" + _params_text(**base)
                   + ", L = 2; \u03bc \u2265 1: nothing learned (scratch)", fontsize=10)
    TH = np.linspace(0.0, math.pi, 361)
    for i, g in enumerate(sorted({0.2, 0.5, 0.8} | {gamma})):
        color = f"C{i + 5}"
        plain = theory.transferability("finetune", gamma=g, theta=TH, sigma=sigma)
        best = theory.transferability("finetune", gamma=g, theta=TH, sigma=sigma,
                                      mu=theory.optimal_penalty(gamma=g, theta=TH,
                                                                sigma=sigma))
        right.plot(TH / HALF_PI, plain, color=color, ls="--", lw=1.3)
        right.plot(TH / HALF_PI, best, color=color, lw=2, label=f"\u03b3 = {g:g}")
    right.axhline(0.0, color="0.3", lw=0.8)
    right.set_xlabel("\u03b8 / (\u03c0/2)   (> 1: negative overlap cos \u03b8 < 0)")
    right.set_ylabel("T")
    handles, _ = right.get_legend_handles_labels()
    handles += [Line2D([], [], color="0.3", lw=2, label="best penalty \u03bc*: "
                       "(1\u2212\u03b3) cos\u00b2\u03b8 (0 beyond \u03c0/2)"),
                Line2D([], [], color="0.3", lw=1.3, ls="--", label="no penalty (\u03bc = 0)")]
    right.legend(handles=handles, fontsize=8, loc="lower left", framealpha=0.9)
    right.set_title("The best penalty removes negative transfer (exact form, "
                    f"\u03c3 = {sigma:g})", fontsize=10)
    return fig
