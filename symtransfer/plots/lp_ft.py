"""LP-FT against fine-tuning (theory): where the linear probe before fine-tuning helps."""
from __future__ import annotations

import math

import numpy as np

from .. import theory
from ._common import _figure, _gamma_line, _params_text


def lp_ft_vs_finetune(*, sigma: float = 0.2, depth: int = 2, gammas=(0.2, 0.5),
                      num: int = 91):
    """Left: the gain ``R_finetune - R_lp_ft`` (= T_lp_ft - T_finetune) over gamma and theta in
    [0, pi] (square-root colour scale, so that the small gains below pi/2 show), with both
    phase boundaries theta* (LP-FT's mirrored at pi - theta*). Right: both risks against
    theta at a few gamma, with LP-FT's theta* marked."""
    G = np.linspace(0.02, 1.2, num)
    TH = np.linspace(0.0, math.pi, num)
    kw = dict(sigma=sigma, depth=depth)
    gain = (np.asarray(theory.risk("finetune", gamma=G[:, None], theta=TH[None, :], **kw))
            - np.asarray(theory.risk("lp_ft", gamma=G[:, None], theta=TH[None, :], **kw)))
    fig = _figure((11.5, 4.6))
    left, right = fig.subplots(1, 2)
    from matplotlib.colors import PowerNorm

    mesh = left.pcolormesh(TH / math.pi, G, gain, cmap="viridis", shading="auto",
                           norm=PowerNorm(0.5, vmin=0, vmax=float(np.nanmax(gain))))
    fig.colorbar(mesh, ax=left, label="R_finetune \u2212 R_lp_ft  (= T_lp_ft \u2212 T_finetune)")
    below = G[G < 1]
    star_lp = np.asarray(theory.phase_boundary("lp_ft", gamma=below, **kw))
    star_ft = np.asarray(theory.phase_boundary("finetune", gamma=below, **kw))
    left.plot(star_lp / math.pi, below, color="C1", lw=2, label="LP-FT \u03b8* (T = 0)")
    left.plot(1 - star_lp / math.pi, below, color="C1", lw=2)
    left.plot(star_ft / math.pi, below, color="white", lw=1.6, ls="--",
              label="fine-tuning \u03b8*")
    _gamma_line(left, label=False, horizontal=True)
    left.set_xlabel("\u03b8 / \u03c0")
    left.set_ylabel("\u03b3 = n/d")
    left.set_title("Gain of the probe before fine-tuning: " + _params_text(**kw), fontsize=10)
    left.legend(fontsize=8, loc="upper right", framealpha=0.9)
    for k, g in enumerate(gammas):
        color = f"C{k + 2}"
        for method, ls in (("finetune", "--"), ("lp_ft", "-")):
            R = np.asarray(theory.risk(method, gamma=g, theta=TH, **kw))
            right.plot(TH / math.pi, R, color=color, ls=ls,
                       label=f"{'LP-FT' if method == 'lp_ft' else 'fine-tuning'}, \u03b3 = {g}")
        right.axhline(float(theory.risk("scratch", gamma=g, sigma=sigma)), color=color, lw=0.8,
                      ls=":")
        star = float(theory.phase_boundary("lp_ft", gamma=g, **kw))
        right.plot([star / math.pi, 1 - star / math.pi],
                   [float(theory.risk("lp_ft", gamma=g, theta=star, **kw))] * 2, "o",
                   color=color, ms=5)
    right.set_xlabel("\u03b8 / \u03c0")
    right.set_ylabel("R (theory)")
    right.set_title("Risk against \u03b8 (dotted: scratch; dots: LP-FT's \u03b8*)", fontsize=10)
    right.legend(fontsize=8, loc="upper left", framealpha=0.9)
    return fig
