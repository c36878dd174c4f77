"""The optimally regularized scratch baseline: ridge on the target via the Marchenko-Pastur law.

Expected values come from independent computations: numerical quadrature of the
Marchenko-Pastur density (with its atom at 0), and the ridge estimator simulated directly.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import symtransfer as st

Z = 4.0


def mp_ridge_risk(gamma: float, sigma: float, lam: float, dps: int = 30):
    """lam^2 int dmu/(x+lam)^2 + sigma^2 psi int x dmu/(x+lam)^2 by quadrature, psi = 1/gamma."""
    with mpmath.workdps(dps):
        psi = 1 / mpmath.mpf(gamma)
        a, b = (1 - mpmath.sqrt(psi)) ** 2, (1 + mpmath.sqrt(psi)) ** 2
        density = lambda x: mpmath.sqrt((b - x) * (x - a)) / (2 * mpmath.pi * psi * x)  # noqa
        atom = max(mpmath.mpf(0), 1 - 1 / psi)
        lam = mpmath.mpf(lam)
        bias = lam ** 2 * (mpmath.quad(lambda x: density(x) / (x + lam) ** 2, [a, b])
                           + atom / lam ** 2)
        var = sigma ** 2 * psi * mpmath.quad(lambda x: density(x) * x / (x + lam) ** 2, [a, b])
        return bias + var


@pytest.mark.parametrize("gamma", [0.3, 0.8, 1.5, 3.0])
@pytest.mark.parametrize("lam", [0.01, 0.4, 2.0])
def test_ridge_risk_matches_marchenko_pastur_quadrature(gamma, lam):
    sigma = 0.35
    assert st.risk("scratch", gamma=gamma, sigma=sigma, lam=lam) == pytest.approx(
        float(mp_ridge_risk(gamma, sigma, lam)), rel=1e-10)


def test_ridge_at_vanishing_penalty_is_the_ridgeless_risk():
    gammas = np.array([0.2, 0.6, 1.4, 2.5])
    for g in gammas:
        plain = st.risk("scratch", gamma=g, sigma=0.3)
        assert st.risk("scratch", gamma=g, sigma=0.3, lam=1e-9) == pytest.approx(plain, rel=1e-6)
        tiny = st.risk("scratch", gamma=str(g), sigma="0.3", lam="1e-40", precision=50)
        exact = st.risk("scratch", gamma=str(g), sigma="0.3", precision=50)
        assert abs(tiny - exact) < mpmath.mpf(10) ** -35
    # lam = 0 entries of an array use the ridgeless formula (inf at the peak, with noise)
    out = st.risk("scratch", gamma=1.0, sigma=0.3, lam=np.array([0.0, 0.1]))
    assert math.isinf(out[0]) and math.isfinite(out[1])


@pytest.mark.parametrize("gamma, sigma", [(0.4, 0.3), (1.0, 0.5), (2.2, 0.8)])
def test_optimal_penalty_minimizes_the_risk(gamma, sigma):
    """At 50 digits: dR/dlam = 0 at lam* = sigma^2/gamma, R grows on both sides, and the
    closed-form optimum equals R(lam*)."""
    with mpmath.workdps(50):
        g, s = mpmath.mpf(gamma), mpmath.mpf(sigma)
        star = s ** 2 / g
        R = lambda lam: st.risk("scratch", gamma=g, sigma=s, lam=lam, precision=50)  # noqa
        slope = mpmath.diff(R, star)
        assert abs(slope) < mpmath.mpf(10) ** -30
        assert R(star * mpmath.mpf("0.9")) > R(star) < R(star * mpmath.mpf("1.1"))
        best = st.risk("scratch", gamma=g, sigma=s, baseline="optimal_ridge", precision=50)
        assert abs(best - R(star)) < mpmath.mpf(10) ** -40


def test_optimal_ridge_removes_the_peak_and_never_loses():
    gamma = np.concatenate([np.linspace(0.05, 3, 80), [1.0]])
    for sigma in (0.0, 0.2, 1.0):
        best = st.risk("scratch", gamma=gamma, sigma=sigma, baseline="optimal_ridge")
        plain = st.risk("scratch", gamma=gamma, sigma=sigma)
        assert np.all(np.isfinite(best))
        assert np.all(best <= plain + 1e-12)
        if sigma == 0:  # nothing to regularize: the min-norm risk (1 - gamma)_+
            np.testing.assert_allclose(best, np.maximum(1 - gamma, 0), atol=1e-12)


@pytest.mark.parametrize("lam", [0.05, 0.5])
def test_ridge_simulation_matches_the_formula(lam):
    """The ridge estimator on Gaussian data at d = 300. Tolerance: 4 sem plus 3/d for the
    O(1/d) finite-size corrections of the spectral averages."""
    d, gamma, sigma = 300, 0.6, 0.4
    r = st.simulate("scratch", gamma=gamma, theta=0.3, sigma=sigma, lam=lam, d=d,
                    instances=16, seed=3, progress=False)
    theory = st.risk("scratch", gamma=gamma, sigma=sigma, lam=lam)
    assert abs(r.mean - theory) <= Z * r.sem + 3 / d


def test_optimal_ridge_simulation_at_the_interpolation_threshold():
    d, sigma = 300, 0.5
    r = st.simulate("scratch", gamma=1.0, theta=0.3, sigma=sigma, baseline="optimal_ridge",
                    d=d, instances=16, seed=4, progress=False)
    assert (r.diagnostics["ridge"]["lam"] == sigma ** 2).all()
    theory = st.risk("scratch", gamma=1.0, sigma=sigma, baseline="optimal_ridge")
    assert abs(r.mean - theory) <= Z * r.sem + 3 / d


def test_transferability_against_each_baseline():
    kw = dict(gamma=np.array([0.5, 0.9, 1.1, 2.0]), theta=1.0, sigma=0.3)
    tuned = st.transferability("linear", baseline="optimal_ridge", **kw)
    expected = (st.risk("scratch", gamma=kw["gamma"], sigma=0.3, baseline="optimal_ridge")
                - st.risk("linear", **kw))
    np.testing.assert_allclose(tuned, expected)
    assert np.all(tuned <= st.transferability("linear", **kw))


def test_anomalous_transfer_is_the_double_descent_peak():
    """Positive against the ridgeless baseline, not against the tuned one: a band along the
    phase boundary, widest at the double-descent peak gamma = 1, and only with label noise."""
    gamma = np.array([0.3, 0.9, 1.0, 1.1, 2.5])
    flags = st.anomalous_transfer("linear", gamma=gamma, theta=1.0, sigma=0.3)
    np.testing.assert_array_equal(flags, [False, True, True, True, False])
    g = np.linspace(0.05, 3, 40)[:, None]
    t = np.linspace(0, np.pi / 2, 40)[None, :]
    for method in ("linear", "finetune"):
        assert not st.anomalous_transfer(method, gamma=g, theta=t, sigma=0.0).any()
        region = st.anomalous_transfer(method, gamma=g, theta=t, sigma=0.3)
        near = np.abs(g[:, 0] - 1) < 0.25
        far = np.abs(g[:, 0] - 1) > 0.75
        assert region[near].mean() > 3 * region[far].mean()
