"""Report figures: input covariance spectra (theory)."""
from __future__ import annotations

from pathlib import Path

from ... import methods
from ..config import Config, _Log
from . import _save

#: drawn from the theory alone (no Monte-Carlo data): the report draws it while the
#: simulations run
USES_MONTE_CARLO = False


def draw(cfg: Config, sweeps: dict, forms: dict, figures: Path, log: _Log) -> list:
    """Phase diagrams with anisotropic inputs beside the isotropic one; the fine-tuning
    boundary against the noise; data scaling laws with aligned teachers."""
    from ...plots.spectra import finetune_boundary_vs_noise, spectrum_phase_diagrams

    made = []
    for method, sigma in (("linear", cfg.sigma), ("finetune", 0.5)):
        fig = spectrum_phase_diagrams(method, sigma=sigma)
        _save(fig, figures, f"spectra_{method}", cfg.formats)
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
    _save(fig, figures, "spectra_boundary", cfg.formats)
    made.append(("spectra_boundary", "Input covariance: the fine-tuning boundary and noise",
                 "The fine-tuning phase boundary \u03b8* (T = 0; fine-tuning helps below) "
                 "against the target noise \u03c3 at \u03b3 = 0.5, L = 2, for two-level "
                 "spectra 1 \u2213 s (half the directions each, mean 1; theory). All start at "
                 "the paper's \u03c0/3 at \u03c3 = 0 (dashed line) and fall with \u03c3, faster "
                 "the wider the spectrum: the min-norm interpolator's noise |X\u207a\u03b5|\u00b2 "
                 "= \u03c3\u00b2/\u03ba grows as \u03ba shrinks with the spread, which "
                 "raises the null-space scale c."))
    log("figure spectra_boundary")
    made += _scaling(cfg, figures, log)
    made += _spread(cfg, figures, log)
    made += _covariate_shift(cfg, figures, log)
    return made


def _scaling(cfg: Config, figures: Path, log: _Log) -> list:
    """The scaling-law figure (theory only: 0.4 s to compute, about 1.5 s to save as PNG and
    PDF)."""
    from ...plots.spectra import SCALING, scaling_law

    made = []
    fig, exps = scaling_law()
    _save(fig, figures, "spectra_scaling", cfg.formats)
    a, (lo, hi) = SCALING["alpha"], SCALING["window"]
    fitted = "; ".join(f"p = {p:g}: scratch {br:.2f}, T {bt:.2f} (predicted "
                       f"{-(a * (1 + p) - 1):.2f})" for p, (br, bt) in exps.items())
    made.append(("spectra_scaling", "Input covariance: data scaling laws of transfer",
                 f"Scratch risk (solid) and fine-tuning risk (dashed, left) and fine-tuning "
                 f"transferability T (right) against γ = n/d on log-log axes, for a "
                 f"power-law spectrum λ_k ∝ k^−{a:g} ({SCALING['atoms']} atoms, "
                 f"mean 1) and aligned teachers with energy ∝ λ^p (theory, population "
                 f"source, σ = 0, θ = π/4; risks in the Σ-norm, not divided by the target's variance "
                 f"E[ρλ], which grows with p). Fitted exponents on the shaded "
                 f"window {lo:g} ≤ γ ≤ {hi:g}: {fitted}; the prediction is "
                 f"the classical bias exponent −(α(1+p) − 1). Without noise "
                 f"fine-tuning's T = B1 (2 cos θ − 1) is a fixed fraction of the "
                 f"scratch bias, so transferability decays with n at the data scaling law's "
                 f"own exponent: the smoother the teacher (larger p), the faster the benefit "
                 f"of transfer vanishes."))
    log("figure spectra_scaling")
    return made


def _covariate_shift(cfg: Config, figures: Path, log: _Log) -> list:
    """Covariate shift Sigma_s = c Sigma (theory only: 0.4 s to compute, ~1 s to save)."""
    from ...plots.spectra import covariate_shift

    fig, nums = covariate_shift()
    _save(fig, figures, "spectra_covariate_shift", cfg.formats)
    log("figure spectra_covariate_shift")
    return [("spectra_covariate_shift", "Input covariance: covariate shift moves distances, "
             "not transfer (unless the source is finite and noisy)",
             "Source inputs with covariance c\u03a3 against target inputs with \u03a3 (two-level "
             "spectrum 0.3/4.8 with weights 0.75/0.25; same teacher and noise; theory). Left: "
             "the KL divergence between the source and target tasks grows without bound as c "
             "moves away from 1 in either direction. Right: fine-tuning's transferability T. "
             f"With population pretraining it is flat at T = {nums['T_population']:.3f} for "
             "every c (gradient flow reaches \u03b2_s whatever the source covariance); with a "
             "finite noiseless source (\u03b3_s = 0.7) it is flat too (the projection weights "
             "\u03bb/(\u03bb + \u03ba_s) do not depend on the scale); with source noise "
             "(\u03c3_s = 0.5) the pretrained vector's noise scales as \u03c3_s\u00b2/c, so "
             f"T falls as c shrinks and changes sign at c = {nums['c_zero']:.2f}: "
             "a dataset distance does not predict transfer.")]


def _spread(cfg: Config, figures: Path, log: _Log) -> list:
    """Risk and transferability against a two-level spectrum's spread (theory, ~0.4 s)."""
    import numpy as np

    from ...plots.spectra import spread_curves

    fig, rows = spread_curves()
    _save(fig, figures, "spectra_spread", cfg.formats)
    log("figure spectra_spread")
    S, lin, ft, R = rows["spread"], rows["linear T"], rows["fine-tuning T"], rows["scratch R"]
    cross = np.flatnonzero(np.diff(np.sign(lin)) != 0)
    if cross.size:  # the zero by linear interpolation between the grid points around it
        i = cross[0]
        zero = S[i] - lin[i] * (S[i + 1] - S[i]) / (lin[i + 1] - lin[i])
        where = f"changes sign at s \u2248 {zero:.2f}"
    else:
        where = "keeps its sign"
    return [("spectra_spread", "Input covariance: risk and transferability against the spread",
             "Two-level spectra with eigenvalues 1 \u2212 s and 1 + s (half the directions "
             "each, so the target's variance stays 1), \u03b3 = 0.5, \u03b8 = \u03c0/4, "
             "\u03c3 = 0.2, generic teachers, population source (theory; risks in the "
             f"\u03a3-norm; s = 0 is the isotropic case). Scratch's risk falls from {R[0]:.3f} "
             f"to {R[-1]:.3f} at s = {S[-1]:.2f}: the interpolator fits the large-eigenvalue "
             "directions, which carry most of the \u03a3-norm, first. Transfer gains less "
             f"from it: linear transfer's T falls from {lin[0]:.3f} and {where}; "
             f"fine-tuning's T falls from {ft[0]:.3f} to {ft[-1]:.3f} and stays positive.")]
