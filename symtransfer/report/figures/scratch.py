"""Report figure: double descent of scratch training."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import Config, _Log
from . import _save

#: drawn from the report's Monte-Carlo data (after the simulations)
USES_MONTE_CARLO = True


def draw(cfg: Config, sweeps: dict, forms: dict, figures: Path, log: _Log) -> list:
    """Double descent of scratch training."""
    from ... import plots

    s = cfg.sigma
    made = []
    scratch = sweeps["scratch"]
    d, K = cfg.d, cfg.instances
    fig = plots.double_descent(gamma=np.linspace(0.05, max(cfg.dd_gammas), 600), sigma=s,
                               mc=scratch)
    _save(fig, figures, "double_descent", cfg.formats)
    made.append(("double_descent", "Double descent of scratch training",
                 f"Scratch risk against \u03b3 (\u03c3 = {s}, log scale): the asymptotic "
                 "curve diverges at \u03b3 = 1; dashed: the exact expectation at "
                 f"d = {d} (defined on whole n = \u03b3d, infinite at |n \u2212 d| \u2264 1); "
                 f"points: Monte-Carlo gradient flow from small initialization ({K} "
                 "instances), which reaches the min-norm interpolator (\u03b3 < 1) or least "
                 "squares (\u03b3 > 1)."))
    log("figure double_descent")
    return made
