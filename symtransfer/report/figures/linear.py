"""Report figure: ridge transfer."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import Config, _Log
from . import _save

#: drawn from the report's Monte-Carlo data (after the simulations)
USES_MONTE_CARLO = True


def draw(cfg: Config, sweeps: dict, forms: dict, figures: Path, log: _Log) -> list:
    """Ridge transfer against its penalty."""
    from ... import plots

    s = cfg.sigma
    made = []
    fig = plots.ridge_curve(lam=np.linspace(0, max(cfg.ridge_lams), 200),
                            thetas=cfg.slice_thetas, gamma=cfg.ridge_gamma, sigma=s,
                            mc=sweeps["ridge"])
    _save(fig, figures, "ridge", cfg.formats)
    n = int(round(cfg.ridge_gamma * cfg.ridge_d))
    made.append(("ridge", "Ridge transfer",
                 "Risk of ridge transfer (readout refit with penalty n\u03bb|W_L|\u00b2 on the "
                 "frozen pretrained features) against \u03bb at three angles: the asymptotic "
                 "risk 1 \u2212 cos\u00b2\u03b8 (1+2\u03bb)/(1+\u03bb)\u00b2 increases with "
                 "\u03bb and does not depend on \u03b3 or \u03c3. Monte-Carlo at "
                 f"d = {cfg.ridge_d}, n = {n}, {cfg.ridge_instances} instances; it sits O(1/n) "
                 "above the asymptotic line (estimation noise of the single readout weight); "
                 "open diamonds: the exact finite-d expectation of ridgeless transfer. Error "
                 "bars (\u00b11 sem) are mostly smaller than the markers."))
    log("figure ridge")
    return made
