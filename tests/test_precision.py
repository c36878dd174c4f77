"""float64 against mpmath (precision=...), and the mpmath path against independent
high-precision evaluations of the paper's closed forms."""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy

import symtransfer as st

# ----------------------------------------------------------------------------------------------
# float64 vs 50-digit mpmath on a grid
# ----------------------------------------------------------------------------------------------

GAMMA_FAR = [0.05, 0.5, 0.999, 1.001, 2.5]
GAMMA_NEAR = [1 - 1e-5, 1 + 1e-5]
THETAS = [0.4, 2.6]           # away from the phase boundaries, so T is not ~0
SOURCES = {"population": {}, "finite<1": dict(gamma_s=0.5, sigma_s=0.2),
           "finite>1": dict(gamma_s=1.7, sigma_s=0.3)}
VARIANTS = [("scratch", "exact", 2, 0.0), ("linear", "exact", 2, 0.0),
            ("linear", "exact", 3, 0.3), ("linear", "exact", 4, 0.3), ("linear", "exact", 5, 0.0),
            ("finetune", "paper", 2, 0.0)] + \
           [("finetune", "exact", L, 0.0) for L in (2, 3, 4, 5)]


def _grid_kwargs(gammas, method, form, depth, lam, src, sigma):
    g = np.array(gammas)[:, None]
    th = np.array(THETAS)[None, :]
    return dict(gamma=g, theta=th, sigma=sigma, depth=depth, form=form, lam=lam, **src)


def _assert_agree(fast, exact, rel=1e-12, floor=1e-3):
    """|fast - exact| <= rel * max(|exact|, floor). The floor (absolute 1e-15) is for values
    of T close to 0, where T = R_scratch - R_method is a difference of O(1) risks."""
    exact = np.asarray(exact, dtype=object)
    assert np.shape(fast) == exact.shape
    for a, b in zip(np.ravel(fast), exact.flat):
        b = float(b)
        if math.isinf(b) or math.isinf(a):
            assert a == b
            continue
        assert abs(a - b) <= rel * max(abs(b), floor), (a, b)


@pytest.mark.parametrize("gammas", [GAMMA_FAR, GAMMA_NEAR], ids=["far", "near1"])
@pytest.mark.parametrize("sigma", [0.0, 0.4])
@pytest.mark.parametrize("method,form,depth,lam,src_name", [
    v + (s,) for v in VARIANTS for s in SOURCES if v[0] != "scratch" or s == "population"])
def test_float64_matches_mpmath(method, form, depth, lam, src_name, sigma, gammas):
    src = SOURCES[src_name]
    kw = _grid_kwargs(gammas, method, form, depth, lam, src, sigma)
    if method == "scratch":
        kw.pop("theta")
    _assert_agree(st.risk(method, **kw), st.risk(method, precision=50, **kw))
    _assert_agree(st.transferability(method, **kw),
                  st.transferability(method, precision=50, **kw))


@pytest.mark.parametrize("src_name", list(SOURCES))
@pytest.mark.parametrize("method,form,depth,lam", [v for v in VARIANTS if v[0] != "scratch"])
def test_phase_boundary_float64_matches_mpmath(method, form, depth, lam, src_name):
    kw = dict(gamma=np.array([0.05, 0.3, 0.6, 0.9, 1.5]), sigma=0.3, depth=depth, form=form,
              lam=lam, **SOURCES[src_name])
    fast = st.phase_boundary(method, **kw)
    exact = st.phase_boundary(method, precision=50, **kw)
    assert np.isfinite(fast).any()
    for a, b in zip(fast, exact):
        if math.isnan(a):
            assert math.isnan(float(b))
        else:
            assert abs(a - float(b)) <= 1e-12 * abs(float(b))


@pytest.mark.parametrize("method,kw", [
    ("linear", dict(gamma=0.9, gamma_s=0.5)),
    ("linear", dict(gamma=0.99, lam=0.3)),
    ("finetune", dict(gamma=0.9, sigma=2.0, depth=3)),
])
def test_phase_boundary_nan_with_precision(method, kw):
    assert math.isnan(st.phase_boundary(method, **kw))
    b = st.phase_boundary(method, precision=30, **kw)
    assert isinstance(b, mpmath.mpf) and b != b


@pytest.mark.parametrize("src_name", list(SOURCES))
def test_linear_transferability_near_gamma_one_noiseless(src_name):
    kw = _grid_kwargs([1 - 1e-9, 1 + 1e-9, 1 - 1e-10, 1 + 1e-10], "linear", "exact", 2, 0.0,
                      SOURCES[src_name], 0.0)
    _assert_agree(st.transferability("linear", **kw),
                  st.transferability("linear", precision=50, **kw))


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_finetune_exact_finite_transferability_near_gamma_one(depth):
    g = np.array([1 - 1e-9, 1 - 1e-10])
    kw = dict(gamma=g, theta=0.9, sigma=0.3, depth=depth, gamma_s=0.5, sigma_s=0.2)
    _assert_agree(st.transferability("finetune", **kw),
                  st.transferability("finetune", precision=50, **kw))


@pytest.mark.parametrize("lam", [0.0, 0.2])
def test_linear_finite_transferability_near_gamma_s_one(lam):
    gs = np.array([1 - 1e-5, 1 - 1e-7, 1 - 1e-9, 1 + 1e-7])
    kw = dict(gamma=0.5, theta=0.9, sigma=0.3, lam=lam, gamma_s=gs, sigma_s=0.0)
    _assert_agree(st.transferability("linear", **kw),
                  st.transferability("linear", precision=50, **kw))


def test_linear_finite_transferability_near_gamma_s_one_with_noise():
    # with source noise there is no 0/0 and float64 is accurate
    gs = np.array([1 - 1e-5, 1 - 1e-7, 1 + 1e-7])
    kw = dict(gamma=0.5, theta=0.9, sigma=0.3, lam=0.2, gamma_s=gs, sigma_s=0.2)
    _assert_agree(st.transferability("linear", **kw),
                  st.transferability("linear", precision=50, **kw))


# ----------------------------------------------------------------------------------------------
# mpmath path against independent high-precision closed forms
# ----------------------------------------------------------------------------------------------


def _mp(x, dps):
    with mpmath.workdps(dps):
        return mpmath.mpf(x)


def scratch_mp(G, s):
    return (1 - G) + s**2 * G / (1 - G) if G < 1 else s**2 / (G - 1)


def paper_mp(G, th, s):
    return (1 - G) * (2 - 2 * mpmath.cos(th)) + s**2 * G / (1 - G) if G < 1 else s**2 / (G - 1)


NEAR_ONE = {"below": "0." + "9" * 30,                  # 1 - 10^-30
            "above": "1." + "0" * 29 + "1"}            # 1 + 10^-30


@pytest.mark.parametrize("side", list(NEAR_ONE))
@pytest.mark.parametrize("as_type", ["str", "mpf"])
def test_divergent_values_near_gamma_one(side, as_type):
    text = NEAR_ONE[side]
    # the input the library sees: a 50-digit mpf as given, or the decimal string parsed
    # exactly (guard digits, issue #11); the reference evaluates it at 60 digits
    G = _mp(text, 50 if as_type == "mpf" else 120)
    s, th = _mp("0.3", 50), _mp("1.1", 50)
    gamma = text if as_type == "str" else G
    assert as_type == "mpf" or _mp(text, 50) != G  # the string is more than its 50-digit mpf
    r = st.risk("scratch", gamma=gamma, sigma=s, precision=50)
    p = st.risk("finetune", form="paper", gamma=gamma, theta=th, sigma=s, precision=50)
    assert isinstance(r, mpmath.mpf) and isinstance(p, mpmath.mpf)
    with mpmath.workdps(60):
        assert abs(G - 1) < mpmath.mpf(10) ** -29 and G != 1
        r_ref, p_ref = scratch_mp(G, s), paper_mp(G, th, s)
        assert r_ref > mpmath.mpf(10) ** 28  # really on the divergence
        assert abs(r - r_ref) <= mpmath.mpf(10) ** -40 * abs(r_ref)
        assert abs(p - p_ref) <= mpmath.mpf(10) ** -40 * abs(p_ref)


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_exact_finetune_near_gamma_one_vs_polyroots(depth):
    G = _mp("0." + "9" * 20, 50)      # 1 - 10^-20
    s, th = _mp("0.3", 50), _mp("1.1", 50)
    r = st.risk("finetune", gamma=G, theta=th, sigma=s, depth=depth, precision=50)
    with mpmath.workdps(80):
        B = G + s**2 * G / (1 - G)
        coeffs = [1, -(1 - G)] + [0] * (depth - 2) + [-B]
        roots = mpmath.polyroots(coeffs, maxsteps=200, extraprec=200)
        pos = [x.real for x in roots if abs(mpmath.im(x)) < mpmath.mpf(10) ** -30 and x.real > 0]
        assert len(pos) == 1
        c = pos[0] ** (mpmath.mpf(depth - 1) / 2)
        ref = (1 - G) * (c**2 - 2 * c * mpmath.cos(th) + 1) + s**2 * G / (1 - G)
        assert abs(r - ref) <= mpmath.mpf(10) ** -40 * abs(ref)


def test_exactness_paper_form_at_pi_over_3():
    r = st.risk("finetune", form="paper", gamma="0.5", theta=sympy.pi / 3, precision=60)
    assert isinstance(r, mpmath.mpf)
    # 0.5 * (2 - 2 cos(pi/3)) = 0.5
    with mpmath.workdps(60):
        assert abs(r - mpmath.mpf("0.5")) < mpmath.mpf(10) ** -55
    t = st.transferability("finetune", form="paper", gamma="0.5", theta=sympy.pi / 3,
                           precision=60)
    with mpmath.workdps(60):
        assert abs(t) < mpmath.mpf(10) ** -55  # on the boundary: T = (1-g)(2 cos - 1) = 0


def test_inputs_as_strings_and_sympy_numbers():
    a = st.risk("linear", gamma="0.5", theta=sympy.pi / 4, lam=sympy.Rational(1, 10),
                precision=40)
    b = st.risk("linear", gamma=sympy.Rational(1, 2), theta=sympy.pi / 4, lam="0.1",
                precision=40)
    with mpmath.workdps(45):
        ref = 1 - mpmath.cos(mpmath.pi / 4) ** 2 * (1 + 2 * mpmath.mpf("0.1")) / \
            (1 + mpmath.mpf("0.1")) ** 2
        assert abs(a - ref) < mpmath.mpf(10) ** -38
        assert abs(b - ref) < mpmath.mpf(10) ** -38
    # sympy's pi/3 is exact to the working precision: the paper boundary is hit exactly
    th = st.phase_boundary("finetune", gamma=sympy.Rational(1, 2), form="paper", precision=40)
    with mpmath.workdps(40):
        assert abs(th - mpmath.pi / 3) < mpmath.mpf(10) ** -38


@pytest.mark.parametrize("call", [
    lambda: st.transferability("scratch", gamma="0.5", precision=30),
    lambda: st.transferability("finetune", gamma="1.5", theta="1", precision=30),
    lambda: st.transferability("finetune", gamma="1", theta="1", sigma="0.2", precision=30),
    lambda: st.risk("linear", gamma="0.5", theta="1", gamma_s="1", sigma_s="0.2", precision=30),
], ids=["T-scratch", "T-ft-above", "T-ft-at-1", "R-lin-gamma_s-1"])
def test_precision_constant_results_are_mpf(call):
    assert isinstance(call(), mpmath.mpf)


def test_precision_results_are_mpf():
    r = st.risk("finetune", gamma="0.3", theta="1", sigma="0.2", depth=4, precision=30)
    assert isinstance(r, mpmath.mpf)
    arr = st.transferability("linear", gamma=["0.3", "0.6", "1.5"], theta="1", precision=30)
    assert arr.dtype == object and arr.shape == (3,)
    assert all(isinstance(x, mpmath.mpf) for x in arr)
    assert isinstance(st.phase_boundary("linear", gamma="0.3", precision=30), mpmath.mpf)


def test_precision_does_not_leak_into_global_context():
    dps = mpmath.mp.dps
    st.risk("finetune", gamma="0.3", theta="1", sigma="0.2", depth=5, precision=70)
    st.transferability("linear", gamma=1, theta="1", precision=70)  # gamma = 1 limit path
    assert mpmath.mp.dps == dps


def test_precision_carries_many_digits():
    # 0.54 = 0.5 + 0.04 * 0.5 / 0.5, exactly in decimal
    r = st.risk("scratch", gamma="0.5", sigma="0.2", precision=50)
    with mpmath.workdps(50):
        assert abs(r - mpmath.mpf("0.54")) < mpmath.mpf(10) ** -48


def _linear_finite_mp(th, lam, L, gs, ss):
    if gs < 1:
        N, O = gs + ss**2 * gs / (1 - gs), gs * mpmath.cos(th)
    else:
        N, O = 1 + ss**2 / (gs - 1), mpmath.cos(th)
    a2 = N ** (mpmath.mpf(L - 1) / L)
    return 1 - O**2 / N * a2 * (a2 + 2 * lam) / (a2 + lam) ** 2


@pytest.mark.parametrize("depth", [
    2, 4,
    pytest.param(3),
    pytest.param(5),
])
@pytest.mark.parametrize("gs,ss", [("0.5", "0"), ("2.5", "0.4")])
def test_linear_finite_source_at_50_digits(depth, gs, ss):
    kw = dict(gamma="0.4", theta="0.7", lam="0.3", depth=depth, gamma_s=gs, sigma_s=ss)
    r = st.risk("linear", precision=50, **kw)
    t = st.transferability("linear", precision=50, **kw)
    with mpmath.workdps(60):
        ref = _linear_finite_mp(mpmath.mpf("0.7"), mpmath.mpf("0.3"), depth, mpmath.mpf(gs),
                                mpmath.mpf(ss))
        tref = (1 - mpmath.mpf("0.4")) - ref   # scratch at sigma = 0
        assert abs(r - ref) <= mpmath.mpf(10) ** -45 * abs(ref)
        assert abs(t - tref) <= mpmath.mpf(10) ** -45 * abs(tref)


def test_warm_started_roots_match_the_bracketed_solver_at_working_precision():
    """The mpmath roots start Newton from a float64 estimate; the answer is the bracketed
    solver's to the working precision, also where float64 cannot hold the inputs."""
    import random

    import mpmath

    from symtransfer import _roots as R

    rng = random.Random(7)
    with mpmath.workdps(60):
        for _ in range(60):
            L = rng.choice([2, 3, 4, 9])
            a = mpmath.mpf(rng.uniform(-3, 3))
            b = mpmath.mpf(10) ** rng.uniform(-400, 400)  # beyond float64 at the extremes
            warm = R.positive_root_mpmath(L, a, b)
            m = max(a, mpmath.mpf(0))
            cold = m + R._polish(L, m, m - a, b ** (mpmath.mpf(1) / (L - 1)), mpmath.exp(
                R._solve_mpmath(lambda u: R._phi(L, m, m - a, mpmath.log(b), u, mpmath.exp,
                                                 mpmath.log), mpmath.log(b) / L, "cold")))
            assert abs(warm - cold) <= mpmath.mpf(10) ** -55 * abs(cold)
            beta, bb = mpmath.mpf(rng.uniform(-4, 0.99)), mpmath.mpf(10) ** rng.uniform(-5, 3)
            x = R.boundary_root_mpmath(L, beta, bb)
            assert abs(R._boundary_g(L, beta, bb, x)[0]) <= mpmath.mpf(10) ** -50 * bb
