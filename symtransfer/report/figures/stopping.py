"""Report figure: early stopping (mean-field theory only, ~1.5 s CPU)."""
from __future__ import annotations

from pathlib import Path

from ..config import Config, _Log
from . import _save

#: drawn from the theory alone (no Monte-Carlo data): the report draws it while the
#: simulations run
USES_MONTE_CARLO = False


def draw(cfg: Config, sweeps: dict, forms: dict, figures: Path, log: _Log) -> list:
    """Risk against stopping time and the oracle-stopped risk against the noise."""
    from ... import plots

    fig = plots.early_stopping_theory_curves()
    _save(fig, figures, "early_stopping", cfg.formats)
    log("figure early_stopping")
    return [("early_stopping", "Early stopping: the risk along gradient flow (mean-field theory)",
             "Mean-field theory (d \u2192 \u221e) of gradient flow on the balanced rank-1 "
             "family, \u03b3 = 0.5, \u03b8 = \u03c0/4, depth 2 (symtransfer.dynamics, derived "
             "in derivations/early_stopping.py). Left, at \u03c3 = 0.5: the risk of scratch "
             "training (balanced rank-1 initialization of scale 10\u207b\u2075) and of "
             "fine-tuning against the stopping time; dashed: the converged risks (the shipped "
             "asymptotic risks); stars: the oracle stop (the smallest test risk over time, "
             "an optimistic bound); diamonds: the limit of stopping on a held-out quarter of "
             "the n samples (the oracle of the run on the other three quarters). Right: the "
             "converged (dashed) and oracle-stopped (solid) risks against the label noise: "
             "without noise stopping early buys nothing, with noise it buys more the larger "
             "the noise. Simulations agree within 4 sem + O(1/d) at d = 100-200 "
             "(tests/test_early_stopping.py; docs/early_stopping.png).")]
