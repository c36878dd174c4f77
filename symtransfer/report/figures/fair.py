"""Report figures: every method against the fair baseline, and the best method (theory only)."""
from __future__ import annotations

from pathlib import Path

from ..config import Config, _Log
from . import _save

#: drawn from the theory alone (no Monte-Carlo data): the report draws it while the
#: simulations run
USES_MONTE_CARLO = False


def draw(cfg: Config, sweeps: dict, forms: dict, figures: Path, log: _Log) -> list:
    """T_fair of every registered pretrained method and the best-method maps (< 2 s CPU)."""
    from ... import plots

    s = cfg.sigma
    made = []
    fig = plots.fair_phase_diagrams(sigma=s)
    _save(fig, figures, "fair_baselines", cfg.formats)
    made.append((
        "fair_baselines", "Every method against the fair baseline",
        f"T_fair = R(tuned scratch) \u2212 R(tuned method) over (\u03b8, \u03b3) at \u03c3 = {s:g}, "
        "depth 2, population pretraining, theory only: scratch is ridge at \u03bb* = "
        "\u03c3\u00b2/\u03b3; L2-SP (ridge toward the pretrained vector) runs at its own "
        "\u03bb* = \u03c3\u00b2/(\u03b3|\u03b2_t \u2212 \u03b2\u0302_s|\u00b2); a method without a "
        "hyperparameter of its own (linear transfer, whose best ridge penalty is 0, "
        "fine-tuning and LP-FT) enters as it is. Black: T_fair = 0; dashed: \u03b8 = \u03c0/3. What "
        "survives the fair comparison: tuned L2-SP transfers exactly for \u03b8 < \u03c0/3 at "
        "every \u03b3, below and above the threshold (derived: R* increases with "
        "|\u03b2_t \u2212 \u03b2\u0302_s|\u00b2 = 2 \u2212 2cos\u03b8, and |\u2026|\u00b2 = 1 is scratch), "
        "so the paper's \u03c0/3 boundary survives; the positive transfer of untuned methods "
        "near \u03b3 = 1 does not (fine-tuning's and linear transfer's bands at \u03b3 \u2248 1 "
        "turn red against tuned scratch)."))
    fig = plots.best_method_maps(sigma=s)
    _save(fig, figures, "best_method", cfg.formats)
    made.append((
        "best_method", "The best method at each (\u03b8, \u03b3)",
        f"Which method has the largest T at each (\u03b8, \u03b3), \u03c3 = {s:g}, depth 2 "
        "(theory). Left: each method as given against ridgeless scratch (the paper's "
        "comparison; L2-SP is left out there, its untuned learner at \u03bb = 0 being the "
        "paper's fine-tuning form); grey: scratch, every T < 0. Right: tuned against tuned "
        "(fair); grey: tuned scratch. Left: linear transfer wins at small \u03b8 and in a band "
        "at \u03b3 \u2248 1 (the ridgeless baseline's double-descent peak), LP-FT below "
        "\u03b3 = 1 at intermediate \u03b8 (with a population source it is never worse than "
        "fine-tuning, which therefore never appears), scratch elsewhere. Right: tuned L2-SP "
        "is the best method for \u03b8 < \u03c0/3 at every \u03b3 except at few samples "
        "(\u03b3 below about 0.7), where LP-FT wins, there also beyond \u03c0/3; the band at "
        "\u03b3 \u2248 1 disappears, and above \u03c0/3 tuned scratch wins almost everywhere."))
    log("figure fair_baselines, best_method")
    return made
