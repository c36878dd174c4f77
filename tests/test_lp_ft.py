"""LP-FT (linear probe, then fine-tuning): theory, the per-run mechanism, Monte-Carlo.

Tolerances as in tests/test_mc.py: a simulated mean agrees with a prediction when
``|mean - prediction| <= Z * sem + allowance`` with ``Z = 4`` and the allowance the stated
finite-size effect (:attr:`symtransfer.methods.LP_FT.agreement`: the noise term's finite-n
offset, the probe's O(1/n) bias, O(1/d) fluctuations of c). Every simulation is seeded.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import symtransfer as st
from symtransfer import methods
from symtransfer.mc.data import sample_problem
from symtransfer.mc.mechanism import endpoint_distances, finetune_endpoint, lp_ft_endpoint
from symtransfer.mc.pipeline import instance_streams, target_data

Z = 4.0


def sim(method, **kw):
    return st.simulate(method, progress=False, **kw)


def allowance(result) -> float:
    p = result.params
    keys = ("gamma", "theta", "sigma", "depth", "gamma_s", "sigma_s")
    return methods.LP_FT.agreement({k: p[k] for k in keys}, p["d"])[2]


def assert_agrees(result, prediction: float, allow: float) -> None:
    gap = abs(result.mean - prediction)
    assert gap <= Z * result.sem + allow, (f"MC {result.mean:.5f} +- {result.sem:.5f} vs "
                                           f"{prediction:.5f}: gap {gap:.5f}")


def problem_of(result):
    p = result.params
    X, y = target_data(instance_streams(p["seed"], result.instances), d=p["d"],
                       gamma=p["gamma"], theta=p["theta"], sigma=p["sigma"])
    return sample_problem(X, y)


# ----------------------------------------------------------------------------- theory


@pytest.mark.parametrize("depth", [2, 3, 5])
def test_probe_that_keeps_the_coefficient_is_fine_tuning(depth):
    """Population source at theta = 0: the probe's coefficient is the pretrained one (r = 1),
    the imbalance vanishes and LP-FT is fine-tuning; above gamma = 1 both are least squares."""
    gamma = np.array([0.1, 0.5, 0.9, 1.5, 3.0])
    for sigma in (0.0, 0.4):
        lp = st.risk("lp_ft", gamma=gamma, theta=0.0, sigma=sigma, depth=depth)
        ft = st.risk("finetune", gamma=gamma, theta=0.0, sigma=sigma, depth=depth)
        np.testing.assert_allclose(lp, ft, rtol=1e-12, atol=1e-15)
    above = st.risk("lp_ft", gamma=2.0, theta=1.0, sigma=0.3, depth=depth)
    assert above == pytest.approx(st.risk("scratch", gamma=2.0, sigma=0.3), rel=1e-14)
    assert st.transferability("lp_ft", gamma=2.0, theta=1.0, sigma=0.3, depth=depth) == 0


def reference_risk(gamma, theta, sigma, depth, gamma_s=None, sigma_s=0.0):
    """Typed from docs/theory.md: kappa the largest real root of the polynomial
    x^(L-2)(x - (1-r))(x - (1-gamma)) - B/N_s (numpy.roots), r = O_s^2/N_s^2."""
    if gamma > 1:
        return sigma ** 2 / (gamma - 1)
    c = math.cos(theta)
    if gamma_s is None:
        N, O = 1.0, c
    elif gamma_s < 1:
        N, O = gamma_s + sigma_s ** 2 * gamma_s / (1 - gamma_s), gamma_s * c
    else:
        N, O = 1 + sigma_s ** 2 / (gamma_s - 1), c
    B = gamma + sigma ** 2 * gamma / (1 - gamma)
    r = O ** 2 / N ** 2
    poly = np.polymul(np.polymul([1.0] + [0.0] * (depth - 2), [1.0, -(1 - r)]),
                      [1.0, -(1 - gamma)])
    poly[-1] -= B / N
    roots = np.roots(poly)
    kappa = max(x.real for x in roots if abs(x.imag) < 1e-9)
    c2 = kappa ** (depth - 2) * (kappa - (1 - r))
    return (1 - gamma) * (c2 * N - 2 * math.sqrt(c2) * abs(O) + 1) + sigma ** 2 * gamma / (1 - gamma)


@pytest.mark.parametrize("source", [dict(), dict(gamma_s=0.5), dict(gamma_s=0.4, sigma_s=0.3),
                                    dict(gamma_s=2.5, sigma_s=0.5)])
@pytest.mark.parametrize("depth", [2, 3, 4, 7])
def test_risk_against_an_independent_reference(source, depth):
    for gamma in (0.05, 0.5, 0.95, 1.5):
        for theta in (0.0, 0.7, math.pi / 2, 2.5):
            value = st.risk("lp_ft", gamma=gamma, theta=theta, sigma=0.3, depth=depth, **source)
            ref = reference_risk(gamma, theta, 0.3, depth, **source)
            assert value == pytest.approx(ref, rel=1e-9), (gamma, theta)


@pytest.mark.parametrize("depth", [2, 3, 4, 6])
def test_float64_kernels_agree_with_mpmath_and_the_probe_flips_the_sign(depth):
    """numpy kernels (radicals for L = 2, the numeric ProbedRoot deeper) vs mpmath at 40
    digits; and the probe takes the sign of the overlap, so R(theta) = R(pi - theta)."""
    for theta in (0.3, 1.2, math.pi / 2):
        value = st.risk("lp_ft", gamma=0.6, theta=theta, sigma=0.5, depth=depth)
        exact = st.risk("lp_ft", gamma="0.6", theta=repr(theta), sigma="0.5", depth=depth,
                        precision=40)
        assert value == pytest.approx(float(exact), rel=1e-13)
        flipped = st.risk("lp_ft", gamma=0.6, theta=math.pi - theta, sigma=0.5, depth=depth)
        assert flipped == pytest.approx(value, rel=1e-12)


def test_lp_ft_beats_fine_tuning_where_the_probe_shrinks_the_readout():
    """T_lpft >= T_ft on the whole population phase diagram (the probe's r = cos^2 <= 1
    shrinks c; proved in derivations/lp_ft.py), with equality at theta = 0; at theta = pi the
    probe flips the readout's sign, which fine-tuning cannot: a gain of about 4(1-gamma)."""
    gamma = np.linspace(0.05, 0.95, 10)[:, None]
    theta = np.linspace(0, math.pi, 13)[None, :]
    gain = (st.transferability("lp_ft", gamma=gamma, theta=theta, sigma=0.2)
            - st.transferability("finetune", gamma=gamma, theta=theta, sigma=0.2))
    assert gain.min() >= -1e-12
    np.testing.assert_allclose(gain[:, 0], 0, atol=1e-12)
    assert (gain[:, -1] > 3.5 * (1 - gamma[:, 0])).all()  # theta = pi: ~4(1-gamma)


@pytest.mark.parametrize("depth", [2, 3, 5])
def test_phase_boundary(depth):
    """T(theta*) = 0, positive below and negative above (and mirrored beyond pi/2); LP-FT's
    boundary lies above fine-tuning's; float64 (BoundaryRoot: radicals for L = 2, bisection
    and Newton deeper) agrees with mpmath; finite source too."""
    for gamma, sigma in ((0.3, 0.4), (0.7, 0.0)):
        star = st.phase_boundary("lp_ft", gamma=gamma, sigma=sigma, depth=depth)
        T = [st.transferability("lp_ft", gamma=gamma, theta=star + h, sigma=sigma, depth=depth)
             for h in (-1e-3, 0.0, 1e-3)]
        assert abs(T[1]) < 1e-12 and T[0] > 0 > T[2]
        assert st.transferability("lp_ft", gamma=gamma, theta=math.pi - star + 1e-3,
                                  sigma=sigma, depth=depth) > 0
        assert star > st.phase_boundary("finetune", gamma=gamma, sigma=sigma, depth=depth)
        exact = st.phase_boundary("lp_ft", gamma=repr(gamma), sigma=repr(sigma), depth=depth,
                                  precision=40)
        assert star == pytest.approx(float(exact), rel=1e-13)
    kw = dict(gamma=0.4, sigma=0.2, gamma_s=2.0, sigma_s=0.5, depth=depth)
    star = st.phase_boundary("lp_ft", **kw)
    assert abs(st.transferability("lp_ft", theta=star, **kw)) < 1e-12


def test_phase_boundary_depth_two_closed_form():
    # sigma = 0: cos^2 theta* = (sqrt(gamma^2 + 3 gamma) - gamma)/6
    g = 0.5
    assert math.cos(st.phase_boundary("lp_ft", gamma=g)) ** 2 == pytest.approx(
        (math.sqrt(g * g + 3 * g) - g) / 6, rel=1e-14)
    assert np.isnan(st.phase_boundary("lp_ft", gamma=np.array([1.0, 1.5]), sigma=0.2)).all()
    value = st.phase_boundary("lp_ft", gamma=1.5, sigma=0.2, depth=3, precision=30)
    assert value != value  # an mpmath NaN


def test_singular_points():
    """gamma = 1: infinite risk with target noise, the continuous limit (0) without. gamma_s = 1
    with source noise: |beta_hat_s| diverges but the probe rescales the readout, so the risk
    stays finite, 2(1-gamma) + sigma^2/(1-gamma) below gamma = 1 (the limit from both sides)."""
    assert st.risk("lp_ft", gamma=1.0, theta=1.0, sigma=0.2) == math.inf
    assert 0 <= st.risk("lp_ft", gamma=1.0, theta=1.0, sigma=0.0) < 1e-30
    assert st.risk("lp_ft", gamma=1 - 1e-9, theta=1.0) < 1e-8
    assert st.transferability("lp_ft", gamma=1.0, theta=1.0, sigma=0.2) == 0
    kw = dict(gamma=0.5, theta=1.0, sigma=0.2, sigma_s=0.3)
    at = st.risk("lp_ft", gamma_s=1.0, **kw)
    assert at == pytest.approx(2 * 0.5 + 0.04 / 0.5, rel=1e-12)
    for side in (1 - 1e-13, 1 + 1e-13):  # approached like sqrt|1 - gamma_s| (|c| |O_s|)
        assert st.risk("lp_ft", gamma_s=side, **kw) == pytest.approx(at, rel=1e-5)
    assert st.risk("lp_ft", gamma_s=1.0, **{**kw, "gamma": 2.0}) == pytest.approx(
        st.risk("scratch", gamma=2.0, sigma=0.2))


@pytest.mark.parametrize("bad, match", [
    (dict(form="paper"), "form"), (dict(lam=0.1), "lam"), (dict(mu=0.5), "penalized"),
    (dict(gamma=-0.5), "gamma"), (dict(depth=1), "depth"), (dict(sigma=-1.0), "sigma"),
    (dict(gamma_s=0.5, sigma_s=-0.1), "sigma_s")])
def test_bad_input_names_the_parameter(bad, match):
    kw = {**dict(gamma=0.5, theta=1.0, sigma=0.2), **bad}
    with pytest.raises(ValueError, match=match):
        st.risk("lp_ft", **kw)


def test_simulate_refuses_what_lp_ft_does_not_have():
    with pytest.raises(ValueError, match="lam"):
        sim("lp_ft", gamma=0.5, theta=1.0, lam=0.1, d=20, instances=1)
    with pytest.raises(ValueError, match="theta"):
        sim("lp_ft", gamma=0.5, d=20, instances=1)


# ----------------------------------------------------------------------------- Monte-Carlo


@pytest.fixture(scope="module")
def paired():
    """The chosen point: theta = pi/2 and small gamma, where R_ft - R_lpft is largest in the
    paper's range theta <= pi/2 (it grows as gamma -> 0; gamma = 0.2 keeps n = 40 samples).
    Both methods on the same seeds: same pretraining, designs and noise."""
    kw = dict(gamma=0.2, theta=math.pi / 2, sigma=0.2, d=200, instances=16, seed=3)
    return kw, sim("lp_ft", **kw), sim("finetune", **kw)


def test_each_run_ends_at_the_conservation_law_endpoint():
    """theta > pi/2 (the probe's coefficient is negative, so sign(c) matters), depth 3: every
    run ends within 2e-4 of lp_ft_endpoint (integration error ~1e-5), and over 100 times
    further from fine-tuning's endpoint on the same data."""
    r = sim("lp_ft", gamma=0.5, theta=2.0, sigma=0.3, depth=3, d=100, instances=6, seed=5)
    assert r.converged.all()
    assert (r.diagnostics["probe"]["coefficient"] < 0).all()
    miss = endpoint_distances(r)["exact"]
    assert miss.max() < 2e-4
    ft = finetune_endpoint(r.beta_source, problem_of(r), 3, "exact")
    assert np.linalg.norm(r.beta_hat - ft, axis=1).min() > 100 * 2e-4


def test_probe_coefficients_of_both_signs_at_the_chosen_point(paired):
    kw, lp, _ = paired
    t = lp.diagnostics["probe"]["coefficient"]
    assert (t > 0).any() and (t < 0).any()  # theta = pi/2: t ~ N(0, (1 + sigma^2)/n)
    assert endpoint_distances(lp)["exact"].max() < 2e-4


@pytest.mark.parametrize("kw", [
    dict(gamma=0.4, theta=1.0, sigma=0.4, depth=2, seed=11),
    dict(gamma=0.6, theta=3 * math.pi / 8, sigma=0.5, depth=3, seed=12),
    dict(gamma=0.5, theta=0.8, sigma=0.2, depth=2, gamma_s=2.0, sigma_s=0.5, seed=21)])
def test_monte_carlo_mean_agrees_with_the_asymptotic_risk(kw):
    """Held-out points (population, depth 2 and 3; finite noisy source)."""
    r = sim("lp_ft", d=200, instances=16, **kw)
    assert r.converged.all()
    theory = st.risk("lp_ft", **{k: v for k, v in kw.items() if k != "seed"})
    assert_agrees(r, theory, allowance(r))
    assert endpoint_distances(r)["exact"].max() < 2e-4


def test_lp_ft_is_distinguishable_from_fine_tuning(paired):
    """Paired over the same runs: R_ft - R_lpft = 0.51 in theory; the paired mean agrees with
    it and is many paired sems from 0 (docs/theory.md quotes the numbers)."""
    kw, lp, ft = paired
    assert lp.converged.all() and ft.converged.all()
    theory_lp = st.risk("lp_ft", gamma=kw["gamma"], theta=kw["theta"], sigma=kw["sigma"])
    theory_ft = st.risk("finetune", gamma=kw["gamma"], theta=kw["theta"], sigma=kw["sigma"])
    assert theory_ft - theory_lp == pytest.approx(0.5114, abs=1e-4)
    assert_agrees(lp, theory_lp, allowance(lp))
    diff = ft.errors - lp.errors
    sem = diff.std(ddof=1) / math.sqrt(diff.size)
    assert diff.mean() / sem > 10  # z-score
    n = int(kw["gamma"] * kw["d"])
    # both methods' O(1/d) allowances, and the probe's bias (sin^2 + sigma^2)/(n - 2) in r
    allow = allowance(lp) + 2 / kw["d"]
    assert abs(diff.mean() - (theory_ft - theory_lp)) <= Z * sem + allow, (diff.mean(), sem, n)


def test_above_the_threshold_lp_ft_is_least_squares():
    r = sim("lp_ft", gamma=1.5, theta=1.0, sigma=0.2, d=60, instances=4, seed=2)
    f = sim("finetune", gamma=1.5, theta=1.0, sigma=0.2, d=60, instances=4, seed=2)
    np.testing.assert_allclose(r.errors, f.errors, rtol=1e-5)
    assert endpoint_distances(r)["exact"].max() < 1e-4


def test_at_gamma_one_runs_converge_but_the_mean_estimates_nothing():
    """n = d: the interpolator's expected risk is infinite (theory: inf); runs converge."""
    r = sim("lp_ft", gamma=1.0, theta=1.0, sigma=0.2, d=40, instances=3, seed=0)
    assert r.converged.all() and np.isfinite(r.errors).all()
    assert st.risk("lp_ft", gamma=1.0, theta=1.0, sigma=0.2) == math.inf


def test_recorded_trajectory_ends_at_the_lp_ft_endpoint():
    r = sim("lp_ft", gamma=0.5, theta=1.0, sigma=0.2, d=60, instances=3, seed=0, record=4)
    assert r.trajectory["distance"][:, -1].max() < 1e-3
    expected = lp_ft_endpoint(r.beta_source, problem_of(r), 2)
    np.testing.assert_allclose(r.beta_hat, expected, atol=1e-4)
