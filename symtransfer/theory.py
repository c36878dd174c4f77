"""Asymptotic (and, where known, exact finite-size) risks and transferabilities.

All evaluation goes through the kernels generated from :mod:`symtransfer.formulas`
(``_kernels_numpy`` in float64, ``_kernels_mpmath`` at any precision); this module validates
input, picks the kernel, and handles the singular points deliberately (see below).

Numerical range: float64 entries whose kernel evaluation overflows or underflows (an inf or
NaN result, or any entry with an input outside [1e-100, 1e100] in a call that raised a
floating-point overflow/underflow) are evaluated again with mpmath at 40 digits, whose
exponent range is unbounded, and rounded; so every finite float64 input gives its true value
rounded (inf only beyond 1.8e308). Finite-size expectations form n = gamma*d as an exact
integer (checked to be whole) on both paths, and evaluate the float64 result from exact ratios
with mpmath.

Singular points:

* ``gamma = 1`` (interpolation threshold). With ``sigma > 0`` scratch and fine-tuning risks are
  ``inf`` (double-descent peak), linear transferability is ``+inf`` and its phase boundary does
  not exist (NaN). With ``sigma = 0`` the risk is continuous there and its limit is returned
  (0 for scratch). Fine-tuning transferability is 0 at and above ``gamma = 1``.
* ``gamma_s = 1`` (finite source). With ``sigma_s > 0`` the pretrained vector's norm diverges
  and its direction carries no information: linear transfer risk is 1, fine-tuning risk is
  ``inf`` below ``gamma = 1`` (scratch above). With ``sigma_s = 0`` the limit is returned.
* ``mu >= 1`` (penalized pretraining, depth 2). The origin is stable: the pretrained weights
  stay at their vanishing initialization, so fine-tuning is training from scratch (T = 0, no
  phase boundary). Linear transfer would refit a readout on the random initial features,
  which has no closed form here: ``ValueError``.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable

import numpy as np

from . import methods
from . import validation as V
from ._catalog import ARGS, kernel_name

Array = np.ndarray


class _Float64:
    """float64 numpy backend."""

    inf = math.inf
    nan = math.nan
    dtype = float

    def __init__(self) -> None:
        from . import _kernels_numpy

        self.module = _kernels_numpy

    def call(self, name: str, params: dict[str, Any], shape: tuple) -> Array:
        """The kernel in float64; entries that come out inf or NaN (an intermediate overflow
        or underflow at extreme input, e.g. sigma**2 at sigma = 1e200, or a boundary that
        does not exist) are evaluated again with mpmath, whose exponent range is unbounded,
        and rounded: the float64 result is the true value rounded (inf only where it is
        beyond 1.8e308 or truly infinite)."""
        kernel = _kernel(self.module, name, "numpy")
        flagged: list[str] = []
        # unused Piecewise branches may divide by zero: ignored; an overflow or underflow
        # anywhere (it can hide in a finite result, e.g. 1/sqrt(inf) = 0) is recorded
        with np.errstate(all="ignore", over="call", under="call",
                         call=lambda kind, flag: flagged.append(kind)):
            out = kernel(**{arg: params.get(arg, 0.0) for arg in ARGS})
        out = np.array(np.broadcast_to(np.asarray(out, dtype=float), shape))
        bad = ~np.isfinite(out)
        if flagged:
            bad |= _extreme_entries(params, shape)
        if bad.any():
            out[bad] = _exactly(name, params, shape, bad)
        return out

    def finish(self, out: Array):
        return float(out) if out.ndim == 0 else out


class _Mpmath:
    """mpmath backend: object arrays of mpf at ``digits`` significant digits."""

    dtype = object

    def __init__(self, digits: int) -> None:
        import mpmath

        from . import _kernels_mpmath

        self.mpmath, self.module, self.digits = mpmath, _kernels_mpmath, digits
        self.inf, self.nan = mpmath.inf, mpmath.nan

    def one_below(self):
        return 1 - self.mpmath.mpf(10) ** (-(self.digits + 10))

    def call(self, name: str, params: dict[str, Any], shape: tuple) -> Array:
        kernel = np.frompyfunc(_kernel(self.module, name, "mpmath"), len(ARGS), 1)
        out = kernel(*(params.get(arg, 0) for arg in ARGS))
        out = np.array(np.broadcast_to(np.asarray(out, dtype=object), shape), dtype=object)
        return self.real(out)

    def real(self, values: Array) -> Array:
        """mpf entries; a complex value (acos or sqrt beyond its real domain, as a phase
        boundary that does not exist) becomes NaN, as it is in float64."""
        mp = self.mpmath
        out = np.empty(values.shape, dtype=object)
        for index, v in np.ndenumerate(values):
            if isinstance(v, mp.mpc):
                v = v.real if v.imag == 0 else mp.nan
            elif isinstance(v, Fraction):  # exact finite-size ratios
                v = mp.mpf(v.numerator) / v.denominator
            out[index] = mp.mpf(v)
        return out

    def lift(self, values: Array) -> Array:
        """float64 (or integer) array -> object array of exact mpf copies."""
        return self.real(np.asarray(values, dtype=object))

    def finish(self, out: Array):
        out = self.real(out)
        return out.item() if out.ndim == 0 else out


def _kernel(module, name: str, backend: str) -> Callable:
    """The generated kernel ``name``; for a method registered at run time (none committed),
    compiled once from the method's expression by :func:`symtransfer.codegen.compile_kernel`."""
    kernel = getattr(module, name, None)
    if kernel is not None:
        return kernel
    compiled = methods.registry.COMPILED
    if (name, backend) not in compiled:
        from .codegen import compile_kernel

        compiled[(name, backend)] = compile_kernel(name, backend)
    return compiled[(name, backend)]


#: digits of the mpmath evaluations behind float64 results (extremes, limits, finite size)
_EXACT_DIGITS = 40


#: inputs outside [1e-100, 1e100] in magnitude (zero aside) may overflow or underflow
#: intermediate float64 terms of a kernel
_MODERATE = (1e-100, 1e100)


def _extreme_entries(params: dict[str, Any], shape: tuple) -> Array:
    """Entries with an extreme input; all entries if none is (an overflow flagged among
    moderate inputs is then located by evaluating everything exactly)."""
    extreme = np.zeros(shape, dtype=bool)
    for value in params.values():
        if isinstance(value, np.ndarray) and value.dtype != object:
            size = np.abs(value)
            extreme |= (size > _MODERATE[1]) | ((size < _MODERATE[0]) & (size > 0))
    return extreme if extreme.any() else np.ones(shape, dtype=bool)


def _lift_all(params: dict[str, Any], exact: "_Mpmath") -> dict[str, Any]:
    """float arrays -> mpf object arrays (object arrays, e.g. exact sample ratios, as they are)."""
    return {k: (exact.lift(v) if isinstance(v, np.ndarray) and v.dtype != object else v)
            for k, v in params.items()}


def _exactly(name: str, params: dict[str, Any], shape: tuple, mask: Array) -> Array:
    """Kernel ``name`` at the entries ``mask`` with mpmath, rounded to float64."""
    full = {k: (np.broadcast_to(v, shape) if isinstance(v, np.ndarray) else v)
            for k, v in params.items()}
    with _precision_context(_EXACT_DIGITS):
        exact = _Mpmath(_EXACT_DIGITS)
        values = exact.call(name, _lift_all(_subset(full, mask), exact), (int(mask.sum()),))
    return np.array([float(v) for v in values], dtype=float)


def _float_via_mpmath(spec: "_Spec", params: dict[str, Any]) -> Array:
    """_compute with mpmath at _EXACT_DIGITS, rounded to float64 (finite-size expectations:
    their sample counts are exact rationals, and n = gamma*d must not be rounded)."""
    with _precision_context(_EXACT_DIGITS):
        exact = _Mpmath(_EXACT_DIGITS)
        values = _compute(spec, _lift_all(params, exact), exact)
        return np.array([float(v) for v in values.flat], dtype=float).reshape(values.shape)


def _backend(digits: int | None):
    return _Float64() if digits is None else _Mpmath(digits)


def _subset(params: dict[str, Any], mask: Array) -> dict[str, Any]:
    return {k: (v[mask] if isinstance(v, np.ndarray) else v) for k, v in params.items()}


def _fill(backend, shape: tuple, value) -> Array:
    return np.full(shape, value, dtype=backend.dtype)


class _Spec:
    """What to evaluate: quantity ('risk', 'transfer', 'boundary') of a method."""

    def __init__(self, quantity: str, method: str, form: str, source: str, depth: int,
                 finite_size: bool = False, variant: str = "") -> None:
        self.quantity, self.method, self.form = quantity, method, form
        self.source, self.depth, self.finite_size = source, depth, finite_size
        self.variant = variant

    @property
    def declared(self) -> methods.Method:
        """The method's declaration (:mod:`symtransfer.methods`)."""
        return methods.get(self.method)

    @property
    def kernel(self) -> str:
        return kernel_name(self.quantity, self.method, form=self.form, source=self.source,
                           depth=self.depth, finite_size=self.finite_size,
                           variant=self.variant)

    def like(self, **changes) -> "_Spec":
        fields = dict(quantity=self.quantity, method=self.method, form=self.form,
                      source=self.source, depth=self.depth, finite_size=self.finite_size,
                      variant=self.variant)
        fields.update(changes)
        return _Spec(**fields)


def _shape(params: dict[str, Any]) -> tuple:
    return np.broadcast_shapes(*(v.shape for v in params.values() if isinstance(v, np.ndarray)))


def _singular_masks(spec: _Spec, params: dict[str, Any]) -> list[tuple[Array, Callable]]:
    """(mask, rule) for every kind of singular point, on the (unbroadcast) parameters."""
    if spec.finite_size:
        return [(_finite_size_singular(spec, params), _finite_size_limit)]
    if spec.variant == "optimal_ridge":
        return []  # finite everywhere, also at gamma = 1
    if spec.variant == "ridge":  # lam = 0 is ridgeless least squares / min-norm
        return [(np.asarray(params["lam"] == 0, dtype=bool), _ridgeless)]
    masks = []
    if spec.source == "penalized":
        masks.append((np.asarray(params["mu"] >= 1, dtype=bool), _collapsed))
    if spec.source == "finite":
        masks.append((_equals_one(params["gamma_s"]), _gamma_s_one))
    # quantities singular at gamma = 1 (others: no gamma, or a Piecewise branch there); a
    # variant (a tuned learner) is regular there, and gamma_one_lam limits the rule in lam
    if spec.quantity in spec.declared.gamma_one and not spec.variant:
        at_one = _equals_one(params["gamma"])
        where = spec.declared.gamma_one_lam.get(spec.quantity)
        if where is not None:
            zero = np.asarray(params["lam"] == 0, dtype=bool)
            at_one = at_one & (zero if where == "zero" else ~zero)
        masks.append((at_one, _gamma_one))
    return masks


def _equals_one(values: Array) -> Array:
    if values.dtype != object and values.size and not values.min() <= 1 <= values.max():
        return np.zeros(values.shape, dtype=bool)  # cheap: no entry can be 1
    return np.asarray(values == 1, dtype=bool)


def _compute(spec: _Spec, params: dict[str, Any], backend) -> Array:
    """Evaluate spec where params broadcast, with the singular points handled.

    Fast path: no singular point, so the kernel sees the arrays as given (an outer grid of a
    gamma column and a theta row is evaluated without materializing 2-d inputs).
    """
    shape = _shape(params)
    singular = _singular_masks(spec, params)
    if not any(mask.any() for mask, _ in singular):
        return backend.call(spec.kernel, params, shape)
    params = {k: (np.broadcast_to(v, shape) if isinstance(v, np.ndarray) else v)
              for k, v in params.items()}
    taken = np.zeros(shape, dtype=bool)
    rules = []
    for mask, rule in singular:
        mask = np.broadcast_to(mask, shape) & ~taken
        taken |= mask
        rules.append((mask, rule))
    out = _fill(backend, shape, backend.nan)
    regular = ~taken
    if regular.any():
        sub = _subset(params, regular)
        out[regular] = backend.call(spec.kernel, sub, (int(regular.sum()),))
    for mask, rule in rules:
        if mask.any():
            out[mask] = rule(spec, _subset(params, mask), backend)
    return out


def _ridgeless(spec: _Spec, params: dict[str, Any], backend) -> Array:
    return _compute(spec.like(variant=""), params, backend)


def _gamma_one(spec: _Spec, params: dict[str, Any], backend) -> Array:
    """gamma = 1: divergent limit with noise, continuous limit (from below) without."""
    out = _fill(backend, params["gamma"].shape, backend.nan)
    noisy = np.asarray(params["sigma"] > 0, dtype=bool)
    out[noisy] = getattr(backend, spec.declared.gamma_one[spec.quantity])
    if (~noisy).any():
        out[~noisy] = _continuous_limit(spec, _subset(params, ~noisy), "gamma", backend)
    return out


def _continuous_limit(spec: _Spec, params: dict[str, Any], key: str, backend) -> Array:
    """Limit at ``params[key] -> 1`` of a quantity continuous there: evaluated at
    ``1 - 10**-(digits+10)`` with mpmath (at 40 digits for float64 results, then rounded)."""
    if isinstance(backend, _Mpmath):
        with backend.mpmath.workdps(2 * backend.digits + 20):  # so that 1 - eps != 1
            params = dict(params, **{key: _fill(backend, params[key].shape,
                                                backend.one_below())})
            values = _compute(spec, params, backend)
        return np.array([+v for v in values.flat], dtype=object).reshape(values.shape)
    with _precision_context(_EXACT_DIGITS):
        exact = _Mpmath(_EXACT_DIGITS)
        values = _continuous_limit(spec, _lift_all(params, exact), key, exact)
        return np.array([float(v) for v in values.flat]).reshape(values.shape)


def _gamma_s_one(spec: _Spec, params: dict[str, Any], backend) -> Array:
    """gamma_s = 1: |beta_hat_s| diverges with source noise; continuous limit without."""
    shape = params["gamma"].shape
    out = _fill(backend, shape, backend.nan)
    noisy = np.asarray(params["sigma_s"] > 0, dtype=bool)
    if spec.declared.gamma_s_one is None:  # finite also with source noise (LP-FT's probe)
        noisy = np.zeros(noisy.shape, dtype=bool)
    quiet = ~noisy
    if quiet.any():
        out[quiet] = _continuous_limit(spec, _subset(params, quiet), "gamma_s", backend)
    if not noisy.any() or spec.quantity == "boundary":  # boundary: T has one sign: NaN
        return out
    sub = _subset(params, noisy)
    below = np.asarray(sub["gamma"] < 1, dtype=bool)
    out[noisy] = spec.declared.gamma_s_one(spec.quantity, below=below, backend=backend,
                                           scratch=lambda: _scratch(spec, sub, backend))
    return out


def _collapsed(spec: _Spec, params: dict[str, Any], backend) -> Array:
    """mu >= 1: pretraining learns nothing, the method (``collapses_to_scratch``: fine-tuning)
    is training from scratch."""
    shape = params["gamma"].shape
    if spec.quantity == "risk":
        return _scratch(spec, params, backend)
    return _fill(backend, shape, 0 if spec.quantity == "transfer" else backend.nan)


def _scratch(spec: _Spec, params: dict[str, Any], backend) -> Array:
    return _compute(spec.like(quantity="risk", method=methods.reference().name,
                              source="population"), params, backend)


def _finite_size_singular(spec: _Spec, params: dict[str, Any]) -> Array:
    n, d = params["gamma"] * params["d"], params["d"]
    return spec.declared.finite_size.singular(n, d)


def _finite_size_limit(spec: _Spec, params: dict[str, Any], backend) -> Array:
    """Where the finite-size expectation diverges (scratch: the inverse-Wishart mean at
    |n - d| <= 1; linear transfer: the inverse-chi-square mean at n <= 2): inf, except the
    limits the method declares (``FiniteSize.limit``)."""
    n, d, sigma = params["gamma"] * params["d"], params["d"], params["sigma"]
    noisy = np.asarray(sigma > 0, dtype=bool)
    out = _fill(backend, noisy.shape, backend.inf)
    spec.declared.finite_size.limit(n, d, params, noisy, out)
    return out


#: 'ridgeless': plain scratch vs the method as given; 'optimal_ridge': tuned scratch (ridge at
#: lam* = sigma^2/gamma) vs the method as given; 'fair': tuned scratch vs the tuned method (each
#: method's own best hyperparameter: L2-SP at its lam*; a method without one as it is)
BASELINES = ("ridgeless", "optimal_ridge", "fair")
#: the baselines in which the learner chooses its own lam
TUNED_BASELINES = ("optimal_ridge", "fair")


def _prepare(method: str, *, gamma, theta, sigma, lam, depth, gamma_s, sigma_s, form, d,
             precision, baseline="ridgeless", mu=0.0) -> tuple[_Spec, dict[str, Any], Any]:
    digits = V.precision_digits(precision)
    m = methods.get(V.method_name(method))
    V.choice("form", form, V.FORMS)
    V.choice("baseline", baseline, BASELINES)
    if baseline not in m.baselines and baseline != "fair":
        reference = methods.reference().name
        raise ValueError(f"baseline selects the {reference} learner: it applies to "
                         f"method={reference!r} (and to transferability's reference), not to "
                         f"method={method!r}")
    if form not in m.forms:
        raise ValueError(f"form={form!r} selects the published fine-tuning form; "
                         f"method={method!r} has " + (
                             "a single form" if len(m.forms) == 1 else f"forms {m.forms}"))
    if gamma_s is not None and m.pretrains and "finite" not in m.sources:
        raise ValueError(f"method={method!r} has no theory of finite-source pretraining "
                         "(gamma_s=...); give gamma_s=None")
    backend = _backend(digits)
    context = _precision_context(digits)
    with context:
        params = V.theory_parameters(method, gamma=gamma, theta=theta, sigma=sigma, lam=lam,
                                     depth=depth, gamma_s=gamma_s, sigma_s=sigma_s,
                                     precision=digits, mu=mu)
        penalized = _check_penalty(m, params, gamma_s, d)
        ridge = bool(np.asarray(params["lam"] != 0, dtype=bool).any())
        if not m.uses_lam and ridge:
            raise ValueError("lam is the ridge penalty of linear transfer (or of ridge "
                             f"regression for method='scratch'); method={method!r} takes "
                             "lam=0")
        if baseline in TUNED_BASELINES and ridge:
            raise ValueError(f"baseline={baseline!r} chooses lam itself (scratch: "
                             "lam* = sigma^2/gamma; fair: each method its best); give lam=0")
        if m.reference and ridge and d is not None:
            raise ValueError(f"the finite-size expectation (d=...) of {method} is known for "
                             "lam=0 only")
        if gamma_s is None and np.asarray(params["sigma_s"] != 0, dtype=bool).any():
            raise ValueError("sigma_s is the source noise of finite-source pretraining; "
                             "give gamma_s as well (gamma_s=None is population pretraining)")
        finite_size = d is not None
        if finite_size:
            params["d"] = _finite_size_parameters(m, params, d, gamma_s)
    arrays = {k: v for k, v in params.items() if isinstance(v, np.ndarray)}
    try:
        np.broadcast_shapes(*(v.shape for v in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {v.shape}" for k, v in arrays.items() if v.ndim)
        raise ValueError(f"parameter arrays do not broadcast together: {shapes}") from None
    # a method that does not pretrain does not see the source
    source = ("penalized" if penalized else
              "finite" if gamma_s is not None and m.pretrains else "population")
    variant = m.variant_of(baseline, ridge)
    spec = _Spec("risk", method, form, source, params.pop("depth"), finite_size, variant)
    params["depth"] = spec.depth
    return spec, params, backend


def _check_penalty(m: methods.Method, params: dict[str, Any], gamma_s, d) -> bool:
    """Whether the pretraining penalty mu is in use, and where its theory applies."""
    mu = params["mu"]
    if not V.pretrain_penalty(m.name, mu, gamma_s):
        return False
    if "penalized" not in m.sources:
        raise ValueError(f"method={m.name!r} has no theory of penalized pretraining (mu > 0)")
    if d is not None:
        raise ValueError("no finite-size expectation (d=...) is known with mu > 0")
    if params["depth"] != 2:
        raise ValueError("mu > 0 has a theory for depth=2 only: for depth >= 3 the origin is a "
                         "local minimum of the penalized loss, and gradient flow from a "
                         "vanishing initialization never leaves it (simulate() runs any depth)")
    if not m.collapses_to_scratch and bool(np.asarray(mu >= 1, dtype=bool).any()):
        raise ValueError("mu >= 1 leaves the pretrained weights at their random "
                         f"initialization; {m.label} on those features has no theory here")
    return True


def _finite_size_parameters(m: methods.Method, params: dict[str, Any], d, gamma_s) -> Array:
    d = V.integer("d", d, minimum=1, maximum=MAX_D)
    if m.finite_size is None or (gamma_s is not None and m.pretrains
                                 and "finite" not in m.finite_size.sources):
        known = ", ".join(repr(x.name) for x in methods.all_methods()
                          if x.finite_size is not None)
        raise ValueError(f"the exact finite-size expectation (d=...) is known for {known} "
                         "(ridgeless, with population pretraining) only")
    if not m.reference and np.asarray(params["lam"] != 0, dtype=bool).any():
        raise ValueError(f"the exact finite-size expectation (d=...) of {m.label} is "
                         "known for lam=0 only")
    params["gamma"] = _exact_sample_ratio(params["gamma"], d)
    return d


#: the largest d of a finite-size expectation (n = gamma*d must be an exact float64 integer)
MAX_D = 2 ** 53


def _exact_sample_ratio(gamma: Array, d: int) -> Array:
    """n/d as exact fractions, n = gamma*d checked to be a whole number >= 1 (to 1e-9
    relative, so that a float or decimal gamma such as 0.99 at d = 100 is n = 99 exactly, on
    the float64 and the mpmath path alike)."""
    import mpmath

    out = np.empty(gamma.shape, dtype=object)
    for index, g in np.ndenumerate(gamma):
        n = g * d
        whole = int(round(n)) if isinstance(n, float) else int(mpmath.nint(n))
        if whole < 1 or abs(n - whole) > 1e-9 * whole:
            raise ValueError("gamma*d must be a whole number of samples >= 1, got "
                             f"gamma*d = {n} (gamma = {g}, d = {d})")
        out[index] = Fraction(whole, d)
    return out


class _precision_context:
    """``mpmath.workdps(digits)`` when a precision is asked for; nothing otherwise."""

    def __init__(self, digits: int | None) -> None:
        self.digits = digits
        self._ctx = None

    def __enter__(self):
        if self.digits is not None:
            import mpmath

            self._ctx = mpmath.workdps(self.digits)
            self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        if self._ctx is not None:
            return self._ctx.__exit__(*exc)
        return False


def _run(quantity: str, method: str, kwargs: dict[str, Any]):
    spec, params, backend = _prepare(method, **kwargs)
    spec = spec.like(quantity=quantity)
    with _precision_context(kwargs["precision"]):
        if spec.finite_size and isinstance(backend, _Float64):
            out = _float_via_mpmath(spec, params)
        else:
            out = _compute(spec, params, backend)
        if quantity != "boundary" and _has_nan(out):
            raise RuntimeError(f"internal error: {quantity} of {method!r} evaluated to NaN "
                               f"at valid input; please report ({kwargs})")
        return backend.finish(out)


def _has_nan(out: Array) -> bool:
    if out.dtype == object:
        return any(x != x for x in out.flat)
    return bool(np.isnan(out).any())


def _anisotropic(quantity: str, method: str, spectrum, kwargs: dict[str, Any],
                 source_spectrum=None):
    """risk/transferability with an input covariance spectrum (symtransfer.anisotropic):
    generic or aligned teachers, population or finite source (with its own spectrum)."""
    from . import anisotropic
    from .spectra import Discrete

    if spectrum is None:  # isotropic target inputs, a finite source with its own spectrum
        spectrum = Discrete([1.0])
    mu = kwargs.get("mu", 0.0)
    if not (mu is None or np.all(np.asarray(mu, dtype=object) == 0)):
        raise ValueError(f"mu is not supported together with spectrum= (penalized pretraining "
                         f"has no anisotropic theory); got mu={mu!r}")
    V.choice("baseline", kwargs.get("baseline", "ridgeless"), BASELINES)
    if kwargs.get("d") is not None:
        return _anisotropic_finite_size(quantity, method, kwargs)
    if kwargs.get("precision") is not None:
        return _anisotropic_mpmath(quantity, method, spectrum, kwargs, source_spectrum)
    source = {"gamma_s": kwargs.get("gamma_s"), "sigma_s": kwargs.get("sigma_s", 0.0),
              "source_spectrum": source_spectrum}
    if quantity == "boundary":
        return anisotropic.phase_boundary(method, spectrum, gamma=kwargs["gamma"],
                                          sigma=kwargs["sigma"], lam=kwargs["lam"],
                                          depth=kwargs["depth"], form=kwargs["form"],
                                          teacher=kwargs["teacher"], **source)
    fn = anisotropic.risk if quantity == "risk" else anisotropic.transferability
    return fn(method, spectrum, gamma=kwargs["gamma"], theta=kwargs["theta"],
              sigma=kwargs["sigma"], lam=kwargs["lam"], depth=kwargs["depth"],
              form=kwargs["form"], teacher=kwargs["teacher"],
              baseline=kwargs.get("baseline", "ridgeless"), **source)


def _anisotropic_mpmath(quantity: str, method: str, spectrum, kwargs: dict[str, Any],
                        source_spectrum):
    """``precision=`` with a spectrum: :func:`symtransfer.anisotropic_source.evaluate_mp`."""
    from . import anisotropic_source as S
    from .teachers import profile

    profile(kwargs["teacher"])
    V.method_name(method)
    if method not in ("scratch", "linear", "finetune"):
        raise ValueError(f"method must be 'scratch', 'linear' or 'finetune' with spectrum=, "
                         f"got {method!r}")
    V.choice("form", kwargs["form"], ("exact", "paper"))
    if quantity == "boundary" and method == "scratch":
        raise ValueError("method must be 'linear' or 'finetune' for a phase boundary")
    digits = V.precision_digits(kwargs["precision"])
    with _precision_context(digits):
        params = V.theory_parameters(
            method, gamma=kwargs["gamma"],
            theta=0.0 if quantity == "boundary" else kwargs.get("theta"), sigma=kwargs["sigma"],
            lam=kwargs["lam"], depth=kwargs["depth"], gamma_s=kwargs.get("gamma_s"),
            sigma_s=kwargs.get("sigma_s", 0.0), precision=digits)
        finite = kwargs.get("gamma_s") is not None
        if not finite and np.any(params["sigma_s"] != 0):
            raise ValueError("sigma_s is the source noise of finite-source pretraining; give "
                             "gamma_s as well (gamma_s=None is population pretraining)")
        if method == "finetune" and np.any(params["lam"] != 0):
            raise ValueError("lam applies to scratch and linear transfer; fine-tuning is "
                             "ridgeless")
        baseline = kwargs.get("baseline", "ridgeless")
        if quantity == "risk" and baseline == "optimal_ridge" and (
                method != "scratch" or np.any(params["lam"] != 0)):
            raise ValueError("baseline='optimal_ridge' is a scratch learner that chooses lam "
                             "itself: use it with method='scratch' and lam=0")
        out = S.evaluate_mp("transfer" if quantity == "transferability" else quantity, method,
                            spectrum, params, depth=params["depth"], form=kwargs["form"],
                            teacher=kwargs["teacher"], source_spectrum=source_spectrum,
                            finite=finite, baseline=baseline, digits=digits)
    return out.item() if out.ndim == 0 else out


def _anisotropic_finite_size(quantity: str, method: str, kwargs: dict[str, Any]):
    """``d=`` with a spectrum: the exact finite-size expectation exists for least squares
    (scratch at n >= d + 2): ``E (X^T X)^-1 = Sigma^-1/(n-d-1)`` (inverse-Wishart mean) makes
    its Sigma-norm risk ``sigma^2 tr(Sigma Sigma^-1)/(n-d-1) = sigma^2 d/(n-d-1)``, the
    isotropic value for every Sigma. Elsewhere (min-norm, ridge, transfer) the finite-n
    moments of the projector onto the data's row space are not rotation invariant when
    Sigma != I and have no closed form: only the deterministic equivalents (exact as
    d -> infinity) are known, so d= is refused there."""
    if quantity == "risk" and method == "scratch" and kwargs.get("baseline",
                                                                "ridgeless") == "ridgeless":
        g = V.real("gamma", kwargs["gamma"], precision=kwargs.get("precision"), lower=0,
                   lower_open=True)
        lam = V.real("lam", kwargs["lam"], precision=kwargs.get("precision"), lower=0)
        if np.all(np.asarray(g, dtype=float) > 1) and np.all(np.asarray(lam, dtype=float) == 0):
            return risk("scratch", gamma=kwargs["gamma"], sigma=kwargs["sigma"], d=kwargs["d"],
                        precision=kwargs.get("precision"))
    raise ValueError("d (an exact finite-size expectation) with spectrum= exists only for "
                     "scratch least squares (gamma > 1, lam = 0), where it is sigma^2 d/(n-d-1) "
                     "for every Sigma; min-norm, ridge and transfer have no closed-form "
                     "finite-d moments when Sigma != I: give d=None (the d -> infinity "
                     "deterministic equivalent)")


def _covariance_options(spectrum, source_spectrum, teacher, kwargs: dict[str, Any]) -> bool:
    """Validate ``spectrum``, ``source_spectrum`` and ``teacher``; True when the anisotropic
    theory is needed (a target spectrum, or a finite source with its own spectrum).

    A source spectrum (covariate shift) changes nothing under population pretraining: gradient
    flow reaches beta_s with balanced rank-1 weights for any full-rank source covariance, so
    the risks are those without it. With a finite source it matters
    (:mod:`symtransfer.anisotropic_source`); with penalized pretraining it is refused (no
    theory)."""
    from .spectra import Spectrum
    from .teachers import Generic, profile

    for name, value in (("spectrum", spectrum), ("source_spectrum", source_spectrum)):
        if value is not None and not isinstance(value, Spectrum):
            raise TypeError(f"{name} must be None or a symtransfer.spectra.Spectrum "
                            f"(Discrete, PowerLaw, Empirical), got {type(value).__name__}")
    prof = profile(teacher)
    if spectrum is None and not isinstance(prof, Generic):
        raise ValueError(f"teacher={prof!r} needs spectrum= (with x ~ N(0, I) every unit "
                         "teacher is generic)")
    if source_spectrum is not None:
        if np.any(np.asarray(kwargs.get("mu", 0.0), dtype=object) != 0):
            raise ValueError("source_spectrum with penalized pretraining (mu > 0) has no theory "
                             "yet; give mu=0")
    # a finite source with its own spectrum matters also for isotropic target inputs
    return spectrum is not None or (source_spectrum is not None
                                    and kwargs.get("gamma_s") is not None)


def risk(method: str, *, gamma, theta=None, sigma=0.0, lam=0.0, depth: int = 2,
         gamma_s=None, sigma_s=0.0, form: str = "exact", d: int | None = None,
         precision: int | None = None, baseline: str = "ridgeless", mu=0.0, spectrum=None,
         teacher="generic", source_spectrum=None):
    """Generalization error ``R = |beta_hat - beta_t|^2`` of a training method.

    Parameters
    ----------
    method : {'scratch', 'linear', 'finetune'}
        Training on the target only; readout refit on frozen pretrained features (ridge with
        ``lam > 0``); fine-tuning of all layers from the pretrained weights. Or any method
        registered in :mod:`symtransfer.methods`.
    gamma : target samples per dimension n/d (> 0). Arrays broadcast with all others.
    theta : angle between source and target teachers, in [0, pi] (not used by 'scratch').
    sigma : target noise standard deviation (>= 0).
    lam : ridge penalty (>= 0): of the readout refit for 'linear'; for 'scratch', ridge
        regression on the target data (Marchenko-Pastur asymptotics).
    depth : number of layers L (integer, 2 to 1_000_000).
    gamma_s, sigma_s : finite-source pretraining on gamma_s*d samples with noise sigma_s;
        ``gamma_s=None`` is pretraining on the population loss.
    form : 'exact' (default) or 'paper': the published fine-tuning form, which keeps the
        pretrained null-space component unchanged (exact only at sigma = 0 with |beta_hat_s| = 1).
    d : if given, the exact finite-size expectation at dimension d (1 to 2**53), n = gamma*d a
        whole number (known for 'scratch', and for ridgeless 'linear' with population
        pretraining).
    precision : None for float64, or a number of significant digits (1 to 5000) evaluated
        with mpmath; decimal strings, fractions and sympy numbers are then read with guard
        digits beyond it.
    baseline : for 'scratch' only: 'ridgeless' (default; min-norm / least squares, or ridge
        at the given lam) or 'optimal_ridge' (ridge at lam* = sigma^2/gamma, which removes the
        double-descent peak).
    mu : penalty of pretraining (>= 0): pretraining minimizes ``E(f - y)^2 + mu |w - w_0|^2``
        (w_0 the vanishing initialization, so the penalty is weight decay). Depth 2 shrinks the
        pretrained vector to ``(1 - mu) beta_s``; ``mu >= 1`` learns nothing (fine-tuning is
        then scratch training). Population pretraining and depth 2 only.
    spectrum : None (x ~ N(0, I), default) or a :mod:`symtransfer.spectra` spectrum of the
        input covariance Sigma: the risk is then in the Sigma-norm, for population or
        finite-source pretraining (:mod:`symtransfer.anisotropic`). With
        ``baseline='optimal_ridge'``: lam* = sigma^2/gamma for generic teachers (the Bayes
        ridge, for any Sigma), a numeric minimization for aligned ones
        (:func:`symtransfer.anisotropic.optimal_ridge`).
    teacher : 'generic' (default: uniformly random orientation relative to Sigma's
        eigenvectors) or a :mod:`symtransfer.teachers` profile, e.g. ``Aligned(power)`` (energy
        per eigendirection proportional to eigenvalue**power); needs ``spectrum``.
    source_spectrum : None or the source inputs' spectrum (covariate shift, same eigenvectors
        as the target's, paired largest with largest). With population pretraining it leaves
        every risk unchanged (gradient flow reaches beta_s for any full-rank source
        covariance); with a finite source (``gamma_s``) it enters through the pretrained
        vector's deterministic equivalents (:mod:`symtransfer.anisotropic_source`); with
        ``mu > 0`` it raises (no theory).

    Returns a float (or array) in float64; an mpmath number (or object array) with precision.
    Singular points (gamma = 1, gamma_s = 1) return their limits, ``inf`` where the risk
    diverges; see the module docstring.
    """
    kwargs = dict(gamma=gamma, theta=theta, sigma=sigma, lam=lam, depth=depth, gamma_s=gamma_s,
                  sigma_s=sigma_s, form=form, d=d, precision=precision, baseline=baseline, mu=mu)
    if _covariance_options(spectrum, source_spectrum, teacher, kwargs):
        return _anisotropic("risk", method, spectrum, dict(kwargs, teacher=teacher),
                            source_spectrum)
    return _run("risk", method, kwargs)


def transferability(method: str, *, gamma, theta=None, sigma=0.0, lam=0.0, depth: int = 2,
                    gamma_s=None, sigma_s=0.0, form: str = "exact", d: int | None = None,
                    precision: int | None = None, baseline: str = "ridgeless", mu=0.0,
                    spectrum=None, teacher="generic", source_spectrum=None):
    """Transferability ``T = R_baseline - R_method`` (> 0: transfer helps); same parameters as
    :func:`risk`. ``lam`` is the method's ridge penalty; the reference is scratch training,
    ridgeless (default) or ridge at its optimal penalty (``baseline='optimal_ridge'``).
    Against the ridgeless baseline T is computed from the simplified difference, so the noise
    terms that diverge at gamma = 1 cancel where they should (fine-tuning's T is 0 for
    gamma >= 1)."""
    V.choice("baseline", baseline, BASELINES)
    kwargs = dict(gamma=gamma, theta=theta, sigma=sigma, lam=lam, depth=depth, gamma_s=gamma_s,
                  sigma_s=sigma_s, form=form, d=d, precision=precision, mu=mu)
    if _covariance_options(spectrum, source_spectrum, teacher, kwargs):
        return _anisotropic("transferability", method, spectrum,
                            dict(kwargs, baseline=baseline, teacher=teacher), source_spectrum)
    m, scratch = methods.get(V.method_name(method)), methods.reference()
    if d is None and baseline == "ridgeless" and not m.reference:
        return _run("transfer", method, kwargs)
    reference = risk(scratch.name, gamma=gamma, sigma=sigma, d=d, precision=precision,
                     baseline=baseline)
    own = "fair" if baseline == "fair" else "ridgeless"  # the method's tuned learner, or itself
    with np.errstate(invalid="ignore"):  # inf - inf at gamma = 1: replaced just below
        T = np.subtract(reference, risk(method, baseline=own, **kwargs))
    if m.reference and baseline == "ridgeless":
        # the same learner on both sides where lam = 0: T = 0 exactly, also at the peak
        zero = 0.0 if precision is None else _Mpmath(int(precision)).mpmath.mpf(0)
        with _precision_context(precision):
            lam_values = V.real("lam", lam, precision=precision, lower=0)
        mask = np.asarray(np.broadcast_to(lam_values, np.shape(T)) == 0, dtype=bool)
        T = np.where(mask, np.asarray(zero, dtype=object if precision else float), T)
    if precision is None:
        T = _refine_differences(method, dict(kwargs, baseline=baseline), np.asarray(T))
    return T.item() if isinstance(T, np.ndarray) and T.ndim == 0 else T


_ARRAY_ARGS = ("gamma", "theta", "sigma", "lam", "gamma_s", "sigma_s", "mu")


def _refine_differences(method: str, kwargs: dict[str, Any], T: Array) -> Array:
    """float64 ``R_baseline - R_method`` is NaN where both risks overflowed to inf (e.g. at
    sigma = 1e308): those entries are computed again with mpmath and rounded. Where both
    risks are truly infinite (finite size at tiny d) the difference stays NaN."""
    bad = np.isnan(T)
    if not bad.any():
        return T
    sub = dict(kwargs, precision=_EXACT_DIGITS)
    for name in _ARRAY_ARGS:
        if kwargs.get(name) is not None:
            sub[name] = np.broadcast_to(np.asarray(kwargs[name], dtype=float), T.shape)[bad]
    exact = np.atleast_1d(transferability(method, **sub))
    T = np.array(T, dtype=float)
    T[bad] = [float(v) for v in exact]
    return T


def anomalous_transfer(method: str, *, gamma, theta, sigma=0.0, lam=0.0, depth: int = 2,
                       gamma_s=None, sigma_s=0.0, form: str = "exact", mu=0.0, spectrum=None,
                       teacher="generic", source_spectrum=None, baseline: str = "optimal_ridge"):
    """Where transfer beats the unregularized baseline but not the optimally regularized one:
    ``T_ridgeless > 0 >= T_baseline`` (the reviewers' "anomalous positive transfer", the
    double-descent peak of the baseline near gamma = 1). ``baseline``: 'optimal_ridge' (the
    method as given against tuned scratch) or 'fair' (the tuned method against tuned scratch;
    then ``lam`` must be 0 and the ridgeless side uses the method at lam = 0). Boolean array
    over the broadcast parameters. ``spectrum``, ``teacher``, ``source_spectrum``: as in
    :func:`risk`."""
    V.choice("baseline", baseline, TUNED_BASELINES)
    kwargs = dict(gamma=gamma, theta=theta, sigma=sigma, lam=lam, depth=depth, gamma_s=gamma_s,
                  sigma_s=sigma_s, form=form, mu=mu, spectrum=spectrum, teacher=teacher,
                  source_spectrum=source_spectrum)
    plain = np.asarray(transferability(method, **kwargs))
    tuned = np.asarray(transferability(method, baseline=baseline, **kwargs))
    return (plain > 0) & (tuned <= 0)


def phase_boundary(method: str, *, gamma, sigma=0.0, lam=0.0, depth: int = 2, gamma_s=None,
                   sigma_s=0.0, form: str = "exact", precision: int | None = None, mu=0.0,
                   spectrum=None, teacher="generic", source_spectrum=None):
    """theta* in [0, pi/2] where ``transferability(method, ...)`` changes sign, in closed form.

    Fine-tuning: T > 0 exactly for theta < theta* (``theta* = pi/3`` for the paper's form).
    Linear/ridge transfer: T > 0 for theta < theta* and for theta > pi - theta*.
    NaN where T has one sign for all theta (e.g. fine-tuning at gamma >= 1, where T = 0).
    ``spectrum``, ``teacher``, ``source_spectrum``: as in :func:`risk`
    (:func:`symtransfer.anisotropic.phase_boundary`: ``cos(theta*) = c/2`` for fine-tuning).
    """
    with_boundary = tuple(x.name for x in methods.with_boundary())
    if method not in with_boundary:
        raise ValueError(f"method must be {' or '.join(map(repr, with_boundary))} for a phase "
                         f"boundary, got {method!r}")
    options = dict(gamma=gamma, sigma=sigma, lam=lam, depth=depth, gamma_s=gamma_s,
                   sigma_s=sigma_s, form=form, precision=precision, mu=mu)
    if _covariance_options(spectrum, source_spectrum, teacher, options):
        return _anisotropic("boundary", method, spectrum, dict(options, teacher=teacher),
                            source_spectrum)
    return _run("boundary", method, dict(gamma=gamma, theta=0.0,
                                         sigma=sigma, lam=lam, depth=depth, gamma_s=gamma_s,
                                         sigma_s=sigma_s, form=form, d=None, precision=precision,
                                         mu=mu))


def optimal_penalty(*, gamma, theta, sigma=0.0, form: str = "exact",
                    precision: int | None = None):
    """The pretraining penalty mu* that maximizes fine-tuning transferability (depth 2).

    Fine-tuning from a pretrained vector shrunk to ``b beta_s`` has
    ``T = (1-gamma) c b (2 cos(theta) - c b)`` (c: the null-space scale; 1 in the paper's form),
    largest at ``c b = cos(theta)``, where ``T* = (1-gamma) cos(theta)^2 >= 0``: the best penalty
    removes negative transfer. Paper's form: ``mu* = 1 - cos(theta)``; exact form:
    ``mu* = 1 - cos(theta)^2/sqrt((1-gamma) cos(theta)^2 + B)``, B = gamma + sigma^2 gamma/(1-gamma).
    For theta >= pi/2, mu* = 1 (learn nothing); for gamma >= 1 every mu gives T = 0 and 0 is
    returned. ``transferability('finetune', mu=optimal_penalty(...))`` evaluates T*.
    """
    _, params, backend = _prepare("finetune", gamma=gamma, theta=theta, sigma=sigma, lam=0.0,
                                  depth=2, gamma_s=None, sigma_s=0.0, form=form, d=None,
                                  precision=precision)
    name = kernel_name("penalty", "finetune", form=form, source="penalized")
    with _precision_context(precision):  # gamma >= 1 is a branch of the kernel (0), no limit
        out = backend.call(name, params, _shape(params))
        if _has_nan(out):
            raise RuntimeError("internal error: optimal_penalty evaluated to NaN at valid "
                               f"input; please report (gamma={gamma}, theta={theta}, "
                               f"sigma={sigma}, form={form})")
        return backend.finish(out)


def optimal_lam(method: str, *, gamma, theta, sigma=0.0, gamma_s=None, sigma_s=0.0,
                precision: int | None = None):
    """The penalty lam* that minimizes the asymptotic risk of ``method`` (its ``lam_star``
    quantity; registered: 'l2sp', ``lam* = sigma^2/(gamma |beta_t - beta_hat_s|^2)``, ``inf``
    where beta_hat_s is the target teacher). ``risk(method, lam=optimal_lam(...))`` equals
    ``risk(method, baseline='fair')``."""
    m = methods.get(V.method_name(method))
    if "lam_star" not in m.extra:
        having = [x.name for x in methods.all_methods() if "lam_star" in x.extra]
        raise ValueError(f"method must be one of {tuple(having)} for optimal_lam (a method with "
                         f"a closed-form best penalty), got {method!r}")
    spec, params, backend = _prepare(method, gamma=gamma, theta=theta, sigma=sigma, lam=0.0,
                                     depth=2, gamma_s=gamma_s, sigma_s=sigma_s, form="exact",
                                     d=None, precision=precision)
    name = kernel_name("lam_star", method, source=spec.source)
    with _precision_context(precision):
        out = backend.call(name, params, _shape(params))
        if _has_nan(out):
            raise RuntimeError("internal error: optimal_lam evaluated to NaN at valid input; "
                               f"please report (gamma={gamma}, theta={theta}, sigma={sigma})")
        return backend.finish(out)
