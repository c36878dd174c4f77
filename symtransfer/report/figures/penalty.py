"""Report figure: penalized pretraining (rich to lazy)."""
from __future__ import annotations

from pathlib import Path

from ..config import Config, _Log
from . import _save

#: drawn from the report's Monte-Carlo data (after the simulations)
USES_MONTE_CARLO = True


def draw(cfg: Config, sweeps: dict, forms: dict, figures: Path, log: _Log) -> list:
    """Pretraining with a penalty toward the initialization."""
    from ... import plots

    s = cfg.sigma
    made = []
    scratch = sweeps["scratch"]
    d, K = cfg.d, cfg.instances
    fig = plots.penalty_transfer(gamma=cfg.penalty_gamma, sigma=s,
                                 thetas=cfg.penalty_thetas, mc=(scratch, sweeps["penalty"]))
    _save(fig, figures, "penalty", cfg.formats)
    made.append(("penalty", "Pretraining with a penalty toward the initialization (rich to lazy)",
                 "Pretraining minimizes E(f \u2212 y)\u00b2 + \u03bc|w \u2212 w\u2080|\u00b2; "
                 "from the vanishing initialization the penalty is weight decay, the "
                 "pretrained vector shrinks to (1 \u2212 \u03bc)\u03b2_s (depth 2), and "
                 "\u03bc \u2265 1 learns nothing (the lazy end: fine-tuning is scratch "
                 f"training, T = 0). Left: the fine-tuning risk against \u03bc at "
                 f"\u03b3 = {cfg.penalty_gamma}, \u03c3 = {s}; exact form solid, paper's "
                 "form dashed, stars at the best \u03bc* (exact form); the grey line is the "
                 "scratch risk (T > 0 below it) and the grey band the scratch runs' mean "
                 "\u00b1 sem. Risks rather than T are shown: every T_MC of one curve shares "
                 "the same scratch runs, whose own error would shift all its points together. "
                 f"Points: fine-tuning runs, mean \u00b1 sem (d = {d}, {K} runs; penalized "
                 "pretraining by Heun gradient flow to "
                 "stationarity, then fine-tuning). Right: T without penalty (dashed) and at "
                 "\u03bc* (solid) against \u03b8: the best penalty gives T* = "
                 "(1 \u2212 \u03b3) cos\u00b2\u03b8 \u2265 0 for \u03b8 \u2264 \u03c0/2 "
                 "and T* = 0 beyond (learn nothing): it removes negative transfer. Runs at "
                 "depth 3 stay at the origin for every \u03bc > 0 (a local minimum there), "
                 "so this theory is for depth 2."))
    log("figure penalty")
    return made
