"""Risks with an input covariance: x ~ N(0, Sigma), any spectrum (:mod:`symtransfer.spectra`).

Setting: unit Euclidean teachers with ``cos(theta) = beta_s . beta_t``, *generic* orientation
(uniformly random relative to Sigma's eigenvectors; or an *aligned* profile,
:mod:`symtransfer.teachers`, below), population pretraining (the source
covariance does not matter then: gradient flow still reaches beta_s with balanced rank-1
weights for any full-rank source covariance). The excess risk is in the target's own norm,
``R = (beta_hat - beta_t)^T Sigma (beta_hat - beta_t)``. A finite source (``gamma_s=``, with
its own ``source_spectrum``) is :mod:`symtransfer.anisotropic_source`, reached through the
same :func:`risk`, :func:`transferability` and :func:`phase_boundary`.

Deterministic equivalents (the primitives, each confirmed on random matrices in
``tests/test_spectra.py``), with kappa from :meth:`Spectrum.kappa` and
``a = E[l^2/(l+kappa)^2]/gamma``:

* min-norm / ridge bias for a generic unit teacher: ``B1 = kappa^2 E[l/(l+kappa)^2]/(1-a)``;
* variance: ``sigma^2 a/(1-a)`` (least squares, gamma > 1: ``sigma^2/(gamma-1)``, any Sigma);
* the target data's row space keeps ``|P beta|^2 -> gamma`` of a generic unit vector, and the
  min-norm interpolator's noise part has ``|X^+ eps|^2 -> sigma^2/kappa``.

Results (isotropic Sigma = I gives the shipped expressions, checked in ``tests``):

* scratch: ``R = B1 + sigma^2 a/(1-a)`` (ridgeless: gamma < 1; least squares above);
  with ``lam > 0`` the same with kappa of ridge;
* linear transfer (readout refit with ridge ``lam`` on the frozen feature ``beta_s . x``):
  the population fit of one feature in the Sigma-metric, ``R = m1 (1 - cos^2 r (2 - r))``,
  ``m1 = E[l]``, ``r = m1/(m1 + lam)``;
* fine-tuning: the gradient-flow facts behind the exact form hold for any design matrix, so
  ``beta_hat = X^+ y + c P_perp beta_s`` with ``c = q^((L-1)/2)`` and q the positive root of
  ``q^L - (1-gamma) q^(L-1) - (gamma + sigma^2/kappa)``; its risk is
  ``sigma^2 a/(1-a) + |c beta_s - beta_t|^2 B1`` (gamma < 1; least squares above). The
  paper's form has c = 1.

**Aligned teachers** (``teacher=Aligned(p)``: energy per eigendirection proportional to
``lambda**p``, relative density ``rho = lambda^p/E[lambda^p]``, the same for source and
target). The deterministic equivalents above are for a *fixed* teacher beta:
``|P_perp beta|^2_Sigma -> kappa^2 beta^T Sigma (Sigma + kappa)^-2 beta/(1-a)`` and
``|P beta|^2 -> beta^T Sigma (Sigma + kappa)^-1 beta`` (P: the row space of the target data);
a generic unit teacher has ``beta_i^2 -> 1/d`` and gives the averages above, an aligned one
``beta_i^2 -> rho(lambda_i)/d``. So every teacher average is reweighted by rho:
``B1 = kappa^2 E[rho l/(l+kappa)^2]/(1-a)``, linear transfer uses ``m = E[rho l]`` (the
target's variance ``beta_t^T Sigma beta_t``), and fine-tuning's q solves
``q^L - (1-g) q^(L-1) - (g + sigma^2/kappa)`` with ``g = E[rho l/(l+kappa)]`` (the share of
``|beta_s|^2`` in the row space; g = gamma for generic teachers). The noise term does not
involve the teachers.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import validation as V
from ._roots import positive_root
from .spectra import Spectrum
from .teachers import Generic, Teacher, profile

METHODS = ("scratch", "linear", "finetune")


def _array(name: str, value: Any, *, lower: float | None = None, upper: float | None = None,
           lower_open: bool = False) -> np.ndarray:
    """float64 validation shared with the isotropic API (:func:`symtransfer.validation.real`)."""
    return np.asarray(V.real(name, value, lower=lower, upper=upper, lower_open=lower_open),
                      dtype=float)


def _check_spectrum(spectrum: Any) -> Spectrum:
    if not isinstance(spectrum, Spectrum):
        raise TypeError(f"spectrum must be a symtransfer.spectra.Spectrum (Discrete, PowerLaw, "
                        f"Empirical), got {type(spectrum).__name__}")
    return spectrum


def _density(spectrum: Spectrum, teacher: Any) -> np.ndarray | None:
    """rho per atom, or None for the generic profile (then the unweighted averages are used,
    bit for bit those of the generic formulas)."""
    prof = profile(teacher)
    if isinstance(prof, Generic):
        return None
    return prof.density(spectrum.eigenvalues, spectrum.weights)


def teacher_averages(spectrum: Spectrum, kappa: Any, rho: np.ndarray | None) -> dict:
    """The teacher's averages at ``kappa`` (float64, chunked like
    :meth:`Spectrum.functionals`): ``g = E[rho l/(l+k)]`` (row-space share of a unit teacher)
    and ``kbias = E[rho l (k/(l+k))^2]`` (its bias before the 1/(1-a) factor); rho = None is
    the generic profile."""
    k = np.asarray(kappa, dtype=float)
    ev = spectrum.eigenvalues
    tw = spectrum.weights if rho is None else spectrum.weights * rho
    flat = k.ravel()
    g, kb = np.empty(flat.shape), np.empty(flat.shape)
    step = 1 << 16
    for start in range(0, flat.size, step):
        sl = slice(start, start + step)
        r = ev / (ev + flat[sl][:, None])
        g[sl] = r @ tw
        kb[sl] = (ev * (1 - r) ** 2) @ tw
    return {"g": g.reshape(k.shape), "kbias": kb.reshape(k.shape)}


def _scratch_parts(spectrum: Spectrum, gamma: np.ndarray, lam: np.ndarray,
                   rho: np.ndarray | None = None):
    """(bias per unit teacher norm B1, variance per unit noise a/(1-a), kappa), float64."""
    f = spectrum.functionals(gamma, lam)
    k = f["kappa"]
    a = f["df2"] / gamma
    kbias = f["kbias"] if rho is None else teacher_averages(spectrum, k, rho)["kbias"]
    with np.errstate(divide="ignore", invalid="ignore"):
        b1 = np.where(k > 0, kbias / (1 - a), 0.0)
        var = np.where(a < 1, a / (1 - a), np.inf)
    return b1, var, k


def scratch(spectrum: Spectrum, *, gamma, sigma=0.0, lam=0.0,
            teacher: Teacher | str = "generic") -> np.ndarray:
    """Risk of min-norm / least squares (``lam = 0``) or ridge (penalty ``lam`` on the mean
    loss) on the target data; inf at gamma = 1 with sigma > 0 and lam = 0."""
    _check_spectrum(spectrum)
    rho = _density(spectrum, teacher)
    g = _array("gamma", gamma, lower=0, lower_open=True)
    s = _array("sigma", sigma, lower=0)
    la = _array("lam", lam, lower=0)
    g, s, la = np.broadcast_arrays(g, s, la)
    b1, var, _ = _scratch_parts(spectrum, g, la, rho)
    with np.errstate(invalid="ignore"):
        out = b1 + np.where(s > 0, s ** 2 * var, 0.0)
    return out if out.ndim else float(out)


def linear(spectrum: Spectrum, *, theta, lam=0.0,
           teacher: Teacher | str = "generic") -> np.ndarray:
    """Risk of linear (ridge) transfer from population pretraining: ``m1 (1 - cos^2 r(2-r))``,
    ``r = m1/(m1 + lam)`` (independent of gamma and sigma as n -> infinity), with
    ``m1 = beta^T Sigma beta = E[rho l]`` the variance of a unit teacher's function."""
    _check_spectrum(spectrum)
    th = _array("theta", theta, lower=0, upper=math.pi)
    la = _array("lam", lam, lower=0)
    rho = _density(spectrum, teacher)
    m1 = spectrum.mean if rho is None else float((spectrum.weights * rho) @ spectrum.eigenvalues)
    r = m1 / (m1 + la)
    out = m1 * (1 - np.cos(th) ** 2 * r * (2 - r))
    return out if np.ndim(out) else float(out)


def root(L: int, a, b) -> np.ndarray:
    """PositiveRoot(L, a, b) in float64: for L = 2 the quadratic's positive root in closed
    form, ``(a + sqrt(a^2 + 4b))/2`` (``2b/(sqrt(a^2 + 4b) - a)`` for a < 0, no cancellation;
    the square root as hypot(a, 2 sqrt(b)), no overflow), 10x faster than the general
    bracketed solver :func:`symtransfer._roots.positive_root` used for L >= 3."""
    if int(L) != 2:
        return positive_root(int(L), a, b)
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.hypot(a, 2 * np.sqrt(b))
        q = np.where(a >= 0, 0.5 * (a + t), 2 * b / (t - a))
    return np.where((b > 0) & np.isfinite(a) & np.isfinite(b), q, np.nan)


def finetune_scale(spectrum: Spectrum, *, gamma, sigma=0.0, depth: int = 2,
                   teacher: Teacher | str = "generic") -> np.ndarray:
    """c: fine-tuning multiplies the null-space part of beta_s by c = q^((L-1)/2), q the
    positive root of ``q^L - (1-g) q^(L-1) - (g + sigma^2/kappa)`` (gamma < 1), where
    ``g = |P beta_s|^2 -> E[rho l/(l+kappa)]`` (= gamma for generic teachers) and
    ``sigma^2/kappa = |X^+ eps|^2``."""
    g = _array("gamma", gamma, lower=0)
    s = _array("sigma", sigma, lower=0)
    g, s = np.broadcast_arrays(g, s)
    k = np.asarray(spectrum.kappa(g, 0.0), dtype=float)
    rho = _density(spectrum, teacher)
    share = g if rho is None else np.where(g < 1, teacher_averages(spectrum, k, rho)["g"], g)
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.where(g < 1, share + np.where(s > 0, s ** 2 / k, 0.0), np.nan)
    q = root(int(depth), 1 - share, b)
    return q ** ((depth - 1) / 2)


def finetune(spectrum: Spectrum, *, gamma, theta, sigma=0.0, depth: int = 2,
             form: str = "exact", teacher: Teacher | str = "generic") -> np.ndarray:
    """Fine-tuning risk: ``sigma^2 a/(1-a) + (c^2 - 2 c cos(theta) + 1) B1`` below gamma = 1
    (``form='paper'``: c = 1), least squares above."""
    _check_spectrum(spectrum)
    if form not in ("exact", "paper"):
        raise ValueError(f"form must be 'exact' or 'paper', got {form!r}")
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 2:
        raise ValueError(f"depth must be an integer >= 2, got {depth!r}")
    g = _array("gamma", gamma, lower=0, lower_open=True)
    th = _array("theta", theta, lower=0, upper=math.pi)
    s = _array("sigma", sigma, lower=0)
    g, th, s = np.broadcast_arrays(g, th, s)
    rho = _density(spectrum, teacher)
    b1, var, _ = _scratch_parts(spectrum, g, np.zeros_like(g), rho)
    noise = np.where(s > 0, s ** 2 * var, 0.0)
    if form == "paper":
        c = np.ones_like(g)
    else:
        c = np.where(g < 1, finetune_scale(spectrum, gamma=g, sigma=s, depth=int(depth),
                                           teacher=teacher), 1.0)
    with np.errstate(invalid="ignore"):
        below = noise + (c ** 2 - 2 * c * np.cos(th) + 1) * b1
    out = np.where(g < 1, below, noise)
    return out if out.ndim else float(out)


def _source(gamma_s, sigma_s, source_spectrum):
    """Validated finite-source options: (gamma_s array or None, sigma_s array)."""
    if source_spectrum is not None and not isinstance(source_spectrum, Spectrum):
        raise TypeError(f"source_spectrum must be None or a symtransfer.spectra.Spectrum, got "
                        f"{type(source_spectrum).__name__}")
    ss = _array("sigma_s", sigma_s, lower=0)
    if gamma_s is None:
        if np.any(ss != 0):
            raise ValueError("sigma_s is the source noise of finite-source pretraining; give "
                             "gamma_s as well (gamma_s=None is population pretraining)")
        return None, ss
    return _array("gamma_s", gamma_s, lower=0, lower_open=True), ss


def _finite_source_risk(method: str, spectrum: Spectrum, *, gamma, theta, sigma, lam, depth,
                        form, teacher, gamma_s, sigma_s, source_spectrum) -> np.ndarray:
    """Linear transfer / fine-tuning from a finite source (:mod:`.anisotropic_source`)."""
    from . import anisotropic_source as S

    g = _array("gamma", gamma, lower=0, lower_open=True)
    th = _array("theta", theta, lower=0, upper=math.pi)
    s = _array("sigma", sigma, lower=0)
    la = _array("lam", lam, lower=0)
    p = S.parts(method, spectrum, gamma=g, sigma=s, lam=la, depth=int(depth), form=form,
                gamma_s=gamma_s, sigma_s=sigma_s, source_spectrum=source_spectrum,
                rho_of=_rho_of(teacher))
    shape = np.broadcast(g, th, s, la, gamma_s, sigma_s).shape
    out = np.broadcast_to(S.compose_risk(method, p, gamma=g, theta=th, sigma=s), shape).copy()
    return out if out.ndim else float(out)


def _rho_of(teacher):
    prof = profile(teacher)
    if isinstance(prof, Generic):
        return lambda eigenvalues, weights: None
    return prof.density


def risk(method: str, spectrum: Spectrum, *, gamma, theta=None, sigma=0.0, lam=0.0,
         depth: int = 2, form: str = "exact", teacher: Teacher | str = "generic",
         baseline: str = "ridgeless", gamma_s=None, sigma_s=0.0,
         source_spectrum: Spectrum | None = None) -> np.ndarray:
    """The risk of ``method`` ('scratch', 'linear', 'finetune') with input covariance
    ``spectrum`` and teacher profile ``teacher``; the same parameters as
    :func:`symtransfer.risk`. ``gamma_s``/``sigma_s``: a finite source, whose inputs have
    ``source_spectrum`` (default ``spectrum``; :mod:`symtransfer.anisotropic_source`);
    ``gamma_s=None``: population pretraining, where the source spectrum does not matter.
    ``baseline='optimal_ridge'`` (scratch only): ridge at :func:`optimal_ridge`."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    profile(teacher)
    gs, ss = _source(gamma_s, sigma_s, source_spectrum)
    if gs is not None and method != "scratch":
        _check_spectrum(spectrum)
        if theta is None:
            raise ValueError(f"theta is required for {method!r}")
        if form not in ("exact", "paper"):
            raise ValueError(f"form must be 'exact' or 'paper', got {form!r}")
        if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 2:
            raise ValueError(f"depth must be an integer >= 2, got {depth!r}")
        if method == "finetune" and np.any(np.asarray(lam) != 0):
            raise ValueError("lam applies to scratch and linear transfer; fine-tuning is "
                             "ridgeless")
        return _finite_source_risk(method, spectrum, gamma=gamma, theta=theta, sigma=sigma,
                                   lam=lam, depth=depth, form=form, teacher=teacher,
                                   gamma_s=gs, sigma_s=ss, source_spectrum=source_spectrum)
    if baseline not in ("ridgeless", "optimal_ridge"):
        raise ValueError(f"baseline must be 'ridgeless' or 'optimal_ridge', got {baseline!r}")
    if baseline == "optimal_ridge":
        if method != "scratch" or np.any(np.asarray(lam) != 0):
            raise ValueError("baseline='optimal_ridge' is a scratch learner that chooses lam "
                             "itself: use it with method='scratch' and lam=0")
        return scratch_optimal(spectrum, gamma=gamma, sigma=sigma, teacher=teacher)
    if method == "scratch":
        return scratch(spectrum, gamma=gamma, sigma=sigma, lam=lam, teacher=teacher)
    if theta is None:
        raise ValueError(f"theta is required for {method!r}")
    if method == "linear":
        out = linear(spectrum, theta=theta, lam=lam, teacher=teacher)
        shape = np.broadcast(np.asarray(gamma), np.asarray(theta), np.asarray(sigma)).shape
        return np.broadcast_to(out, shape).copy() if shape else out
    if np.any(np.asarray(lam) != 0):
        raise ValueError("lam applies to scratch and linear transfer; fine-tuning is ridgeless")
    return finetune(spectrum, gamma=gamma, theta=theta, sigma=sigma, depth=depth, form=form,
                    teacher=teacher)


def transferability(method: str, spectrum: Spectrum, *, gamma, theta=None, sigma=0.0,
                    lam=0.0, depth: int = 2, form: str = "exact",
                    teacher: Teacher | str = "generic",
                    baseline: str = "ridgeless", gamma_s=None, sigma_s=0.0,
                    source_spectrum: Spectrum | None = None) -> np.ndarray:
    """T = R_baseline - R_method, the baseline scratch training, ridgeless (default) or ridge
    at its optimal penalty (``baseline='optimal_ridge'``); source options as in :func:`risk`."""
    if baseline not in ("ridgeless", "optimal_ridge"):
        raise ValueError(f"baseline must be 'ridgeless' or 'optimal_ridge', got {baseline!r}")
    if baseline == "optimal_ridge":
        base = scratch_optimal(spectrum, gamma=gamma, sigma=sigma, teacher=teacher)
    else:
        base = scratch(spectrum, gamma=gamma, sigma=sigma, teacher=teacher)
    with np.errstate(invalid="ignore"):
        T = np.asarray(base - risk(method, spectrum, gamma=gamma, theta=theta, sigma=sigma,
                                   lam=lam, depth=depth, form=form, teacher=teacher,
                                   gamma_s=gamma_s, sigma_s=sigma_s,
                                   source_spectrum=source_spectrum))
    if baseline == "ridgeless":
        # the same learner on both sides: fine-tuning for gamma >= 1 (least squares) and
        # ridgeless scratch; T = 0 exactly, also at the peak gamma = 1 (inf - inf)
        g = np.broadcast_to(np.asarray(gamma, dtype=float), T.shape)
        same = (g >= 1) if method == "finetune" else np.zeros(T.shape, dtype=bool)
        if method == "scratch":
            same = np.broadcast_to(np.asarray(lam, dtype=float), T.shape) == 0
        T = np.where(same, 0.0, T)
    return T if T.ndim else float(T)


# ---------------------------------------------------------------------- optimal ridge, boundary

def _golden_min(f, lo: np.ndarray, hi: np.ndarray, iterations: int = 90) -> np.ndarray:
    """Vectorized golden-section search for the minimizer of ``f`` on [lo, hi] (a unimodal f;
    bracket shrinks by 0.618 per step, 90 steps: 1e-19 of the width)."""
    g = (math.sqrt(5) - 1) / 2
    a, b = lo.copy(), hi.copy()
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iterations):
        left = fc < fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        c_new = np.where(left, b - g * (b - a), d)
        d_new = np.where(left, c, a + g * (b - a))
        f_known = np.where(left, fc, fd)
        c, d = c_new, d_new
        f_eval = f(np.where(left, c, d))
        fc = np.where(left, f_eval, f_known)
        fd = np.where(left, f_known, f_eval)
    return 0.5 * (a + b)


#: the bracket of the numeric optimal-ridge search (aligned teachers), in lam
RIDGE_BRACKET = (1e-10, 1e6)


def optimal_ridge(spectrum: Spectrum, *, gamma, sigma=0.0,
                  teacher: Teacher | str = "generic") -> np.ndarray:
    """The ridge penalty lam* >= 0 that minimizes the scratch risk.

    Generic teachers: ``lam* = sigma^2/gamma`` for every spectrum -- ridge at this penalty is
    the posterior mean under the isotropic prior ``beta ~ N(0, I/d)`` (the Bayes estimator,
    ``(X^T X + sigma^2 d)^-1 X^T y``), and a generic unit teacher has that prior's energy
    profile, so no ridge penalty does better in the limit. Aligned teachers: the Bayes
    estimator is a generalized ridge, and lam* is found numerically: golden-section search
    of :func:`scratch` in log lam on :data:`RIDGE_BRACKET` (assumes the risk is unimodal in
    lam, checked on a dense grid in the tests), and lam* = 0 where ridgeless is better.
    """
    _check_spectrum(spectrum)
    g = _array("gamma", gamma, lower=0, lower_open=True)
    s = _array("sigma", sigma, lower=0)
    g, s = np.broadcast_arrays(g, s)
    if _density(spectrum, teacher) is None:
        out = s ** 2 / g
        return out if out.ndim else float(out)
    gf, sf = g.ravel(), s.ravel()

    def risk_at(u: np.ndarray) -> np.ndarray:
        return np.asarray(scratch(spectrum, gamma=gf, sigma=sf, lam=np.exp(u),
                                  teacher=teacher), dtype=float)

    lo = np.full(gf.shape, math.log(RIDGE_BRACKET[0]))
    hi = np.full(gf.shape, math.log(RIDGE_BRACKET[1]))
    lam = np.exp(_golden_min(risk_at, lo, hi))
    with np.errstate(invalid="ignore"):
        ridgeless = np.asarray(scratch(spectrum, gamma=gf, sigma=sf, teacher=teacher))
        tuned = risk_at(np.log(lam))
    lam = np.where(ridgeless <= tuned, 0.0, lam).reshape(g.shape)
    return lam if lam.ndim else float(lam)


def scratch_optimal(spectrum: Spectrum, *, gamma, sigma=0.0,
                    teacher: Teacher | str = "generic") -> np.ndarray:
    """Scratch risk of ridge at its optimal penalty (:func:`optimal_ridge`)."""
    lam = optimal_ridge(spectrum, gamma=gamma, sigma=sigma, teacher=teacher)
    return scratch(spectrum, gamma=gamma, sigma=sigma, lam=lam, teacher=teacher)


def phase_boundary(method: str, spectrum: Spectrum, *, gamma, sigma=0.0, lam=0.0,
                   depth: int = 2, form: str = "exact",
                   teacher: Teacher | str = "generic", gamma_s=None, sigma_s=0.0,
                   source_spectrum: Spectrum | None = None) -> np.ndarray:
    """theta* in [0, pi/2] where T (ridgeless baseline) changes sign; NaN where T has one
    sign for every theta. With a finite source (``gamma_s``):
    :func:`symtransfer.anisotropic_source.compose_boundary` (fine-tuning
    ``cos(theta*) = c Q(D_b)/(2 O1(D_b))``, linear ``cos^2(theta*) = (m - R_scratch)/K``).

    Fine-tuning (gamma < 1): ``T = B1 (2 c cos(theta) - c^2)``, so ``cos(theta*) = c/2``
    (c = 1, theta* = pi/3 in the paper's form; NaN for c > 2 and for gamma >= 1, where T = 0).
    Linear/ridge transfer: ``T = R_scratch - m (1 - cos^2 r (2-r))`` changes sign at
    ``cos^2(theta*) = (1 - R_scratch/m)/(r (2 - r))`` (NaN outside [0, 1]); T > 0 for
    theta < theta* and theta > pi - theta*.
    """
    _check_spectrum(spectrum)
    if method not in ("linear", "finetune"):
        raise ValueError(f"method must be 'linear' or 'finetune' for a phase boundary, got "
                         f"{method!r}")
    g = _array("gamma", gamma, lower=0, lower_open=True)
    s = _array("sigma", sigma, lower=0)
    la = _array("lam", lam, lower=0)
    g, s, la = np.broadcast_arrays(g, s, la)
    gs, ss = _source(gamma_s, sigma_s, source_spectrum)
    if method == "finetune" and np.any(la != 0):
        raise ValueError("lam applies to scratch and linear transfer; fine-tuning is "
                         "ridgeless")
    if gs is not None:
        from . import anisotropic_source as S

        risk(method, spectrum, gamma=g, theta=0.0, sigma=s, lam=la, depth=depth, form=form,
             teacher=teacher, gamma_s=gs, sigma_s=ss)  # validates the rest
        p = S.parts(method, spectrum, gamma=g, sigma=s, lam=la, depth=int(depth), form=form,
                    gamma_s=gs, sigma_s=ss, source_spectrum=source_spectrum,
                    rho_of=_rho_of(teacher))
        base = None if method == "finetune" else np.asarray(
            scratch(spectrum, gamma=g, sigma=s, teacher=teacher), dtype=float)
        return S.compose_boundary(method, p, base)
    if method == "finetune":
        if np.any(la != 0):
            raise ValueError("lam applies to scratch and linear transfer; fine-tuning is "
                             "ridgeless")
        finetune(spectrum, gamma=g, theta=0.0, sigma=s, depth=depth, form=form,
                 teacher=teacher)  # validates depth and form
        c = np.ones_like(g) if form == "paper" else np.where(
            g < 1, finetune_scale(spectrum, gamma=g, sigma=s, depth=int(depth),
                                  teacher=teacher), np.nan)
        with np.errstate(invalid="ignore"):
            out = np.where((g < 1) & (c <= 2), np.arccos(np.minimum(c / 2, 1.0)), np.nan)
        return out if out.ndim else float(out)
    rho = _density(spectrum, teacher)
    m1 = spectrum.mean if rho is None else float((spectrum.weights * rho) @ spectrum.eigenvalues)
    r = m1 / (m1 + la)
    base = np.asarray(scratch(spectrum, gamma=g, sigma=s, teacher=teacher), dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = (1 - base / m1) / (r * (2 - r))
        out = np.where((x >= 0) & (x <= 1), np.arccos(np.sqrt(np.clip(x, 0, 1))), np.nan)
    return out if out.ndim else float(out)
