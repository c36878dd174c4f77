"""Bad input raises ValueError / TypeError naming the offending parameter."""
from __future__ import annotations

import math
import re

import mpmath
import numpy as np
import pytest

import symtransfer as st

GOOD = dict(gamma=0.5, theta=1.0, sigma=0.2, lam=0.0, depth=2)


def named(name: str):
    """Regex matching ``name`` as a whole word (so 'gamma' does not match inside 'gamma_s')."""
    return rf"(?<![A-Za-z_]){re.escape(name)}(?![A-Za-z_])"


def call(fn=st.risk, method="linear", **changes):
    kw = dict(GOOD)
    kw.update(changes)
    if method != "linear":
        kw.pop("lam", None)
    return fn(method, **kw)


FUNCS = [st.risk, st.transferability]


@pytest.mark.parametrize("fn", FUNCS)
@pytest.mark.parametrize("name,value", [
    ("gamma", 0.0), ("gamma", -1.0), ("gamma", -1e-300),
    ("sigma", -0.1), ("lam", -0.1),
    ("theta", -0.1), ("theta", 3.2), ("theta", math.pi + 1e-9),
    ("gamma_s", 0.0), ("gamma_s", -2.0),
])
def test_out_of_range_scalar(fn, name, value):
    with pytest.raises(ValueError, match=named(name)):
        call(fn, **{name: value})


@pytest.mark.parametrize("fn", FUNCS)
def test_sigma_s_negative(fn):
    with pytest.raises(ValueError, match=named("sigma_s")):
        call(fn, gamma_s=0.5, sigma_s=-0.1)


def test_theta_pi_is_allowed():
    assert st.risk("linear", gamma=0.5, theta=math.pi) == pytest.approx(0.0, abs=1e-15)
    assert st.risk("linear", gamma=0.5, theta=0.0) == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("depth", [1, 0, -3, 2.5, 2.0, 3.0, True, "3", None])
def test_depth_must_be_an_integer_at_least_2(depth):
    with pytest.raises((ValueError, TypeError), match=named("depth")):
        st.risk("finetune", gamma=0.5, theta=1.0, depth=depth)


def test_depth_float_is_value_error():
    for depth in (2.5, 2.0):
        with pytest.raises(ValueError, match=named("depth")):
            st.risk("linear", gamma=0.5, theta=1.0, depth=depth)
        with pytest.raises(ValueError, match=named("depth")):
            st.phase_boundary("finetune", gamma=0.5, depth=depth)


def test_numpy_integer_depth_is_accepted():
    assert st.risk("finetune", gamma=0.5, theta=1.0, depth=np.int64(3)) == \
        st.risk("finetune", gamma=0.5, theta=1.0, depth=3)


@pytest.mark.parametrize("fn", FUNCS)
@pytest.mark.parametrize("name", ["gamma", "theta", "sigma", "lam", "gamma_s", "sigma_s"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_inf_rejected(fn, name, bad):
    changes = {name: bad}
    if name == "sigma_s":
        changes["gamma_s"] = 0.5
    with pytest.raises(ValueError, match=named(name)):
        call(fn, **changes)


@pytest.mark.parametrize("name", ["gamma", "theta", "sigma", "lam", "gamma_s", "sigma_s"])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nan_and_inf_inside_arrays(name, bad):
    arr = np.array([0.3, 0.4, bad, 0.5])
    changes = {name: arr}
    if name == "sigma_s":
        changes["gamma_s"] = 0.5
    with pytest.raises(ValueError, match=named(name)):
        call(**changes)
    # also in a 2-d array
    changes[name] = arr.reshape(2, 2)
    with pytest.raises(ValueError, match=named(name)):
        call(**changes)


@pytest.mark.parametrize("name,bad", [("gamma", -1.0), ("gamma", 0.0), ("sigma", -0.5),
                                      ("lam", -1e-3), ("theta", 4.0), ("theta", -1.0),
                                      ("gamma_s", 0.0)])
def test_one_bad_entry_in_an_array(name, bad):
    arr = np.array([0.2, 0.3, bad, 0.6])
    with pytest.raises(ValueError, match=named(name)):
        call(**{name: arr})
    with pytest.raises(ValueError, match=named(name)):
        call(**{name: list(arr)})


def test_one_bad_entry_broadcast_against_others():
    with pytest.raises(ValueError, match=named("sigma")):
        st.risk("finetune", gamma=np.array([0.2, 0.5])[:, None],
                theta=np.array([0.1, 0.2])[None, :], sigma=np.array([[0.1], [-0.1]]))


@pytest.mark.parametrize("method", ["linear", "finetune"])
def test_theta_required(method):
    with pytest.raises(ValueError, match=named("theta")):
        st.risk(method, gamma=0.5)
    with pytest.raises(ValueError, match=named("theta")):
        st.transferability(method, gamma=0.5, theta=None)


def test_scratch_needs_no_theta():
    assert st.risk("scratch", gamma=0.5) == pytest.approx(0.5)


@pytest.mark.parametrize("fn", FUNCS)
@pytest.mark.parametrize("method", ["ridge", "Linear", "", None, 3])
def test_unknown_method(fn, method):
    with pytest.raises(ValueError, match=named("method")):
        fn(method, gamma=0.5, theta=1.0)


def test_phase_boundary_method():
    with pytest.raises(ValueError, match=named("method")):
        st.phase_boundary("scratch", gamma=0.5)
    with pytest.raises(ValueError, match=named("method")):
        st.phase_boundary("nope", gamma=0.5)


@pytest.mark.parametrize("form", ["Paper", "approx", "", None])
def test_unknown_form(form):
    with pytest.raises(ValueError, match=named("form")):
        st.risk("finetune", gamma=0.5, theta=1.0, form=form)


@pytest.mark.parametrize("fn", FUNCS)
def test_paper_form_only_for_finetune(fn):
    with pytest.raises(ValueError, match=named("form")):
        fn("linear", gamma=0.5, theta=1.0, form="paper")
    with pytest.raises(ValueError, match=named("form")):
        fn("scratch", gamma=0.5, form="paper")
    with pytest.raises(ValueError, match=named("form")):
        st.phase_boundary("linear", gamma=0.5, form="paper")


@pytest.mark.parametrize("fn", FUNCS)
def test_lam_not_for_finetune(fn):
    """lam is the readout's ridge penalty (linear) or ridge regression (scratch)."""
    with pytest.raises(ValueError, match=named("lam")):
        fn("finetune", gamma=0.5, theta=1.0, lam=0.1)
    with pytest.raises(ValueError, match=named("lam")):
        fn("finetune", gamma=0.5, theta=1.0, lam=np.array([0.0, 0.1]))
    # lam = 0 (the default) is fine
    fn("finetune", gamma=0.5, theta=1.0, lam=0.0)


@pytest.mark.parametrize("fn", FUNCS)
def test_baseline_is_checked_and_named(fn):
    with pytest.raises(ValueError, match=named("baseline")):
        fn("scratch", gamma=0.5, baseline="lasso")
    with pytest.raises(ValueError, match=named("baseline")):
        st.risk("linear", gamma=0.5, theta=1.0, baseline="optimal_ridge")
    with pytest.raises(ValueError, match=named("lam")):
        st.risk("scratch", gamma=0.5, sigma=0.2, lam=0.1, d=100)
    # the optimal-ridge learner picks its own lam (in transferability, lam is the method's)
    with pytest.raises(ValueError, match=named("lam")):
        st.risk("scratch", gamma=0.5, sigma=0.2, lam=0.1, baseline="optimal_ridge")


@pytest.mark.parametrize("fn", FUNCS)
@pytest.mark.parametrize("method", ["scratch", "linear", "finetune"])
def test_sigma_s_needs_gamma_s(fn, method):
    with pytest.raises(ValueError, match=named("sigma_s")) as info:
        fn(method, gamma=0.5, theta=1.0, sigma_s=0.1)
    assert re.search(named("gamma_s"), str(info.value))


@pytest.mark.parametrize("precision", [0, -5, 2.5, 10.0, True, "50"])
def test_precision_must_be_positive_integer(precision):
    with pytest.raises(ValueError, match=named("precision")):
        st.risk("scratch", gamma=0.5, precision=precision)


def test_d_rejected_for_finetune_and_finite_source_linear():
    with pytest.raises(ValueError, match=named("d")):
        st.risk("finetune", gamma=0.5, theta=1.0, d=100)
    with pytest.raises(ValueError, match=named("d")):
        st.risk("linear", gamma=0.5, theta=1.0, d=100, gamma_s=0.5)
    with pytest.raises(ValueError, match=named("lam")):
        st.risk("linear", gamma=0.5, theta=1.0, d=100, lam=0.2)


@pytest.mark.parametrize("d", [0, -10, 100.0, 2.5, "100"])
def test_d_must_be_positive_integer(d):
    with pytest.raises(ValueError, match=named("d")):
        st.risk("scratch", gamma=0.5, d=d)


@pytest.mark.parametrize("gamma,d", [(0.505, 100), (0.3333, 3), (np.array([0.5, 0.505]), 100)])
def test_gamma_times_d_must_be_integer(gamma, d):
    with pytest.raises(ValueError, match=r"gamma\*d"):
        st.risk("scratch", gamma=gamma, d=d)


def test_gamma_times_d_integer_up_to_rounding():
    # 0.29 * 100 = 28.999999999999996 in float64: that is 29 samples
    assert st.risk("scratch", gamma=0.29, d=100) == pytest.approx(1 - 0.29)


@pytest.mark.parametrize("fn", FUNCS)
@pytest.mark.parametrize("name", ["gamma", "theta", "sigma", "lam", "gamma_s", "sigma_s"])
@pytest.mark.parametrize("bad", ["abc", "0.5", b"0.5", 1 + 2j, True, object()])
def test_type_errors_on_float_path(fn, name, bad):
    changes = {name: bad}
    if name == "sigma_s":
        changes["gamma_s"] = 0.5
    with pytest.raises(TypeError, match=named(name)):
        call(fn, **changes)


def test_type_error_inside_array():
    with pytest.raises(TypeError, match=named("gamma")):
        st.risk("scratch", gamma=[0.5, "abc"])
    with pytest.raises(TypeError, match=named("theta")):
        st.risk("linear", gamma=0.5, theta=np.array([True, False]))


def test_none_parameter_is_rejected():
    for name in ("gamma", "sigma"):
        with pytest.raises((TypeError, ValueError), match=named(name)):
            call(**{name: None})


# --- the mpmath path validates just the same -----------------------------------------------


@pytest.mark.parametrize("name,bad,exc", [
    ("gamma", "abc", TypeError), ("gamma", "-1", ValueError), ("gamma", "0", ValueError),
    ("gamma", "nan", ValueError), ("gamma", "inf", ValueError),
    ("theta", "4", ValueError), ("sigma", "-0.1", ValueError), ("lam", "-1e-40", ValueError),
    ("gamma_s", "0", ValueError), ("theta", 1 + 2j, TypeError),
])
def test_mpmath_path_validation(name, bad, exc):
    with pytest.raises(exc, match=named(name)):
        call(precision=30, **{name: bad})


def test_mpmath_path_array_with_one_bad_entry():
    with pytest.raises(ValueError, match=named("gamma")):
        st.risk("scratch", gamma=["0.5", "-1", "2"], precision=30)
    with pytest.raises(ValueError, match=named("theta")):
        st.risk("linear", gamma="0.5", theta=[mpmath.mpf(1), mpmath.nan], precision=30)
    with pytest.raises(ValueError, match=named("sigma")):
        st.risk("scratch", gamma="0.5", sigma=[mpmath.mpf(1), mpmath.inf], precision=30)


def test_mpmath_theta_pi_rounded_up_is_allowed():
    # pi to 30 digits, rounded up in its last digit, is still "pi"
    assert st.risk("linear", gamma="0.5", theta="3.14159265358979323846264338328",
                   precision=30) < mpmath.mpf(10) ** -25
    with pytest.raises(ValueError, match=named("theta")):
        st.risk("linear", gamma="0.5", theta="3.1416", precision=30)


def test_errors_leave_no_trace_in_global_mpmath_precision():
    dps = mpmath.mp.dps
    with pytest.raises(ValueError):
        st.risk("scratch", gamma="-1", precision=80)
    assert mpmath.mp.dps == dps
    st.risk("finetune", gamma="0.5", theta="1", sigma="0.3", depth=4, precision=80)
    assert mpmath.mp.dps == dps


def test_incompatible_shapes_raise_value_error():
    with pytest.raises(ValueError):
        st.risk("finetune", gamma=np.array([0.5, 0.6]), theta=np.array([1.0, 2.0, 3.0]))


def test_incompatible_shapes_name_the_parameters():
    with pytest.raises(ValueError, match=named("theta")):
        st.risk("finetune", gamma=np.array([0.5, 0.6]), theta=np.array([1.0, 2.0, 3.0]))


def test_empty_arrays_give_empty_results():
    assert st.risk("scratch", gamma=np.array([])).shape == (0,)
    assert st.risk("finetune", gamma=np.array([]), theta=1.0, depth=4).shape == (0,)
