"""Property-based robustness of the public theory API over its whole domain (issue #11).

For every public function and every method / form / source / baseline the only outcomes
allowed are

* a correct value: finite float64 results agree with the mpmath path (``precision=30``);
  float64 inf only where the true value is infinite or beyond the float64 range, 0 only
  where it is below it; NaN only for a phase boundary that does not exist (also NaN with
  mpmath);
* a ``ValueError`` / ``TypeError`` whose message names the offending parameter.

No other exception type and no warning (RuntimeWarning, ComplexWarning, ...) may escape: every
call runs with warnings turned into errors. Examples are derandomized (a fixed, reproducible
set in CI); ``SYMTRANSFER_FUZZ_EXAMPLES=N`` runs N random examples instead (a longer local
search).
"""
from __future__ import annotations

import math
import os
import warnings

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as hs

import symtransfer as st
from symtransfer import theory
from symtransfer.validation import MAX_DEPTH, MAX_PRECISION

_LONG = os.environ.get("SYMTRANSFER_FUZZ_EXAMPLES")  # a longer, random search when set
settings.register_profile(
    "symtransfer-robustness", derandomize=_LONG is None, deadline=None, database=None,
    max_examples=int(_LONG or 400),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
CI = settings.get_profile("symtransfer-robustness")

PARAMETERS = ("gamma", "theta", "sigma", "lam", "depth", "gamma_s", "sigma_s", "mu", "d",
              "precision", "form", "baseline", "method")

# ------------------------------------------------------------------------------ strategies


def _decades(lo: int, hi: int):
    """Log-uniform positive floats 10**[lo, hi] (the whole float64 range for +-300)."""
    return hs.floats(min_value=lo, max_value=hi).map(lambda e: float(10.0 ** e))


positive = hs.one_of(_decades(-300, 300), hs.floats(min_value=1e-3, max_value=10.0),
                     hs.sampled_from([1.0, 0.5, 2.0, 1 - 1e-12, 1 + 1e-12, 0.99, 1.01]),
                     hs.floats(min_value=5e-324, max_value=1e-300))
nonnegative = hs.one_of(hs.just(0.0), positive)
angles = hs.one_of(hs.floats(min_value=0.0, max_value=math.pi),
                   hs.sampled_from([0.0, math.pi / 3, math.pi / 2, math.pi, 1e-300]))
depths = hs.one_of(hs.integers(min_value=2, max_value=6),
                   hs.sampled_from([10, 100, 1000, 10 ** 4, MAX_DEPTH]))
below_one = hs.one_of(hs.floats(min_value=0.0, max_value=0.999), _decades(-300, -1))


@hs.composite
def valid_calls(draw) -> tuple[str, str, dict]:
    """(function name, method, keyword arguments) of a valid call."""
    fn = draw(hs.sampled_from(["risk", "transferability", "phase_boundary",
                               "optimal_penalty", "anomalous_transfer"]))
    if fn == "optimal_penalty":
        return fn, "finetune", dict(gamma=draw(positive), theta=draw(angles),
                                    sigma=draw(nonnegative),
                                    form=draw(hs.sampled_from(["exact", "paper"])))
    methods = ["linear", "finetune"] if fn in ("phase_boundary", "anomalous_transfer") else [
        "scratch", "linear", "finetune"]
    method = draw(hs.sampled_from(methods))
    kw: dict = dict(gamma=draw(positive), sigma=draw(nonnegative), depth=draw(depths))
    if fn != "phase_boundary" and method != "scratch":
        kw["theta"] = draw(angles)
    if method == "finetune":
        kw["form"] = draw(hs.sampled_from(["exact", "paper"]))
    source = draw(hs.sampled_from(["population", "finite", "penalized"]))
    if method != "scratch" and source == "finite":
        kw.update(gamma_s=draw(positive), sigma_s=draw(nonnegative))
    elif method != "scratch" and source == "penalized":
        kw.update(depth=2, mu=draw(below_one if method == "linear" else nonnegative))
    if method == "linear" or (method == "scratch" and fn == "risk"):
        kw["lam"] = draw(hs.one_of(hs.just(0.0), nonnegative))
    if fn in ("risk", "transferability") and draw(hs.booleans()):
        if method == "scratch" and not kw.get("lam"):
            kw["baseline"] = "optimal_ridge"
        elif fn == "transferability":
            kw["baseline"] = "optimal_ridge"
    finite_size = (fn in ("risk", "transferability") and method in ("scratch", "linear")
                   and "gamma_s" not in kw and "mu" not in kw and not kw.get("lam")
                   and kw.get("baseline", "ridgeless") == "ridgeless" and draw(hs.booleans()))
    if finite_size:
        d = draw(hs.one_of(hs.integers(min_value=1, max_value=300),
                           hs.sampled_from([10 ** 6, 2 ** 40])))
        n = draw(hs.integers(min_value=1, max_value=3 * d))
        kw.update(d=d, gamma=n / d)
    if fn == "anomalous_transfer":
        kw.pop("baseline", None)
    return fn, method, kw


def _call(fn: str, method: str, kw: dict, precision=None):
    """Call with warnings as errors; returns the value or the ValueError/TypeError raised
    (which must name a parameter)."""
    func = getattr(theory, fn)
    args = () if fn == "optimal_penalty" else (method,)
    extra = {} if precision is None else {"precision": precision}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return func(*args, **kw, **extra)
        except (ValueError, TypeError) as error:
            assert any(p in str(error) for p in PARAMETERS), f"{error!r} names no parameter"
            return error


def _is_nan(x) -> bool:
    return x != x


def _agree(quantity: str, f64: float, exact, scale) -> bool:
    """float64 result vs the 30-digit one: equal up to rounding and the formula's own
    cancellation (relative 1e-9 of the value, absolute 1e-12 of the scale of its terms)."""
    if quantity == "boundary" and (_is_nan(exact) != _is_nan(f64)):
        # where the boundary just ceases to exist (at theta* = 0 or pi/2, where T's sign
        # change leaves [0, pi/2]: acos of 1 or sqrt of 0, up to rounding) either is right
        value = f64 if _is_nan(exact) else float(exact)
        return min(abs(value), abs(value - math.pi / 2)) < 1e-6
    if _is_nan(exact):
        return _is_nan(f64)
    if mpmath.isinf(exact) or abs(exact) > 1.7e308:
        return f64 == float(exact)  # inf of the right sign
    if not math.isfinite(f64):
        return False
    tol = 1e-9 * abs(exact) + 1e-12 * scale
    if quantity == "boundary":
        tol = max(tol, 2e-7)  # acos(sqrt(x)) near x = 1 amplifies rounding
    return abs(f64 - exact) <= tol or (abs(exact) < 1e-305 and abs(f64) < 1e-290)


def _scale(fn: str, method: str, kw: dict) -> float:
    """Size of the terms a transferability subtracts (1 for risks: unit teacher norm)."""
    if fn != "transferability":
        return 1.0
    with mpmath.workdps(30):
        parts = [theory.risk(method, precision=30, **{k: v for k, v in kw.items()
                                                      if k != "baseline"})]
        parts.append(theory.risk("scratch", gamma=kw["gamma"], sigma=kw.get("sigma", 0.0),
                                 d=kw.get("d"), precision=30,
                                 baseline=kw.get("baseline", "ridgeless")))
    finite = [abs(p) for p in parts if mpmath.isfinite(p)]
    return float(1 + sum(finite)) if finite else 1.0


# ------------------------------------------------------------------------------ valid domain


@CI
@given(call=valid_calls())
def test_valid_calls_give_correct_values_or_a_named_error(call):
    fn, method, kw = call
    f64 = _call(fn, method, kw)
    if fn == "anomalous_transfer":
        event(f"{fn}: {type(f64).__name__}")  # a boolean array, no precision argument
        assert isinstance(f64, (Exception, np.ndarray, np.bool_, bool))
        return
    exact = _call(fn, method, kw, precision=30)
    event(f"{fn}: {type(f64).__name__}")
    if isinstance(f64, Exception) or isinstance(exact, Exception):
        # refused input is refused on both paths (the float64 range is the only difference)
        assert type(f64) is type(exact), (f64, exact)
        return
    assert isinstance(f64, float) and isinstance(exact, mpmath.mpf)
    quantity = {"phase_boundary": "boundary"}.get(fn, "value")
    if quantity != "boundary":
        assert not _is_nan(f64), f"NaN at valid input {fn}({method}, {kw})"
    if fn == "risk":
        assert f64 >= -1e-12 and float(exact) >= -1e-25
    if quantity == "boundary" and not _is_nan(exact):
        assert -1e-12 <= float(exact) <= math.pi / 2 + 1e-12
    scale = _scale(fn, method, kw) if math.isfinite(f64) else 1.0
    assert _agree(quantity, f64, exact, scale), (fn, method, kw, f64, exact)


@settings(CI, max_examples=60)
@given(gamma=positive, sigma=nonnegative, depth=depths, theta=angles)
def test_arrays_equal_scalars_everywhere(gamma, sigma, depth, theta):
    """Elementwise evaluation: an array entry is the scalar call's value (up to an ulp or
    two: extreme entries may be evaluated exactly in one call and in float64 in the other)."""
    gammas = np.array([gamma, 0.5, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        array = st.risk("finetune", gamma=gammas, theta=theta, sigma=sigma, depth=depth)
        scalar = st.risk("finetune", gamma=gamma, theta=theta, sigma=sigma, depth=depth)
    assert array[0] == pytest.approx(scalar, rel=1e-14, abs=0, nan_ok=True)


# ------------------------------------------------------------------------------ extremes


@pytest.mark.parametrize("call, expected", [
    # optimal ridge: overflow-safe and cancellation-free form (was inf / 4 digits lost)
    (lambda: st.risk("scratch", gamma=1e300, sigma=0.2, baseline="optimal_ridge"), 4e-302),
    (lambda: st.risk("scratch", gamma=4, sigma=1e-6, baseline="optimal_ridge"),
     1e-12 / 3 * (1 - 1e-12 / 3)),
    # overflow to inf is the true value rounded (was NaN / RuntimeError)
    (lambda: st.transferability("scratch", gamma=.5, sigma=1e308, lam=.1), math.inf),
    (lambda: st.risk("finetune", gamma=.5, theta=1, sigma=1e200), math.inf),
])
def test_values_at_float64_extremes(call, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = call()
    if math.isinf(expected):
        assert value == expected
    else:
        assert value == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("kw", [dict(lam=1e308), dict(gamma=1e-320, lam=0.1, method="scratch"),
                                dict(gamma_s=1e-320), dict(gamma_s=1e-320, method="finetune"),
                                dict(depth=1000, method="finetune"),
                                dict(depth=10 ** 4, method="finetune"),
                                dict(depth=MAX_DEPTH, method="finetune", sigma=0.3)])
def test_extremes_agree_with_mpmath(kw):
    """Former RuntimeErrors ("internal error", Newton did not converge) are correct values."""
    kw = dict(dict(gamma=0.5, theta=1.0), **kw)
    method = kw.pop("method", "linear")
    if method == "scratch":
        kw.pop("theta")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f64 = st.risk(method, **kw)
        exact = st.risk(method, precision=30, **kw)
    assert math.isfinite(f64)
    # the float64 root x carries one rounding, which x**(L-1) amplifies to ~L/2 ulps
    rel = 1e-13 + 2e-16 * kw.get("depth", 2)
    assert f64 == pytest.approx(float(exact), rel=rel, abs=1e-300)


def test_deep_finetune_root_against_direct_solve():
    """depth 1000: the fine-tuning risk from an independent 60-digit bisection of
    kappa^L - (1-gamma) kappa^(L-1) - B = 0 (population source, theta = 1, sigma = 0.3)."""
    L = 1000
    with mpmath.workdps(60):
        g, s, th = mpmath.mpf("0.5"), mpmath.mpf("0.3"), mpmath.mpf(1)
        B = g + s ** 2 * g / (1 - g)
        f = lambda k: (L - 1) * mpmath.log(k) + mpmath.log(k - (1 - g)) - mpmath.log(B)  # noqa
        lo, hi = 1 - g, 1 - g + B ** (mpmath.mpf(1) / L)
        for _ in range(300):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if f(mid) > 0 else (mid, hi)
        c = lo ** ((L - 1) / mpmath.mpf(2))
        ref = (1 - g) * (c ** 2 - 2 * c * mpmath.cos(th) + 1) + s ** 2 * g / (1 - g)
    got = st.risk("finetune", gamma="0.5", theta=1, sigma="0.3", depth=L, precision=40)
    assert abs(got - ref) < mpmath.mpf(10) ** -35
    assert st.risk("finetune", gamma=0.5, theta=1, sigma=0.3, depth=L) == pytest.approx(
        float(ref), rel=1e-12)


def test_beyond_float64_needs_precision():
    with pytest.raises(ValueError, match="gamma.*float64 range.*precision"):
        st.risk("scratch", gamma=10 ** 400)
    big = st.risk("scratch", gamma=10 ** 400, sigma=2, precision=30)  # sigma^2/(gamma - 1)
    with mpmath.workdps(40):
        assert abs(big * mpmath.mpf(10) ** 400 / 4 - 1) < mpmath.mpf(10) ** -28


# ------------------------------------------------------------------------------ finite size


@pytest.mark.parametrize("gamma, d, sigma, expected", [
    (0.99, 100, 1.5, math.inf),     # n = d - 1: the inverse-Wishart mean diverges (was -112.5)
    (1.01, 100, 1.5, math.inf),     # n = d + 1 (was 2.5e17)
    (0.98, 100, 1.5, 0.02 + 2.25 * 98 / 1),  # n = d - 2: the branch boundary, exact
    (1.02, 100, 1.5, 2.25 * 100 / 1),        # n = d + 2
])
@pytest.mark.parametrize("precision", [None, 30])
def test_finite_size_forms_n_exactly_on_both_paths(gamma, d, sigma, expected, precision):
    value = st.risk("scratch", gamma=gamma, sigma=sigma, d=d, precision=precision)
    if math.isinf(expected):
        assert value == math.inf
    else:
        assert abs(value - expected) <= 1e-12 * expected


def test_finite_size_linear_at_two_samples_is_singular_on_both_paths():
    for precision in (None, 30):
        assert st.risk("linear", gamma=0.02, theta=0.5, sigma=1.5, d=100,
                       precision=precision) == math.inf
        three = st.risk("linear", gamma=0.03, theta=0.5, sigma=1.5, d=100,
                        precision=precision)
        s2 = math.sin(0.5) ** 2
        assert abs(three - (s2 + (s2 + 2.25) / 1)) < 1e-12


def test_finite_size_gamma_times_d_must_be_whole():
    for precision in (None, 30):
        with pytest.raises(ValueError, match="gamma\\*d"):
            st.risk("scratch", gamma=0.995, d=100, precision=precision)
        with pytest.raises(ValueError, match="gamma\\*d"):
            st.risk("scratch", gamma=1e-12, d=100, precision=precision)
    with pytest.raises(ValueError, match="d must be an integer in"):
        st.risk("scratch", gamma=1.0, d=2 ** 60)


# ------------------------------------------------------------------------------ strings


def test_decimal_strings_are_parsed_beyond_the_working_precision():
    """1 - gamma keeps all 50 requested digits for gamma = "0.999999999999" (was 40)."""
    g = "0.999999999999"
    r = st.risk("scratch", gamma=g, sigma="0.5", precision=50)
    with mpmath.workdps(120):
        G = mpmath.mpf(g)
        ref = (1 - G) + mpmath.mpf("0.25") * G / (1 - G)
        assert abs(r - ref) <= mpmath.mpf(10) ** -49 * ref
    from fractions import Fraction

    r2 = st.risk("scratch", gamma=Fraction(999999999999, 10 ** 12), sigma="0.5", precision=50)
    with mpmath.workdps(120):
        assert abs(r2 - ref) <= mpmath.mpf(10) ** -49 * ref


# ------------------------------------------------------------------------------ bad input

BAD_VALUES = {
    "nan": (math.nan, ValueError), "inf": (math.inf, ValueError),
    "negative": (-1.0, ValueError), "complex": (0.5 + 1j, TypeError),
    "complex array": (np.array([0.5 + 0j, 0.7]), TypeError),
    "bool": (True, TypeError), "np.bool_": (np.bool_(True), TypeError),
    "bool array": (np.array([True, False]), TypeError),
    "datetime": (np.datetime64("2020-01-01"), TypeError),
    "timedelta": (np.timedelta64(3, "s"), TypeError),
    "string": ("0.5", TypeError), "bytes": (b"0.5", TypeError),
    "object": (object(), TypeError), "ragged": ([[0.5], [0.5, 0.6]], TypeError),
    "huge int": (10 ** 400, ValueError),
    "list with nan": ([0.5, math.nan], ValueError),
}
REAL_PARAMETERS = ("gamma", "theta", "sigma", "lam", "gamma_s", "sigma_s", "mu")


def _base(name: str) -> tuple[str, dict]:
    """A valid call that uses parameter ``name``."""
    if name == "lam":
        return "linear", dict(gamma=0.5, theta=0.5)
    if name == "mu":
        return "finetune", dict(gamma=0.5, theta=0.5)
    if name in ("gamma_s", "sigma_s"):
        return "linear", dict(gamma=0.5, theta=0.5, gamma_s=0.5)
    return "finetune", dict(gamma=0.5, theta=0.5)


@CI
@given(name=hs.sampled_from(REAL_PARAMETERS), bad=hs.sampled_from(sorted(BAD_VALUES)),
       fn=hs.sampled_from(["risk", "transferability", "phase_boundary"]),
       precision=hs.sampled_from([None, 30]))
def test_bad_values_are_refused_naming_the_parameter(name, bad, fn, precision):
    value, expected = BAD_VALUES[bad]
    if name == "theta" and fn == "phase_boundary":
        name = "gamma"
    if bad == "negative" and name == "theta":
        value = -0.1
    if precision is not None and bad == "huge int":
        return  # a valid (large) number for mpmath: covered by test_beyond_float64
    if precision is not None and bad in ("string", "bytes"):
        value, expected = ("not a number", TypeError) if bad == "string" else (b"x", TypeError)
    method, kw = _base(name)
    if fn == "phase_boundary":
        kw.pop("theta")
    kw[name] = value
    func = getattr(theory, fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(expected, match=name):
            func(method, precision=precision, **kw)


@pytest.mark.parametrize("name, value, match", [
    ("depth", MAX_DEPTH + 1, "depth must be an integer in"),
    ("depth", np.bool_(True), "depth"), ("depth", 2.0, "depth"),
    ("precision", MAX_PRECISION + 1, "precision must be an integer in"),
    ("precision", 0, "precision"), ("precision", True, "precision"),
])
def test_integer_parameters_have_documented_ranges(name, value, match):
    with pytest.raises(ValueError, match=match):
        st.risk("finetune", gamma=0.5, theta=0.5, **{name: value})


def test_largest_precision_is_usable():
    """precision = MAX_PRECISION returns in well under a second for a closed form."""
    r = st.risk("scratch", gamma="0.5", sigma="0.5", precision=MAX_PRECISION)
    assert abs(r - mpmath.mpf("0.75")) < mpmath.mpf(10) ** -(MAX_PRECISION - 5)


# ------------------------------------------------------------------------------ simulate


def test_simulate_refuses_what_cannot_fit_in_memory():
    from symtransfer.mc.pipeline import memory_lower_bound

    for d, instances in [(10 ** 6, 1), (10 ** 5, 20)]:
        with pytest.raises(ValueError, match=f"d={d}, instances={instances}.*GiB.*instances"):
            st.simulate("scratch", gamma=0.5, d=d, instances=instances)
    kw = dict(gamma=0.5, lam=0.0, baseline="ridgeless", depth=3, gamma_s=None, d=100,
              instances=2)
    assert memory_lower_bound("scratch", kw) == 8 * 2 * (50 * 100 + 50 * 100 + 2 * 100 ** 2)


def test_simulate_takes_numpy_scalars_and_zero_d_arrays():
    kw = dict(gamma=np.float64(0.5), theta=np.array(1.0), gamma_s=np.array(0.5), d=np.int64(10),
              instances=np.int32(1), depth=np.int64(2), progress=np.bool_(False))
    result = st.simulate("linear", **kw)
    assert np.isfinite(result.errors).all()
    assert type(result.params["gamma_s"]) is float and type(result.params["d"]) is int


@pytest.mark.parametrize("kw, error, match", [
    (dict(progress="yes"), TypeError, "progress"),
    (dict(gamma=np.array([0.5, 0.6])), ValueError, "gamma must be a scalar"),
    (dict(gamma=0.5 + 0j), TypeError, "gamma"),
    (dict(gamma=np.bool_(True)), TypeError, "gamma"),
    (dict(sigma=np.datetime64("2020")), TypeError, "sigma"),
    (dict(d=10.0), ValueError, "d must be an integer"),
    (dict(instances=0), ValueError, "instances"),
])
def test_simulate_bad_input_names_the_parameter(kw, error, match):
    with pytest.raises(error, match=match):
        st.simulate("scratch", **{**dict(gamma=0.5, d=10, instances=1), **kw})


# ------------------------------------------------------------------------------ CLI


@pytest.mark.parametrize("args, words", [
    (["risk", "finetune", "--gamma", ".5", "--theta", "1", "--depth", "10000000"], "depth"),
    (["risk", "scratch", "--gamma", "-1"], "gamma"),
    (["risk", "scratch", "--gamma", ".5", "--precision", "100000"], "precision"),
])
def test_cli_bad_input_is_one_line_and_exit_2(args, words, capsys):
    from symtransfer.cli import main

    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err and "Traceback" not in err


def test_cli_deep_network_prints_the_value(capsys):
    from symtransfer.cli import main

    assert main(["risk", "finetune", "--gamma", ".5", "--theta", "1", "--depth", "1000"]) == 0
    value = float(capsys.readouterr().out.split()[-1])
    assert value == pytest.approx(st.risk("finetune", gamma=.5, theta=1, depth=1000), rel=1e-15)


def test_cli_wrapper_turns_errors_of_any_subcommand_into_one_line(monkeypatch, capsys):
    from symtransfer import cli

    def broken(*args, **kwargs):
        raise OverflowError("math range\nerror")

    monkeypatch.setattr(cli, "theory_tables", broken)
    assert cli.main(["report", "--quick"]) == 2
    assert capsys.readouterr().err == "symtransfer report: error: math range error\n"


@pytest.mark.parametrize("convert", [np.float64, np.float32, np.float16, np.longdouble,
                                     lambda x: np.array(x), lambda x: [x], lambda x: (x,)],
                         ids=["float64", "float32", "float16", "longdouble", "0-d", "list",
                              "tuple"])
@pytest.mark.parametrize("precision", [None, 30])
def test_numpy_scalar_types_are_numbers(convert, precision):
    """numpy scalars of every float width, 0-d arrays and sequences are plain numbers (each
    value exactly as stored, e.g. float32(0.5) = 0.5)."""
    kw = dict(gamma=0.5, theta=0.75, sigma=0.25)
    want = st.risk("finetune", depth=np.int64(3), precision=precision, **kw)
    got = st.risk("finetune", depth=np.uint8(3), precision=precision,
                  **{k: convert(v) for k, v in kw.items()})
    assert np.all(np.asarray(got) == want)
