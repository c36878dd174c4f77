"""Property-based tests (hypothesis) of symtransfer's risks and transferabilities."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as hs

import symtransfer as st

SETTINGS = settings(max_examples=80, deadline=None)

gammas = hs.floats(min_value=1e-3, max_value=10.0, allow_nan=False)
gammas_away = gammas.filter(lambda g: abs(g - 1) > 1e-2)
thetas = hs.floats(min_value=0.0, max_value=math.pi)
half_thetas = hs.floats(min_value=0.0, max_value=math.pi / 2)
sigmas = hs.floats(min_value=0.0, max_value=3.0)
lams = hs.floats(min_value=0.0, max_value=20.0)
depths = hs.integers(min_value=2, max_value=6)
#: population (None) or a finite source (gamma_s, sigma_s)
sources = hs.one_of(hs.none(),
                    hs.tuples(hs.floats(min_value=1e-3, max_value=10.0), sigmas))
sources_away = hs.one_of(hs.none(),
                         hs.tuples(hs.floats(min_value=1e-3, max_value=10.0)
                                   .filter(lambda g: abs(g - 1) > 1e-2), sigmas))
variants = hs.sampled_from([("scratch", "exact"), ("linear", "exact"), ("finetune", "exact"),
                            ("finetune", "paper")])


def _src(source):
    return {} if source is None else dict(gamma_s=source[0], sigma_s=source[1])


@SETTINGS
@given(variant=variants, gamma=gammas, theta=thetas, sigma=sigmas, lam=lams, depth=depths,
       source=sources)
def test_every_risk_is_nonnegative(variant, gamma, theta, sigma, lam, depth, source):
    method, form = variant
    kw = dict(gamma=gamma, sigma=sigma, depth=depth, form=form, **_src(source))
    if method != "scratch":
        kw["theta"] = theta
    if method == "linear":
        kw["lam"] = lam
    r = st.risk(method, **kw)
    assert not math.isnan(r)
    # R = |beta_hat - beta_t|^2 >= 0 (rounding may leave -eps at an exact zero)
    assert r >= -1e-14


@SETTINGS
@given(gamma=gammas, sigma=sigmas, lam=lams, depth=depths, source=sources,
       t1=half_thetas, t2=half_thetas)
def test_linear_transferability_decreasing_in_theta(gamma, sigma, lam, depth, source, t1, t2):
    """T = R_scratch - 1 + K cos^2(theta), K >= 0: non-increasing on [0, pi/2]."""
    assume(abs(gamma - 1) > 1e-2)
    lo, hi = sorted((t1, t2))
    kw = dict(gamma=gamma, sigma=sigma, lam=lam, depth=depth, **_src(source))
    a = st.transferability("linear", theta=lo, **kw)
    b = st.transferability("linear", theta=hi, **kw)
    scale = max(1.0, abs(a), abs(b))
    assert a >= b - 1e-12 * scale
    # strictly decreasing where the feature carries signal (K > 0: not gamma_s = 1 with noise)
    if hi - lo > 1e-2 and (source is None or abs(source[0] - 1) > 1e-2) and scale < 1e3:
        ra = st.risk("linear", theta=lo, **kw)
        rb = st.risk("linear", theta=hi, **kw)
        if rb - ra > 1e-9:
            assert a > b


@SETTINGS
@given(theta=thetas, depth=depths, source=sources, l1=lams, l2=lams)
def test_ridge_risk_nondecreasing_in_lam(theta, depth, source, l1, l2):
    lo, hi = sorted((l1, l2))
    kw = dict(gamma=0.5, theta=theta, depth=depth, **_src(source))
    assert st.risk("linear", lam=lo, **kw) <= st.risk("linear", lam=hi, **kw) + 1e-14


@SETTINGS
@given(gamma=gammas, theta=thetas, depth=depths)
def test_exact_equals_paper_without_noise_population(gamma, theta, depth):
    exact = st.risk("finetune", gamma=gamma, theta=theta, depth=depth)
    paper = st.risk("finetune", gamma=gamma, theta=theta, depth=depth, form="paper")
    assert abs(exact - paper) <= 1e-12 * max(1.0, abs(paper))


@SETTINGS
@given(gamma=hs.floats(min_value=1e-3, max_value=0.99), theta=thetas,
       sigma=hs.floats(min_value=1e-3, max_value=3.0), depth=depths)
def test_exact_at_least_paper_with_noise_population(gamma, theta, sigma, depth):
    """Proof: population N_s = 1, O_s = cos. kappa solves f(k) = k^L - (1-g)k^(L-1) - B = 0 with
    B = g + sigma^2 g/(1-g) > g, and f(1) = g - B < 0 while f is increasing past max(1-g, 0), so
    kappa > 1 and c = kappa^((L-1)/2) > 1. exact - paper = (1-g)[(c^2 - 1) - 2(c - 1) cos]
    = (1-g)(c - 1)(c + 1 - 2 cos) > 0 since c + 1 > 2 >= 2 cos."""
    exact = st.risk("finetune", gamma=gamma, theta=theta, sigma=sigma, depth=depth)
    paper = st.risk("finetune", gamma=gamma, theta=theta, sigma=sigma, depth=depth, form="paper")
    assert exact >= paper - 1e-12 * max(1.0, paper)


@SETTINGS
@given(variant=variants, gamma=gammas_away, theta=thetas, sigma=sigmas, lam=lams, depth=depths,
       source=sources_away)
def test_transferability_is_difference_of_risks(variant, gamma, theta, sigma, lam, depth,
                                                source):
    method, form = variant
    kw = dict(gamma=gamma, theta=theta, sigma=sigma, depth=depth, form=form, **_src(source))
    if method == "linear":
        kw["lam"] = lam
    t = st.transferability(method, **kw)
    r_scratch = st.risk("scratch", gamma=gamma, sigma=sigma)
    r_method = st.risk(method, **kw)
    scale = max(1.0, abs(r_scratch), abs(r_method))
    assert abs(t - (r_scratch - r_method)) <= 1e-9 * scale


@SETTINGS
@given(gamma=hs.floats(min_value=1e-3, max_value=0.99), sigma=sigmas, depth=depths,
       source=sources_away)
def test_finetune_boundary_is_where_transferability_vanishes(gamma, sigma, depth, source):
    kw = dict(gamma=gamma, sigma=sigma, depth=depth, **_src(source))
    th = st.phase_boundary("finetune", **kw)
    if math.isnan(th):
        # T has one sign on [0, pi]: compare the ends
        t0 = st.transferability("finetune", theta=0.0, **kw)
        tpi = st.transferability("finetune", theta=math.pi, **kw)
        assert t0 * tpi > 0 or (t0 == 0 and tpi == 0) or abs(t0) < 1e-12 or abs(tpi) < 1e-12
    else:
        assert 0 <= th <= math.pi
        t = st.transferability("finetune", theta=th, **kw)
        scale = max(1.0, st.risk("scratch", gamma=gamma, sigma=sigma))
        assert abs(t) <= 1e-9 * scale


@SETTINGS
@given(gamma=hs.lists(gammas, min_size=1, max_size=6), theta=thetas, sigma=sigmas,
       depth=depths, variant=variants)
def test_array_equals_scalar_calls(gamma, theta, sigma, depth, variant):
    method, form = variant
    kw = dict(theta=theta, sigma=sigma, depth=depth, form=form)
    arr = st.risk(method, gamma=np.array(gamma), **kw)
    for g, a in zip(gamma, arr):
        s = st.risk(method, gamma=g, **kw)
        assert a == s or abs(a - s) <= 1e-13 * max(1.0, abs(s))
