"""Report figure: LP-FT (linear probe, then fine-tuning) against fine-tuning, theory only."""
from __future__ import annotations

from pathlib import Path

from ..config import Config, _Log
from . import _save

#: drawn from the theory alone (no Monte-Carlo data): the report draws it while the
#: simulations run
USES_MONTE_CARLO = False


def draw(cfg: Config, sweeps: dict, forms: dict, figures: Path, log: _Log) -> list:
    """The probe's gain over fine-tuning on the (gamma, theta) plane and two risk curves."""
    from ... import plots

    s = cfg.sigma
    fig = plots.lp_ft_vs_finetune(sigma=s)
    _save(fig, figures, "lp_ft", cfg.formats)
    log("figure lp_ft")
    return [("lp_ft", "LP-FT: a linear probe before fine-tuning",
             "Theory (population source, depth 2, \u03c3 = %g). LP-FT refits the readout on "
             "the frozen pretrained features, then fine-tunes every layer; the probe sets "
             "the readout to the target's coefficient (r = cos\u00b2\u03b8 of the pretrained "
             "one), which unbalances the last layer, and the conservation laws then scale the "
             "pretrained null-space part by a smaller c. Left: the gain R_finetune \u2212 "
             "R_lp_ft (square-root colour scale; 0 at \u03b8 = 0, where the probe keeps the "
             "coefficient, and for \u03b3 \u2265 1, where both are least squares), with "
             "LP-FT's phase boundary \u03b8* (orange, and \u03c0 \u2212 \u03b8*: LP-FT's risk "
             "is even in cos\u03b8, the probe flips an anti-aligned readout) and fine-tuning's "
             "(white dashed). Right: both risks against \u03b8 at \u03b3 = 0.2 and 0.5 "
             "(dashed: fine-tuning, solid: LP-FT, dotted: scratch, dots: LP-FT's \u03b8*). "
             "Monte-Carlo (tests/test_lp_ft.py, d = 200, 16 paired runs) at \u03b3 = 0.2, "
             "\u03b8 = \u03c0/2, \u03c3 = 0.2: R_finetune \u2212 R_lp_ft = 0.475 \u00b1 "
             "0.025 (paired sem) against 0.511 in theory." % s)]
