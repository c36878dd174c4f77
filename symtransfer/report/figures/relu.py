"""Report figures: two-layer ReLU networks beside the linear theory."""
from __future__ import annotations

from pathlib import Path

from ..config import Config, _Log
from . import _save

_RELU_NOTE = {
    "linear": "Linear transfer refits only the readout on the frozen ReLU features (ridge "
              "1e-3 relative to the largest feature eigenvalue), so it can fit only the part "
              "of the target inside the feature span: compare where the black T = 0 line "
              "falls on the \u03c1 axis in the two panels.",
    "finetune": "Fine-tuning trains all layers from the pretrained weights: in both panels "
                "T > 0 at small residual and T < 0 at large residual below \u03b3 = 1; "
                "compare the position of the T = 0 line in the two panels.",
}


#: drawn from the report's Monte-Carlo data (after the simulations)
USES_MONTE_CARLO = True


def draw(cfg: Config, sweeps: dict, forms: dict, figures: Path, log: _Log) -> list:
    """Two-layer ReLU networks beside the linear theory."""
    from ...plots import METHOD_NAMES
    from ...relu.plots import relu_phase_diagram

    made = []
    relu = sweeps["relu"]
    rs = relu.settings
    for method in ("linear", "finetune"):
        fig = relu_phase_diagram(relu, method)
        _save(fig, figures, f"relu_{method}", cfg.formats)
        made.append((f"relu_{method}", "Two-layer ReLU networks: " + METHOD_NAMES[method],
                     f"Transferability of {METHOD_NAMES[method]} for two-layer ReLU "
                     f"student-teacher networks (paper Sec. 4; d = {rs['d']}, teacher width "
                     f"{rs['teacher_width']}, student width {rs['width']}, "
                     f"{rs['instances']} instances, pretraining on the exact population "
                     "loss from small initialization). The target's hidden features are the "
                     "source's rotated by \u03b8 (column labels on top: \u03b8/(\u03c0/2)); "
                     "the x axis is the measured feature residual \u03c1, the fraction of the "
                     "target function outside the span of the pretrained hidden activations "
                     "(by regression on them), which is sin\u00b2\u03b8 in the linear model. "
                     "Left: the linear theory's T over (\u03c1 = sin\u00b2\u03b8, \u03b3); "
                     "right: the ReLU Monte-Carlo T (paired differences on the same target "
                     "data; dots: sign not resolved). " + _RELU_NOTE[method]))
        log(f"figure relu_{method}")
    return made
