"""Report figures: input covariance spectra (theory)."""
from __future__ import annotations

from pathlib import Path

from ... import methods
from ..config import Config, _Log
from . import _save


def draw(cfg: Config, sweeps: dict, forms: dict, figures: Path, log: _Log) -> list:
    """Phase diagrams with anisotropic inputs beside the isotropic one; the fine-tuning
    boundary against the noise."""
    from ...plots.spectra import finetune_boundary_vs_noise, spectrum_phase_diagrams

    made = []
    for method, sigma in (("linear", cfg.sigma), ("finetune", 0.5)):
        fig = spectrum_phase_diagrams(method, sigma=sigma)
        _save(fig, figures, f"spectra_{method}")
        what = methods.get(method).label
        made.append((f"spectra_{method}", f"Input covariance: {what}",
                     f"Transferability of {what} with x ~ N(0, \u03a3) (theory; \u03c3 = "
                     f"{sigma}, L = 2, generic teachers, population pretraining) for the "
                     "isotropic \u03a3 = I, a two-level spectrum (eigenvalues 0.4 and 1.6 on "
                     "half the directions each) and a power law (\u03bb_k \u221d 1/k, 100 "
                     "atoms), all with mean eigenvalue 1 so the target's variance is the same. "
                     "Solid: T = 0 with the panel's spectrum; dashed: the isotropic T = 0. "
                     "The spread of the spectrum lowers the scratch bias (the large "
                     "eigendirections are learned first), so transfer helps on a smaller "
                     "region: the boundary moves to smaller angles, most for the power law."
                     + (" Fine-tuning's boundary is cos \u03b8* = c/2: the spectrum enters "
                        "only through the null-space scale c, so at \u03c3 = 0 it is "
                        "\u03c0/3 for every spectrum." if method == "finetune" else "")))
        log(f"figure spectra_{method}")
    fig = finetune_boundary_vs_noise()
    _save(fig, figures, "spectra_boundary")
    made.append(("spectra_boundary", "Input covariance: the fine-tuning boundary and noise",
                 "The fine-tuning phase boundary \u03b8* (T = 0; fine-tuning helps below) "
                 "against the target noise \u03c3 at \u03b3 = 0.5, L = 2, for two-level "
                 "spectra 1 \u2213 s (half the directions each, mean 1; theory). All start at "
                 "the paper's \u03c0/3 at \u03c3 = 0 (dashed line) and fall with \u03c3, faster "
                 "the wider the spectrum: the min-norm interpolator's noise |X\u207a\u03b5|\u00b2 "
                 "= \u03c3\u00b2/\u03ba grows as \u03ba shrinks with the spread, which "
                 "raises the null-space scale c."))
    log("figure spectra_boundary")
    return made
