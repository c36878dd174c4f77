"""Input covariance spectra: phase diagrams beside the isotropic one, and the fine-tuning
boundary's dependence on the noise under anisotropy (theory, symtransfer.anisotropic)."""
from __future__ import annotations

import math
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


def fitted_exponent(x: np.ndarray, y: np.ndarray, window: tuple[float, float]) -> float:
    """Least-squares slope of log y against log x over ``window`` of x: the exponent b of
    y ~ x^b there."""
    m = (x >= window[0]) & (x <= window[1]) & (y > 0)
    return float(np.polyfit(np.log(x[m]), np.log(y[m]), 1)[0])


#: the scaling-law figure's settings: power law k^-alpha with many atoms (the power-law range
#: of gamma is 1/atoms << gamma << 1), the fit window and the aligned powers p
SCALING = {"alpha": 1.5, "atoms": 4000, "powers": (0.0, 0.5, 1.0), "theta": math.pi / 4,
           "window": (3e-3, 3e-2), "gamma": (1e-3, 0.5)}


def scaling_law(*, alpha: float = SCALING["alpha"], atoms: int = SCALING["atoms"],
                powers=SCALING["powers"], theta: float = SCALING["theta"],
                window=SCALING["window"]):
    """Data scaling laws with aligned power-law teachers (theory, population source, sigma = 0):
    scratch risk and fine-tuning transferability T against gamma = n/d on log-log axes, for a
    power-law spectrum ``k^-alpha`` and teachers with energy ``~ lambda^p``. Returns the
    figure and the fitted exponents ``{p: (b_scratch, b_T)}`` over ``window`` (the classical
    prediction for the bias is ``-(alpha (1 + p) - 1)``)."""
    from ..spectra import PowerLaw
    from ..teachers import Aligned

    spec = PowerLaw(alpha, atoms=atoms)
    G = np.logspace(math.log10(SCALING["gamma"][0]), math.log10(SCALING["gamma"][1]), 60)
    fig = _figure((11.0, 4.6))
    ax_r, ax_t = fig.subplots(1, 2, sharex=True)
    exponents = {}
    for i, p in enumerate(powers):
        teacher = Aligned(p)
        R = np.asarray(A.scratch(spec, gamma=G, teacher=teacher), dtype=float)
        Rf = np.asarray(A.finetune(spec, gamma=G, theta=theta, teacher=teacher), dtype=float)
        T = R - Rf
        b_r, b_t = fitted_exponent(G, R, window), fitted_exponent(G, T, window)
        exponents[p] = (b_r, b_t)
        ax_r.loglog(G, R, color=f"C{i}", lw=2, label=f"p = {p:g}: scratch, slope {b_r:.2f}")
        ax_r.loglog(G, Rf, color=f"C{i}", lw=1.4, ls="--",
                    label=f"p = {p:g}: fine-tuning")
        ax_t.loglog(G, T, color=f"C{i}", lw=2,
                    label=f"p = {p:g}: slope {b_t:.2f} (predicted {-(alpha * (1 + p) - 1):.2f})")
    for ax in (ax_r, ax_t):
        ax.axvspan(*window, color="0.9", zorder=0)
        ax.set_xlabel("\u03b3 = n/d")
        ax.legend(fontsize=8)
    ax_r.set_ylabel("risk R (\u03a3-norm)")
    ax_t.set_ylabel("fine-tuning transferability T = R_scratch \u2212 R_ft")
    fig.suptitle(f"Scaling with n: power-law spectrum k^\u2212{alpha:g} ({atoms} atoms), "
                 f"aligned teachers (energy \u221d \u03bb^p), \u03b8 = {theta / HALF_PI:.2g}"
                 f"\u00b7\u03c0/2, \u03c3 = 0", fontsize=10)
    return fig, exponents


def covariate_shift(*, scales=None, gamma: float = 0.5, theta: float = 0.5,
                    sigma: float = 0.2, gamma_s: float = 0.7, sigma_s: float = 0.5,
                    spectrum: Spectrum | None = None, d: int = 100):
    """Covariate shift Sigma_s = c Sigma (theory): the KL divergence between the source and
    target tasks (same teacher and noise, d directions) grows with c in both directions,
    while fine-tuning's transferability from a population source does not move; from a
    finite noisy source (n_s = gamma_s d, noise sigma_s) it does, through the noise of the
    pretrained vector (~ sigma_s^2/c); without source noise it does not (the projection
    weights l/(l + kappa_s) are scale free). Returns the figure and its numbers
    (``c_zero``: where the noisy finite source's T changes sign)."""
    from .. import covariate

    spec = spectrum if spectrum is not None else Discrete([0.3, 4.8], [0.75, 0.25])
    C = np.logspace(-2, 2, 41) if scales is None else np.asarray(scales, dtype=float)
    lam = spec.diagonal(d)
    beta = np.full(d, 1 / math.sqrt(d))
    kl = [covariate.kl(beta, beta, sigma_s=sigma, sigma_t=sigma, source_eigenvalues=c * lam,
                       target_eigenvalues=lam) for c in C]
    kw = dict(gamma=gamma, theta=theta, sigma=sigma)
    T_pop = A.transferability("finetune", spec, **kw)
    T_fin = [A.transferability("finetune", spec, gamma_s=gamma_s, sigma_s=sigma_s,
                               source_spectrum=Discrete(c * spec.eigenvalues, spec.weights),
                               **kw) for c in C]
    T_fin0 = [A.transferability("finetune", spec, gamma_s=gamma_s, sigma_s=0.0,
                                source_spectrum=Discrete(c * spec.eigenvalues, spec.weights),
                                **kw) for c in C]
    fig = _figure((11.0, 4.4))
    ax_d, ax_t = fig.subplots(1, 2, sharex=True)
    ax_d.semilogx(C, kl, color="C3", lw=2)
    ax_d.set_yscale("symlog", linthresh=1.0)
    ax_d.set_ylabel(f"KL(source \u2225 target), d = {d}")
    ax_t.semilogx(C, np.full(C.shape, T_pop), color="C0", lw=2, label="population source")
    ax_t.semilogx(C, T_fin0, color="C2", lw=2, ls=":",
                  label=f"finite source, \u03b3_s = {gamma_s:g}, \u03c3_s = 0")
    ax_t.semilogx(C, T_fin, color="C1", lw=2,
                  label=f"finite source, \u03b3_s = {gamma_s:g}, \u03c3_s = {sigma_s:g}")
    ax_t.axhline(0, color="0.5", lw=0.8)
    ax_t.set_yscale("symlog", linthresh=0.1)
    ax_t.set_ylabel("fine-tuning transferability T (symlog)")
    ax_t.legend(fontsize=8)
    for ax in (ax_d, ax_t):
        ax.set_xlabel("c  (\u03a3_s = c \u03a3)")
    fig.suptitle(f"Covariate shift: two-level \u03a3, \u03b3 = {gamma:g}, \u03b8 = {theta:g}, "
                 f"\u03c3 = {sigma:g}, generic teachers", fontsize=10)
    T_fin = np.asarray(T_fin)
    sign = np.flatnonzero(np.diff(np.sign(T_fin)) != 0)
    c_zero = float("nan")
    if sign.size:  # log-linear interpolation of the first sign change
        i = sign[0]
        u = np.log(C[i]) + (np.log(C[i + 1]) - np.log(C[i])) * T_fin[i] / (T_fin[i] - T_fin[i + 1])
        c_zero = float(np.exp(u))
    info = {"kl": np.asarray(kl), "T_population": float(T_pop),
            "T_noiseless": np.asarray(T_fin0), "T_noisy": T_fin, "c_zero": c_zero, "scales": C}
    return fig, info


def spread_curves(*, spreads=None, gamma: float = 0.5, theta: float = math.pi / 4,
                  sigma: float = 0.2, depth: int = 2):
    """Scratch's risk and the transferability of linear transfer and fine-tuning against the
    spread s of a two-level spectrum (eigenvalues 1 - s and 1 + s, half the directions each:
    the mean, hence the target's variance, stays 1), theory with generic teachers and a
    population source. Returns the figure and ``{label: values}`` (with ``'spread'``)."""
    S = np.linspace(0.0, 0.95, 60) if spreads is None else np.asarray(spreads, dtype=float)
    rows: dict[str, list] = {"scratch R": [], "linear T": [], "fine-tuning T": []}
    for s in S:
        spec = Discrete([1.0]) if s == 0 else Discrete([1 - s, 1 + s], [0.5, 0.5])
        kw = dict(gamma=gamma, sigma=sigma, depth=depth)
        rows["scratch R"].append(float(A.risk("scratch", spec, **kw)))
        rows["linear T"].append(float(A.transferability("linear", spec, theta=theta, **kw)))
        rows["fine-tuning T"].append(float(A.transferability("finetune", spec, theta=theta,
                                                             **kw)))
    fig = _figure((6.8, 4.2))
    ax = fig.subplots()
    for (label, values), color in zip(rows.items(), ("C7", "C1", "C0")):
        ax.plot(S, values, lw=2, color=color, label=label)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlabel("spread s (eigenvalues 1 \u2212 s and 1 + s, half each)")
    ax.set_ylabel("risk R (scratch) or transferability T (\u03a3-norm)")
    ax.set_title(f"Against the spectrum's spread: \u03b3 = {gamma:g}, \u03b8 = "
                 f"{theta / math.pi:.3g}\u03c0, \u03c3 = {sigma:g} (theory)", fontsize=10)
    ax.legend(fontsize=9)
    out = {k: np.asarray(v) for k, v in rows.items()}
    out["spread"] = S
    return fig, out
