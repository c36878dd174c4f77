"""Input covariance spectra: phase diagrams beside the isotropic one, and the fine-tuning
boundary's dependence on the noise under anisotropy (theory, symtransfer.anisotropic)."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from .. import anisotropic as A
from ..spectra import Discrete, Spectrum
from ._common import DIVERGING, HALF_PI, METHOD_NAMES, _figure, _gamma_line, transfer_method


def _T(method: str, spec: Spectrum, G: np.ndarray, TH: np.ndarray, sigma: float,
       depth: int) -> np.ndarray:
    return np.asarray(A.transferability(method, spec, gamma=G[:, None], theta=TH[None, :],
                                        sigma=sigma, depth=depth), dtype=float)


def spectrum_phase_diagrams(method: str = "finetune", spectra: Mapping[str, Spectrum] | None = None,
                            *, sigma: float = 0.2, depth: int = 2, clip: float = 1.0):
    """One phase diagram T(theta, gamma) per spectrum (first: the isotropic one), on a
    common colour scale centred at T = 0; every panel also shows the isotropic T = 0 line
    (dashed) so that the boundary's shift is visible.

    spectra : {label: Spectrum}; default a two-level spectrum (0.4 and 1.6, half each) and a
        power law (exponent 1, 100 atoms), both with mean eigenvalue 1.
    """
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.lines import Line2D

    from ..spectra import PowerLaw

    declared = transfer_method(method, "a spectrum phase diagram")
    if spectra is None:
        spectra = {"two levels (0.4, 1.6)": Discrete([0.4, 1.6]),
                   "power law k^-1, 100 atoms": PowerLaw(1.0, atoms=100)}
    panels = {"isotropic (\u03a3 = I)": Discrete([1.0]), **spectra}
    G = np.linspace(0.02, 1.98, 150)
    TH = np.linspace(0.0, HALF_PI, 91)
    X = TH / HALF_PI
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-clip, vmax=clip)
    fig = _figure((4.6 * len(panels) + 1.2, 4.8))
    axes = fig.subplots(1, len(panels), sharey=True)
    iso = None
    mesh = None
    for ax, (label, spec) in zip(axes, panels.items()):
        T = _T(method, spec, G, TH, sigma, depth)
        if iso is None:
            iso = T
        shade = np.clip(np.nan_to_num(T, nan=0.0, posinf=clip, neginf=-clip), -clip, clip)
        mesh = ax.pcolormesh(X, G, shade, cmap=DIVERGING, norm=norm, shading="auto",
                             rasterized=True)
        for values, style in ((T, "-"), (iso, "--")):
            contour = np.where(np.isfinite(values), values, np.sign(values) * 1e6)
            if declared.pinned_above_one:
                contour = np.where(G[:, None] < 1, contour, np.nan)
            if np.nanmin(contour) < 0 < np.nanmax(contour):
                ax.contour(X, G, contour, levels=[0.0], colors="k", linewidths=2.0 if
                           style == "-" else 1.3, linestyles=style)
        _gamma_line(ax, label=False, horizontal=True)
        ax.set_title(f"{label}\nmean eigenvalue {spec.mean:.3g}", fontsize=10)
        ax.set_xlabel("\u03b8 / (\u03c0/2)")
    axes[0].set_ylabel("\u03b3 = n/d")
    handles = [Line2D([], [], color="k", lw=2.0, label="T = 0 with this spectrum"),
               Line2D([], [], color="k", lw=1.3, ls="--", label="T = 0, isotropic")]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=9, frameon=False)
    cb = fig.colorbar(mesh, ax=list(axes), extend="both", shrink=0.95, pad=0.01)
    cb.set_label("T = R_scratch \u2212 R_transfer   (> 0: transfer helps)")
    fig.suptitle(f"Transferability of {METHOD_NAMES[method]} with input covariance "
                 f"(\u03c3 = {sigma:g}, L = {depth}, generic teachers, population pretraining)")
    return fig


def finetune_boundary_vs_noise(*, spreads=(0.0, 0.5, 0.8, 0.95), gamma: float = 0.5,
                               depth: int = 2, sigma_max: float = 1.5):
    """theta* of fine-tuning (T = 0) against sigma for two-level spectra 1 -+ s (half each,
    mean 1), at fixed gamma: the boundary is cos(theta*) = c/2, and the spectrum enters c
    only through |X^+ eps|^2 -> sigma^2/kappa; at sigma = 0 every spectrum gives pi/3."""
    S = np.linspace(0.0, sigma_max, 200)
    fig = _figure((7.0, 4.8))
    ax = fig.subplots()
    for i, s in enumerate(spreads):
        spec = Discrete([1.0]) if s == 0 else Discrete([1 - s, 1 + s])
        c = A.finetune_scale(spec, gamma=gamma, sigma=S, depth=depth)
        with np.errstate(invalid="ignore"):
            th = np.arccos(np.clip(c / 2, -1, 1))
        label = "isotropic" if s == 0 else f"eigenvalues 1 \u2213 {s:g}"
        ax.plot(S, th / HALF_PI, color=f"C{i}", lw=2, label=label)
    ax.axhline(2 / 3, color="0.4", ls="--", lw=1.2, label="paper: \u03b8* = \u03c0/3")
    ax.set_xlabel("\u03c3 (target noise)")
    ax.set_ylabel("\u03b8* / (\u03c0/2)   (fine-tuning helps below)")
    ax.set_title(f"Fine-tuning boundary against noise, \u03b3 = {gamma:g}, L = {depth}",
                 fontsize=10)
    ax.legend(fontsize=9)
    return fig
