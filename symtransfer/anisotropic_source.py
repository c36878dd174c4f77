"""Transfer risks with an input covariance and a *finite source*, in float64 and mpmath.

Setting of :mod:`symtransfer.anisotropic` (target inputs ``x ~ N(0, Sigma)``, unit teachers at
angle theta, generic or aligned profile rho, error in the Sigma-norm) with pretraining on
``n_s = gamma_s d`` source samples ``x ~ N(0, Sigma_s)``, ``y = beta_s.x + sigma_s eps``.
Sigma_s (``source_spectrum``, default Sigma: no covariate shift) has Sigma's eigenvectors,
paired largest eigenvalue with largest (the simulator's pairing; as d -> infinity the
*quantile coupling* of the two spectra, :func:`coupling`).

Gradient flow from a vanishing initialization ends at ``beta_hat_s = X_s^+ y_s`` (min-norm
below gamma_s = 1, least squares above). The transfer risks need only quadratic forms of
beta_hat_s with matrices diagonal in the common eigenbasis, ``D = diag(f(l_t, l_s))``:
``Q(D) = beta_hat_s^T D beta_hat_s`` and ``beta_hat_s^T D beta_t = cos(theta) O1(D)``.
Their deterministic equivalents (derived in ``derivations/spectra_source.py`` from the
first- and second-order equivalents of the projector P_s and of ``(X_s^T X_s)^+``; checked on
random matrices in ``tests/test_spectra_source.py``), with kappa_s the source's kappa at
gamma_s, ``r = l_s/(l_s + kappa_s)``, ``r' = kappa_s/(l_s + kappa_s)``, E[.] the average over
directions and ``E_rho[f] = E[rho f]``:

* gamma_s < 1: ``O1(D) = E_rho[D r]``,
  ``Q(D) = E_rho[D r^2] + (E_rho[l_s r'^2] + sigma_s^2) E[D l_s r'^2]/(kappa_s E[l_s r'^2])``;
* gamma_s > 1: ``O1(D) = E_rho[D]``, ``Q(D) = E_rho[D] + sigma_s^2 E[D/l_s]/(gamma_s - 1)``
  (the inverse-Wishart mean);
* population (gamma_s = None): ``Q(D) = O1(D) = E_rho[D]``.

One atom at 1 gives the isotropic ``N_s = Q(I) = gamma_s + sigma_s^2 gamma_s/(1-gamma_s)`` and
``O_s = gamma_s cos(theta)``. From them (target side: kappa and ``a = E[l^2/(l+kappa)^2]/gamma``
of the target data):

* **linear/ridge transfer**: the readout sees one feature ``a_L u.x``, ``u = beta_hat_s/|.|``,
  ``a_L^2 = N_s^((L-1)/L)``; its population ridge fit in the target metric gives
  ``R = m - cos^2(theta) O1(Sigma)^2/Q(Sigma) r(2-r)``, ``m = E_rho[l_t]``,
  ``r = A/(A + lam)``, ``A = N_s^(-1/L) Q(Sigma)`` (the feature's variance);
* **fine-tuning** (exact form): ``beta_hat = X^+ y + c P_perp beta_hat_s``, ``c = q^((L-1)/2)``,
  q the positive root of ``q^L - (Q(D_perp)/N_s) q^(L-1) - |X^+ y|^2/N_s`` with
  ``D_perp = kappa/(l_t + kappa)`` (``|P_perp w_0|^2``) and ``|X^+ y|^2 = E_rho[l_t/(l_t+kappa)]
  + sigma^2/kappa``; ``R = sigma^2 a/(1-a) + c^2 Q(D_b) - 2 c cos(theta) O1(D_b) + E_rho[D_b]``
  with ``D_b = l_t (kappa/(l_t+kappa))^2/(1-a)`` (the equivalent of ``P_perp Sigma P_perp``);
  the paper's form has c = 1; least squares (the scratch risk) for gamma >= 1.

Singular source point gamma_s = 1: with sigma_s > 0 ``|beta_hat_s|`` diverges (linear transfer's
risk is m, fine-tuning's inf below gamma = 1, as in the isotropic case); with sigma_s = 0 the
limit is continuous and equals the population forms (both branches meet there).

**Covariate shift** enters only through kappa_s and the coupling: ``Sigma_s = c Sigma`` leaves
r, and the noiseless forms, unchanged but scales the noise term by 1/c (a larger input scale
is a larger signal-to-noise ratio), and a change of the spectrum's *shape* moves the
projection weights r even without noise.

Numbers: float64 (:func:`parts`, vectorized over points, chunked) or mpmath at any number of
digits (:func:`evaluate_mp`), both through the same formula functions (:func:`source_forms`,
:func:`target_forms`, :func:`finetune_parts`, :func:`linear_parts`), which use only
arithmetic, an average ``E`` and ``PositiveRoot``; ``derivations/spectra_source.py`` runs
them on sympy atoms too.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

import numpy as np

from .spectra import Spectrum

_CHUNK = 1 << 13  # points per block (memory: CHUNK x atoms per temporary)


# ---------------------------------------------------------------------- the coupling

@dataclass(frozen=True)
class Coupled:
    """Atoms of the joint law of (target, source) eigenvalue over the directions:
    ``target[k]``, ``source[k]`` on a fraction ``fractions[k]`` of them (exact rationals of the
    float64 weights, normalized to sum 1; ``weights`` is their float64 value)."""

    target: np.ndarray
    source: np.ndarray
    fractions: tuple

    @property
    def weights(self) -> np.ndarray:
        return np.array([float(f) for f in self.fractions])


def _cumulative(weights: np.ndarray) -> list[Fraction]:
    """Exact cumulative sums of the float64 weights, normalized to end at 1."""
    exact = [Fraction(float(w)) for w in weights]
    total = sum(exact)
    out, acc = [], Fraction(0)
    for w in exact:
        acc += w
        out.append(acc / total)
    return out


def coupling(spectrum: Spectrum, source_spectrum: Spectrum | None) -> Coupled:
    """The quantile coupling: both spectra sorted from the largest eigenvalue down and laid
    over the same directions, so a direction in the top fraction u of one is in the top
    fraction u of the other (what :meth:`Spectrum.diagonal` gives both covariances at
    finite d, up to O(1/d) of the weights). Without a source spectrum, Sigma_s = Sigma.
    The interval weights are exact differences of exact cumulative sums, so each marginal is
    its spectrum exactly (at any mpmath precision)."""
    lt, wt = spectrum.eigenvalues[::-1], spectrum.weights[::-1]
    ct = _cumulative(wt)
    if source_spectrum is None:
        fr = tuple(b - a for a, b in zip([Fraction(0)] + ct[:-1], ct))
        return Coupled(lt.copy(), lt.copy(), fr)
    ls, ws = source_spectrum.eigenvalues[::-1], source_spectrum.weights[::-1]
    cs = _cumulative(ws)
    edges = sorted(set(ct) | set(cs) | {Fraction(0)})
    it, is_, fr = [], [], []
    i = j = 0
    for lo, hi in zip(edges[:-1], edges[1:]):
        while ct[i] <= lo:
            i += 1
        while cs[j] <= lo:
            j += 1
        it.append(i)
        is_.append(j)
        fr.append(hi - lo)
    return Coupled(lt[it], ls[is_], tuple(fr))


# ---------------------------------------------------------------------- the formulas

@dataclass
class _Ops:
    """What the formulas need besides arithmetic: ``E`` (the average over directions with
    weights w, keeping the point axis), ``root(L, a, b)`` (PositiveRoot) and ``inf``."""

    E: Callable
    root: Callable
    inf: Any


def source_forms(ops: _Ops, regime: str, ls, w_rho_ratio, kappa_s, gamma_s, sigma_s):
    """``(Q, O1)``: the deterministic equivalents of ``beta_hat_s^T D beta_hat_s`` and of
    ``beta_hat_s^T D beta_t / cos(theta)`` as functions of the per-direction array D (module
    docstring). ``w_rho_ratio`` is rho per direction (ones for generic teachers); ``regime``
    is 'population', 'min_norm' (gamma_s < 1) or 'least_squares' (gamma_s > 1, or = 1 with
    sigma_s = 0)."""
    rho = w_rho_ratio

    if regime == "population":
        def Q(D):
            return ops.E(rho * D)
        return Q, Q
    if regime == "least_squares":
        noise = _least_squares_noise(gamma_s, sigma_s)

        def Q(D):
            out = ops.E(rho * D)
            return out if _is_zero(sigma_s) else out + noise * ops.E(D / ls)

        def O1(D):
            return ops.E(rho * D)
        return Q, O1
    r = ls / (ls + kappa_s)
    rp = kappa_s / (ls + kappa_s)
    base = ops.E(ls * rp * rp)            # kappa_s^2 E[l_s/(l_s+kappa_s)^2], overflow-free
    amplitude = (ops.E(rho * ls * rp * rp) + sigma_s ** 2) / (kappa_s * base)

    def Q(D):
        return ops.E(rho * D * r * r) + amplitude * ops.E(D * ls * rp * rp)

    def O1(D):
        return ops.E(rho * D * r)
    return Q, O1


def _least_squares_noise(gamma_s, sigma_s):
    """sigma_s^2/(gamma_s - 1), 0 where sigma_s = 0 (also at gamma_s = 1: the continuous
    noiseless limit)."""
    if isinstance(gamma_s, np.ndarray) and gamma_s.dtype != object:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(sigma_s == 0, 0.0, sigma_s ** 2 / (gamma_s - 1))
    return 0 if _is_zero(sigma_s) else sigma_s ** 2 / (gamma_s - 1)


def _is_zero(x) -> bool:
    """True when x is (an array of) exact zeros; a sympy symbol is not."""
    arr = np.asarray(x)
    if arr.dtype == object:
        return all(v == 0 for v in arr.flat)
    return bool(np.all(arr == 0))


def target_forms(ops: _Ops, lt, rho, kappa, gamma, sigma) -> dict:
    """Target-side pieces below gamma = 1 (min-norm on the target data): the noise term
    ``sigma^2 a/(1-a)``, ``D_b`` (``P_perp Sigma P_perp``), ``D_perp`` (``P_perp``) and
    ``|X^+ y|^2``."""
    r = lt / (lt + kappa)
    rp = kappa / (lt + kappa)
    a = ops.E(r * r) / gamma
    return {"noise": sigma ** 2 * a / (1 - a), "D_b": lt * rp * rp / (1 - a), "D_perp": rp,
            "b2": ops.E(rho * r) + sigma ** 2 / kappa}


def finetune_parts(ops: _Ops, Q, O1, tf: dict, rho, depth: int, form: str) -> dict:
    """Fine-tuning below gamma = 1: the null-space scale c and the forms of its risk,
    ``R = noise + c^2 QDb - 2 c cos(theta) ODb + EDb`` (so ``T = c (2 cos(theta) ODb - c QDb)``
    against ridgeless scratch, whose risk is ``noise + EDb``)."""
    if form == "paper":
        c = 1
    else:
        N = Q(1 + 0 * rho)
        q = ops.root(depth, Q(tf["D_perp"]) / N, tf["b2"] / N)
        c = q ** _ratio(depth - 1, 2, q)
    D_b = tf["D_b"]
    return {"c": c, "QDb": Q(D_b), "ODb": O1(D_b), "EDb": ops.E(rho * D_b),
            "noise": tf["noise"]}


def finetune_risk(parts: dict, cos_t):
    return parts["noise"] + parts["c"] * (parts["c"] * parts["QDb"] - 2 * cos_t * parts["ODb"]) \
        + parts["EDb"]


def linear_parts(ops: _Ops, Q, O1, lt, rho, lam, depth: int) -> dict:
    """Linear/ridge transfer: ``R = m - cos^2(theta) K`` with ``m = E_rho[l_t]`` (the target's
    variance) and ``K = O1(Sigma)^2/Q(Sigma) r(2-r)`` (what the readout's fit recovers)."""
    m = ops.E(rho * lt)
    Qs, O = Q(lt), O1(lt)
    if _is_zero(lam):
        shrink = 1
    else:
        N = Q(1 + 0 * rho)
        A = Qs / N ** _ratio(1, depth, N)
        r = A / (A + lam)
        shrink = r * (2 - r)
    return {"m": m, "K": O * O / Qs * shrink}


def _ratio(num: int, den: int, like):
    """num/den as a number of the type of ``like``: exact for sympy (Rational) and at the
    working precision for mpmath, so the same formulas serve float64, mpmath and the
    symbolic check in ``derivations/spectra_source.py``."""
    module = type(like).__module__
    if hasattr(like, "free_symbols"):  # a sympy expression (also PositiveRoot)
        import sympy

        return sympy.sympify(num) / den
    if module.startswith("mpmath"):
        import mpmath

        return mpmath.mpf(num) / den
    return num / den


# ---------------------------------------------------------------------- float64 driver

PARTS = {"linear": ("m", "K"), "finetune": ("c", "QDb", "ODb", "EDb", "noise")}


def _float_ops(weights: np.ndarray) -> _Ops:
    def E(x):
        x = np.asarray(x, dtype=float)
        rows = x.shape[0] if x.ndim == 2 else 1
        return (np.broadcast_to(x, (rows, weights.size)) @ weights)[:, None]
    from .anisotropic import root

    return _Ops(E=E, root=root, inf=np.inf)


def parts(method: str, spectrum: Spectrum, *, gamma, sigma, lam, depth: int, form: str,
          gamma_s, sigma_s, source_spectrum: Spectrum | None, rho_of) -> dict:
    """float64 pieces of the risk of 'linear' (``m``, ``K``: ``R = m - cos^2 K``) or
    'finetune' (below gamma = 1: ``c, QDb, ODb, EDb, noise``; NaN at gamma >= 1, whose risk
    is least squares) over the broadcast points, for a finite source (``gamma_s``) or the
    population one (``gamma_s=None``, through the same formulas). Where gamma_s = 1 with
    sigma_s > 0 (|beta_hat_s| = inf): linear ``K = 0``; fine-tuning ``c = inf``.
    ``rho_of(eigenvalues, weights)`` is the teachers' density per direction (None: generic)."""
    cp = coupling(spectrum, source_spectrum)
    w = cp.weights
    rho = rho_of(cp.target, w)
    rho = np.ones(w.size) if rho is None else rho
    arrays = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (
        gamma, sigma, lam, np.nan if gamma_s is None else gamma_s, sigma_s)))
    shape = arrays[0].shape
    flat = [x.ravel() for x in arrays]
    out = {name: np.full(flat[0].size, np.nan) for name in PARTS[method]}
    src = spectrum if source_spectrum is None else source_spectrum
    for start in range(0, flat[0].size, _CHUNK):
        sl = slice(start, start + _CHUNK)
        block = _float_block(method, cp, rho, src, spectrum, [x[sl] for x in flat], depth,
                             form, population=gamma_s is None)
        for name, value in block.items():
            out[name][sl] = value
    return {name: v.reshape(shape) for name, v in out.items()}


def _float_block(method, cp: Coupled, rho, src: Spectrum, spectrum: Spectrum, params,
                 depth: int, form: str, population: bool) -> dict:
    g, s, la, gs, ss = params
    out = {name: np.full(g.shape, np.nan) for name in PARTS[method]}
    ops = _float_ops(cp.weights)
    if population:
        regimes = np.full(g.shape, "population", dtype=object)
    else:
        regimes = np.where(gs < 1, "min_norm",
                           np.where((gs > 1) | (ss == 0), "least_squares", "diverges"))
    for regime in ("population", "min_norm", "least_squares", "diverges"):
        sel = regimes == regime
        if method == "finetune":
            sel &= g < 1
        if not sel.any():
            continue
        if regime == "diverges":
            if method == "linear":
                out["m"][sel], out["K"][sel] = float(ops.E(rho * cp.target)[0, 0]), 0.0
            else:
                out["c"][sel] = np.inf
            continue
        col = [v[sel][:, None] for v in (g, s, la, gs, ss)]
        cg, cs, cla, cgs, css = col
        kappa_s = None
        if regime == "min_norm":
            kappa_s = np.asarray(src.kappa(cgs[:, 0]), dtype=float).reshape(-1, 1)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            Q, O1 = source_forms(ops, regime, cp.source, rho, kappa_s, cgs, css)
            if method == "linear":
                res = linear_parts(ops, Q, O1, cp.target, rho, cla, depth)
            else:
                kappa = np.asarray(spectrum.kappa(cg[:, 0]), dtype=float).reshape(-1, 1)
                tf = target_forms(ops, cp.target, rho, kappa, cg, cs)
                res = finetune_parts(ops, Q, O1, tf, rho, depth, form)
        for name, value in res.items():
            out[name][sel] = np.broadcast_to(np.asarray(value, dtype=float),
                                             (int(sel.sum()), 1))[:, 0]
    return out


def compose_risk(method: str, p: dict, *, gamma, theta, sigma) -> np.ndarray:
    """The risk from :func:`parts` (fine-tuning: least squares for gamma >= 1)."""
    cos_t = np.cos(np.asarray(theta, dtype=float))
    if method == "linear":
        out = p["m"] - cos_t ** 2 * p["K"]
        return out if np.ndim(out) else float(out)
    g = np.broadcast_to(np.asarray(gamma, dtype=float), p["c"].shape)
    s = np.broadcast_to(np.asarray(sigma, dtype=float), p["c"].shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ls = np.where(s > 0, s ** 2 / np.where(g > 1, g - 1, 0.0), 0.0)
        below = np.where(np.isinf(p["c"]), np.inf, p["noise"] + p["EDb"] + p["c"] * (
            p["c"] * p["QDb"] - 2 * cos_t * p["ODb"]))
    out = np.where(g < 1, below, ls)
    return out if out.ndim else float(out)


def compose_boundary(method: str, p: dict, scratch_risk=None) -> np.ndarray:
    """theta* from :func:`parts`: fine-tuning ``cos(theta*) = c QDb/(2 ODb)``; linear
    ``cos^2(theta*) = (m - R_scratch)/K``; NaN where T keeps one sign."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "finetune":
            x = p["c"] * p["QDb"] / (2 * p["ODb"])
            out = np.where((x >= 0) & (x <= 1), np.arccos(np.clip(x, 0, 1)), np.nan)
        else:
            x = (p["m"] - scratch_risk) / p["K"]
            out = np.where((x >= 0) & (x <= 1), np.arccos(np.sqrt(np.clip(x, 0, 1))),
                           np.nan)
    return out if out.ndim else float(out)


# ---------------------------------------------------------------------- mpmath driver

def mp_atoms(cp: Coupled, teacher) -> dict:
    """The coupled atoms at the working mpmath precision: eigenvalues (exact binary values of
    the float64 atoms), exact weights, and the teachers' density computed at that precision
    (``rho = l^p/E[l^p]`` for an aligned profile, 1 for generic)."""
    import mpmath

    from .teachers import Aligned, profile

    w = np.array([mpmath.mpf(f.numerator) / f.denominator for f in cp.fractions], dtype=object)
    lt = np.array([mpmath.mpf(float(x)) for x in cp.target], dtype=object)
    ls = np.array([mpmath.mpf(float(x)) for x in cp.source], dtype=object)
    prof = profile(teacher)
    if isinstance(prof, Aligned):
        p = mpmath.mpf(prof.power)
        e = np.array([x ** p for x in lt], dtype=object)
        rho = e / mpmath.fsum(e * w)
    else:
        rho = np.array([mpmath.mpf(1)] * w.size, dtype=object)
    return {"lt": lt, "ls": ls, "w": w, "rho": rho}


def mp_ops(w: np.ndarray) -> _Ops:
    import mpmath

    from ._roots import positive_root_mpmath

    return _Ops(E=lambda x: mpmath.fsum(np.broadcast_to(np.asarray(x, dtype=object),
                                                        w.shape) * w),
                root=positive_root_mpmath, inf=mpmath.inf)


def mp_kappa(ev: np.ndarray, w: np.ndarray, gamma, lam=0):
    """kappa at the working precision from the atoms ``ev`` and weights ``w`` (mpf arrays):
    :func:`symtransfer.spectra.solve_kappa_mp`; 0 for gamma >= 1 at lam = 0."""
    from .spectra import solve_kappa_mp

    return solve_kappa_mp(list(ev), list(w), gamma, lam)


_GUARD = 10  # extra digits of the mpmath evaluation, rounded off at the end


def evaluate_mp(quantity: str, method: str, spectrum: Spectrum, params: dict, *, depth: int,
                form: str, teacher, source_spectrum: Spectrum | None, finite: bool,
                baseline: str, digits: int) -> np.ndarray:
    """risk / transferability / boundary at ``digits`` significant digits (mpmath), for
    scratch, linear/ridge transfer and fine-tuning, population (``finite=False``) or finite
    source: the same formula functions as the float64 path, on mpf atoms and parameters
    (``params``: object arrays of mpf from :func:`symtransfer.validation.theory_parameters`).
    kappa of target and source from :func:`mp_kappa` on the coupled atoms (exact weights), the
    teachers' density and PositiveRoot at the working precision. Returns an object array."""
    import mpmath

    from .teachers import Generic, profile

    if baseline == "optimal_ridge" and not isinstance(profile(teacher), Generic):
        raise ValueError("precision with baseline='optimal_ridge' and an aligned teacher is not "
                         "available (lam* is a numeric float64 search); give precision=None")
    names = ("gamma", "theta", "sigma", "lam", "sigma_s") + (("gamma_s",) if finite else ())
    arrays = np.broadcast_arrays(*(np.asarray(params[k], dtype=object) for k in names))
    out = np.empty(arrays[0].shape, dtype=object)
    cp = coupling(spectrum, source_spectrum)
    with mpmath.workdps(digits + _GUARD):
        atoms = mp_atoms(cp, teacher)
        ops = mp_ops(atoms["w"])
        for index in np.ndindex(out.shape):
            point = {k: mpmath.mpf(a[index]) for k, a in zip(names, arrays)}
            out[index] = _mp_point(quantity, method, atoms, ops, point, depth, form, finite,
                                   baseline)
    with mpmath.workdps(digits):
        for index in np.ndindex(out.shape):
            out[index] = +out[index]
    return out


def _mp_scratch(atoms, ops, g, s, la):
    """Scratch (min-norm / least squares / ridge) risk at one point, mpmath."""
    import mpmath

    lt, rho = atoms["lt"], atoms["rho"]
    k = mp_kappa(lt, atoms["w"], g, la)
    r = lt / (lt + k)
    a = ops.E(r * r) / g
    b1 = ops.E(rho * lt * (k / (lt + k)) ** 2) / (1 - a) if k > 0 else mpmath.mpf(0)
    if s == 0:
        return b1
    return b1 + s ** 2 * (a / (1 - a) if a < 1 else mpmath.inf)


def _mp_forms(atoms, ops, point, finite: bool):
    """(Q, O1) of the pretrained vector at one point, or None where |beta_hat_s| = inf."""
    if not finite:
        return source_forms(ops, "population", atoms["ls"], atoms["rho"], None, None, None)
    gs, ss = point["gamma_s"], point["sigma_s"]
    if gs < 1:
        ks = mp_kappa(atoms["ls"], atoms["w"], gs)
        return source_forms(ops, "min_norm", atoms["ls"], atoms["rho"], ks, gs, ss)
    if gs > 1 or ss == 0:
        return source_forms(ops, "least_squares", atoms["ls"], atoms["rho"], None, gs, ss)
    return None


def _mp_point(quantity, method, atoms, ops, point, depth, form, finite, baseline):
    import mpmath

    g, th, s, la = point["gamma"], point["theta"], point["sigma"], point["lam"]
    cos_t = mpmath.cos(th)
    lt, rho = atoms["lt"], atoms["rho"]
    if method == "scratch":
        if baseline == "optimal_ridge":
            return _mp_scratch(atoms, ops, g, s, s ** 2 / g)
        risk = _mp_scratch(atoms, ops, g, s, la)
        if quantity == "transfer":
            base = _mp_scratch(atoms, ops, g, s, mpmath.mpf(0))
            return mpmath.mpf(0) if la == 0 else base - risk
        return risk
    base = None
    if quantity != "risk":
        lam_star = s ** 2 / g if baseline == "optimal_ridge" else mpmath.mpf(0)
        base = _mp_scratch(atoms, ops, g, s, lam_star)
    forms = _mp_forms(atoms, ops, point, finite)
    if method == "linear":
        if forms is None:
            m, K = ops.E(rho * lt), mpmath.mpf(0)
        else:
            lp = linear_parts(ops, *forms, lt, rho, la, depth)
            m, K = lp["m"], lp["K"]
        if quantity == "boundary":
            if K == 0:
                return mpmath.nan
            x = (m - base) / K
            return mpmath.acos(mpmath.sqrt(x)) if 0 <= x <= 1 else mpmath.nan
        risk = m - cos_t ** 2 * K
        return risk if quantity == "risk" else base - risk
    # fine-tuning
    if g >= 1:
        if quantity == "boundary":
            return mpmath.nan
        risk = mpmath.mpf(0) if s == 0 else (s ** 2 / (g - 1) if g > 1 else mpmath.inf)
        if quantity == "transfer" and baseline == "ridgeless":
            return mpmath.mpf(0)  # the same learner on both sides
        return risk if quantity == "risk" else base - risk
    if forms is None:  # gamma_s = 1 with source noise
        return {"risk": mpmath.inf, "boundary": mpmath.nan}.get(quantity, -mpmath.inf)
    k = mp_kappa(lt, atoms["w"], g)
    tf = target_forms(ops, lt, rho, k, g, s)
    fp = finetune_parts(ops, *forms, tf, rho, depth, form)
    if quantity == "boundary":
        x = fp["c"] * fp["QDb"] / (2 * fp["ODb"])
        return mpmath.acos(x) if 0 <= x <= 1 else mpmath.nan
    if quantity == "transfer" and baseline == "ridgeless":
        return fp["c"] * (2 * cos_t * fp["ODb"] - fp["c"] * fp["QDb"])  # no cancellation
    risk = finetune_risk(fp, cos_t)
    return risk if quantity == "risk" else base - risk
