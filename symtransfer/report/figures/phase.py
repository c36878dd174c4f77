"""Report figures: phase diagrams over (theta, gamma) and slices against gamma."""
from __future__ import annotations

from pathlib import Path

from ... import methods
from ..config import Config, _Log
from . import _save

_SLICE_ABOVE = {
    "linear": "Above \u03b3 = 1 scratch reaches least squares, whose risk \u03c3\u00b2/(\u03b3"
              " \u2212 1) falls below linear transfer's sin\u00b2\u03b8 (which does not "
              "improve with data): T < 0 there except at small \u03b8 just above the "
              "double-descent peak.",
    "finetune": "Above \u03b3 = 1 fine-tuning and scratch reach the same least-squares "
                "solution, so T = 0 and T_MC is 0 to the training tolerance.",
}


#: drawn from the report's Monte-Carlo data (after the simulations)
USES_MONTE_CARLO = True


def draw(cfg: Config, sweeps: dict, forms: dict, figures: Path, log: _Log) -> list:
    """Phase diagrams and slices of linear transfer and fine-tuning."""
    from ... import plots

    s = cfg.sigma
    made = []
    scratch = sweeps["scratch"]
    d, K = cfg.d, cfg.instances
    for method in ("linear", "finetune"):
        fig = plots.phase_diagram(method, sigma=s, mc=(scratch, sweeps[method]))
        _save(fig, figures, f"phase_{method}", cfg.formats)
        what = {"linear": "linear transfer (readout refit on the frozen pretrained features, "
                          "\u03bb = 0)",
                "finetune": "fine-tuning (all layers, from the pretrained weights)"}[method]
        extra = {"linear": " At \u03b3 = 1 the scratch risk diverges (double descent), so T "
                           "\u2192 +\u221e: the colour scale is clipped there (arrow on the "
                           "colour bar). Transfer helps at small angles and, thanks to the "
                           "scratch peak, in a band around \u03b3 = 1 at every angle.",
                 "finetune": " Above \u03b3 = 1 fine-tuning and scratch both reach least "
                             "squares: T = 0. With noise the exact boundary (black) lies left "
                             "of the paper's \u03b8* = \u03c0/3 (dashed) and falls to 0 as "
                             "\u03b3 \u2192 1: just below the interpolation threshold the "
                             "rescaled null-space part makes fine-tuning worse than scratch at "
                             "every angle."}[method]
        made.append((f"phase_{method}", "Phase diagram: " + methods.get(method).label,
                     f"Transferability T = R_scratch \u2212 R_transfer of {what}, \u03c3 = {s}, "
                     f"L = 2, population pretraining. Left: theory over (\u03b8, \u03b3), blue "
                     "where transfer helps, red where it hurts (colours centred at T = 0), "
                     "black line T = 0. Right: Monte-Carlo gradient flow on a "
                     f"{len(cfg.phase_gammas)} \u00d7 {len(cfg.phase_thetas)} grid (d = {d}, "
                     f"{K} instances; the scratch runs of each \u03b3 serve every \u03b8), "
                     "the theory's T = 0 line over it; dots: |T_MC| < 2 sem + 0.001 (sign not "
                     "resolved; sem of the per-instance differences, scratch and transfer "
                     "sharing the target data), crosses: resolved sign opposite to the "
                     "theory, hatched: no MC value (not run or not converged)." + extra))
        log(f"figure phase_{method}")
    for method in ("linear", "finetune"):
        fig = plots.transfer_slices(method, thetas=cfg.slice_thetas, sigma=s,
                                    mc=(scratch, sweeps[method]))
        _save(fig, figures, f"slices_{method}", cfg.formats)
        label = methods.get(method).label
        made.append((f"slices_{method}", "Transferability against \u03b3: " + label,
                     f"T against \u03b3 at \u03b8 = \u03c0/8, \u03c0/4, 3\u03c0/8 for "
                     f"{label} (\u03c3 = {s}, L = 2): theory lines"
                     + (" (exact form solid, paper form dashed)"
                        if "paper" in methods.get(method).forms else "")
                     + f", Monte-Carlo means \u00b1 1 sem (d = {d}, {K} instances). Scratch "
                     "and transfer runs share the target data instance by instance (same "
                     "seed), so the sem is that of the per-instance differences. "
                     + _SLICE_ABOVE[method]))
        log(f"figure slices_{method}")
    return made
