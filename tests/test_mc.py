"""Monte-Carlo gradient flow against every formula of the theory core.

Tolerances. A simulated mean agrees with a prediction when
``|mean - prediction| <= Z * sem + allowance``. ``Z = 4`` (a correct prediction fails with
probability < 1e-4 under the normal approximation of the mean of >= 12 instances); the
``allowance`` is the stated finite-size effect, zero where the prediction is an exact
finite-d expectation. Every simulation is seeded, so each test is deterministic.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import symtransfer as st
from symtransfer.mc import ConvergenceError
from symtransfer.mc.data import sample_problem
from symtransfer.mc.mechanism import endpoint_distances, finetune_endpoint
from symtransfer.mc.pipeline import instance_streams, target_data

Z = 4.0


def assert_agrees(result, prediction: float, allowance: float = 0.0) -> None:
    gap = abs(result.mean - prediction)
    bound = Z * result.sem + allowance
    assert gap <= bound, (f"MC {result.mean:.5f} +- {result.sem:.5f} vs prediction "
                          f"{prediction:.5f}: gap {gap:.5f} > {bound:.5f}")


def assert_rejects(result, prediction: float, allowance: float = 0.0) -> None:
    gap = abs(result.mean - prediction)
    bound = Z * result.sem + allowance
    assert gap > bound, (f"MC {result.mean:.5f} +- {result.sem:.5f} does not reject "
                         f"{prediction:.5f} (gap {gap:.5f} <= {bound:.5f})")


def sim(method, **kw):
    kw.setdefault("progress", False)
    return st.simulate(method, **kw)


# ----------------------------------------------------------------------------------- scratch

@pytest.mark.parametrize("gamma, depth, sigma", [(0.5, 2, 0.3), (1.5, 2, 0.3), (0.5, 3, 0.3),
                                                (0.3, 2, 0.0)])
def test_scratch_matches_exact_finite_size_expectation(gamma, depth, sigma):
    """Gradient flow from small init reaches min-norm / least squares: the Gaussian-design
    expectation (1-n/d) + sigma^2 n/(d-n-1) (or sigma^2 d/(n-d-1)) is exact at this d."""
    d = 100
    r = sim("scratch", gamma=gamma, theta=0.7, sigma=sigma, depth=depth, d=d, instances=20,
            seed=1)
    assert r.converged.all()
    assert_agrees(r, st.risk("scratch", gamma=gamma, sigma=sigma, d=d))


def test_scratch_reaches_the_min_norm_interpolator_instance_by_instance():
    d, gamma, theta, sigma = 80, 0.5, 0.4, 0.2
    r = sim("scratch", gamma=gamma, theta=theta, sigma=sigma, d=d, instances=6, seed=2)
    X, y = target_data(instance_streams(2, 6), d=d, gamma=gamma, theta=theta, sigma=sigma)
    min_norm = np.stack([np.linalg.pinv(Xk) @ yk for Xk, yk in zip(X, y)])
    # the small-init residue is O(alpha) = 1e-5; the convergence tolerance is 1e-6
    assert np.abs(r.beta_hat - min_norm).max() < 1e-4


# ---------------------------------------------------------------------------- linear / ridge

@pytest.mark.parametrize("depth, sigma", [(2, 0.3), (3, 0.3), (2, 0.0)])
def test_linear_transfer_matches_exact_finite_size_expectation(depth, sigma):
    """Population pretraining gives one feature along beta_s; ridgeless refit is 1-d least
    squares: E R = sin^2 + (sin^2 + sigma^2)/(n-2) exactly."""
    d, gamma, theta = 150, 0.4, 1.0
    r = sim("linear", gamma=gamma, theta=theta, sigma=sigma, depth=depth, d=d, instances=16,
            seed=3)
    assert (r.diagnostics["readout"]["rank"] == 1).all()
    assert_agrees(r, st.risk("linear", gamma=gamma, theta=theta, sigma=sigma, d=d))


def ridge_finite_n(theta: float, sigma: float, lam: float, n: int) -> float:
    """Ridge transfer risk to O(1/n) (population source, unit feature scale).

    c_hat = A/(D + lam), A = mean(z y), D = mean(z^2), z = u.x ~ N(0,1), y = cos z + r,
    Var r = sin^2 + sigma^2. Moments: Var A = (2cos^2 + sin^2 + sigma^2)/n, Var D = 2/n,
    Cov(A, D) = 2cos/n. The delta method gives E(c_hat - cos)^2 to O(1/n).
    """
    c, s2 = math.cos(theta), math.sin(theta) ** 2
    k = 1 + lam
    c0 = c / k
    mean_shift = (-2 * c / k ** 2 + 2 * c / k ** 3) / n
    var = ((2 * c * c + s2 + sigma ** 2) / k ** 2 - 4 * c * c / k ** 3 + 2 * c * c / k ** 4) / n
    return s2 + (c0 - c) ** 2 + 2 * (c0 - c) * mean_shift + var


@pytest.mark.parametrize("lam, depth", [(0.3, 2), (1.0, 3)])
def test_ridge_transfer_population(lam, depth):
    d, gamma, theta, sigma = 150, 0.4, 0.6, 0.3
    n = int(gamma * d)
    r = sim("linear", gamma=gamma, theta=theta, sigma=sigma, lam=lam, depth=depth, d=d,
            instances=16, seed=4)
    theory = st.risk("linear", gamma=gamma, theta=theta, sigma=sigma, lam=lam, depth=depth)
    corrected = ridge_finite_n(theta, sigma, lam, n)
    assert abs(corrected - theory) < 3 / n  # the correction is O(1/n) ...
    assert_agrees(r, corrected, allowance=10 / n ** 2)  # ... and the rest O(1/n^2)


FINITE_SOURCE_ALLOWANCE = 2.0  # times 1/d: Jensen bias of O_s^2/N_s, Var(O_s) = O(1/d)


@pytest.mark.parametrize("gamma_s, sigma_s, lam, depth", [
    (0.5, 0.3, 0.0, 2), (0.2, 0.0, 0.5, 3), (2.0, 0.5, 0.3, 2)])
def test_linear_transfer_finite_source(gamma_s, sigma_s, lam, depth):
    d, gamma, theta, sigma = 200, 0.5, 0.5, 0.2
    r = sim("linear", gamma=gamma, theta=theta, sigma=sigma, lam=lam, depth=depth,
            gamma_s=gamma_s, sigma_s=sigma_s, d=d, instances=16, seed=5)
    n = int(gamma * d)
    theory = st.risk("linear", gamma=gamma, theta=theta, sigma=sigma, lam=lam, depth=depth,
                     gamma_s=gamma_s, sigma_s=sigma_s)
    # target-side O(1/n) (as in the population case) plus the source-side O(1/d)
    assert_agrees(r, theory, allowance=(math.sin(theta) ** 2 + sigma ** 2 + 1) / n
                  + FINITE_SOURCE_ALLOWANCE / d)


# ------------------------------------------------------------------------------ fine-tuning

def _paired(result, *, d, gamma, theta, sigma, seed, depth, form):
    """Per-instance risk of the conservation-law endpoint of ``form`` on the same data."""
    K = result.instances
    X, y = target_data(instance_streams(seed, K), d=d, gamma=gamma, theta=theta, sigma=sigma)
    beta = finetune_endpoint(result.beta_source, sample_problem(X, y), depth, form)
    beta_t = np.zeros(d)
    beta_t[0], beta_t[1] = math.cos(theta), math.sin(theta)
    return beta, ((beta - beta_t) ** 2).sum(axis=1)


@pytest.fixture(scope="module")
def noisy_finetune():
    """docs/theory.md's example: L = 3, gamma = 0.6, theta = 3pi/8, sigma = 0.5."""
    kw = dict(gamma=0.6, theta=3 * math.pi / 8, sigma=0.5, depth=3, d=200, seed=7)
    return kw, sim("finetune", instances=24, **kw)


def test_finetune_follows_the_conservation_law_mechanism(noisy_finetune):
    kw, r = noisy_finetune
    assert r.converged.all()
    exact, _ = _paired(r, form="exact", **kw)
    paper, _ = _paired(r, form="paper", **kw)
    # each run ends where the conservation laws say (integration error ~1e-5, see
    # tests/test_integrator.py) ...
    miss_exact = np.linalg.norm(r.beta_hat - exact, axis=1)
    assert miss_exact.max() < 2e-3
    # ... and every run is over ten times further from the paper's endpoint, which keeps the
    # null-space part unscaled
    assert np.linalg.norm(r.beta_hat - paper, axis=1).min() > 10 * 2e-3


def test_finetune_with_noise_agrees_with_exact_form_and_rejects_the_paper(noisy_finetune):
    """MC mean vs the asymptotic exact form; the paper's form rejected by paired comparison."""
    kw, r = noisy_finetune
    d, gamma, sigma = kw["d"], kw["gamma"], kw["sigma"]
    n = int(gamma * d)
    theory = {form: st.risk("finetune", gamma=gamma, theta=kw["theta"], sigma=sigma,
                            depth=3, form=form) for form in ("exact", "paper")}
    assert theory["exact"] == pytest.approx(0.949, abs=5e-4)
    assert theory["paper"] == pytest.approx(0.869, abs=5e-4)
    # finite d: the noise term's exact mean sigma^2 n/(d-n-1) differs from its limit; the
    # fluctuations of |b|^2, |P_perp beta_s|^2 inside c add O(1/d)
    allowance = sigma ** 2 * abs(n / (d - n - 1) - gamma / (1 - gamma)) + 2 / d
    assert_agrees(r, theory["exact"], allowance)
    # The means alone cannot reject the paper at this size (sem ~ 0.02 vs a gap of 0.08);
    # paired instance by instance they do. On the same data, the paper's endpoint
    # (b + P_perp beta_s) has a mean risk that estimates the paper's form ...
    _, paper_risk = _paired(r, form="paper", **kw)
    paper_sem = paper_risk.std(ddof=1) / math.sqrt(paper_risk.size)
    assert abs(paper_risk.mean() - theory["paper"]) <= Z * paper_sem + allowance
    # ... and the runs' risks exceed it in every pairing on average, far beyond the noise
    diff = r.errors - paper_risk
    assert diff.mean() > Z * diff.std(ddof=1) / math.sqrt(diff.size)
    assert diff.mean() == pytest.approx(theory["exact"] - theory["paper"], abs=0.03)


def test_finetune_with_noise_depth_two_population():
    d, gamma, theta, sigma = 200, 0.4, 1.0, 0.4
    n = int(gamma * d)
    r = sim("finetune", gamma=gamma, theta=theta, sigma=sigma, d=d, instances=16, seed=15)
    theory = st.risk("finetune", gamma=gamma, theta=theta, sigma=sigma)
    allowance = sigma ** 2 * abs(n / (d - n - 1) - gamma / (1 - gamma)) + 2 / d
    assert_agrees(r, theory, allowance)
    gaps = endpoint_distances(r)
    assert gaps["exact"].max() < 2e-3


def test_finetune_without_noise_population_equals_both_forms():
    d, gamma, theta = 150, 0.5, math.pi / 4
    r = sim("finetune", gamma=gamma, theta=theta, d=d, instances=12, seed=8)
    theory = st.risk("finetune", gamma=gamma, theta=theta)
    assert theory == pytest.approx(st.risk("finetune", gamma=gamma, theta=theta, form="paper"))
    assert_agrees(r, theory, allowance=2 / d)


def test_finetune_finite_source_noiseless_rejects_paper_per_instance():
    """sigma = sigma_s = 0 but |beta_hat_s|^2 ~ gamma_s != 1: c != 1 already."""
    kw = dict(gamma=0.5, theta=0.8, sigma=0.0, depth=3, d=150, seed=9)
    r = sim("finetune", gamma_s=0.5, instances=12, **kw)
    exact, _ = _paired(r, form="exact", **kw)
    _, paper_risk = _paired(r, form="paper", **kw)
    assert np.linalg.norm(r.beta_hat - exact, axis=1).max() < 2e-3
    diff = r.errors - paper_risk
    assert diff.mean() > Z * diff.std(ddof=1) / math.sqrt(diff.size)
    theory = st.risk("finetune", gamma=0.5, theta=0.8, depth=3, gamma_s=0.5)
    assert_agrees(r, theory, allowance=FINITE_SOURCE_ALLOWANCE / kw["d"] + 2 / kw["d"])


def test_finetune_above_interpolation_is_least_squares():
    d, gamma, theta, sigma = 80, 1.5, 0.9, 0.3
    r = sim("finetune", gamma=gamma, theta=theta, sigma=sigma, d=d, instances=6, seed=10)
    X, y = target_data(instance_streams(10, 6), d=d, gamma=gamma, theta=theta, sigma=sigma)
    ols = np.stack([np.linalg.lstsq(Xk, yk, rcond=None)[0] for Xk, yk in zip(X, y)])
    assert np.abs(r.beta_hat - ols).max() < 1e-4


def test_finetune_finite_source_with_noise_depth_two():
    d, gamma, theta, sigma = 200, 0.5, 0.8, 0.2
    r = sim("finetune", gamma=gamma, theta=theta, sigma=sigma, gamma_s=2.0, sigma_s=1.0,
            d=d, instances=16, seed=11)
    theory = st.risk("finetune", gamma=gamma, theta=theta, sigma=sigma, gamma_s=2.0,
                     sigma_s=1.0)
    n = int(gamma * d)
    allowance = (sigma ** 2 * abs(n / (d - n - 1) - gamma / (1 - gamma))
                 + (FINITE_SOURCE_ALLOWANCE + 2) / d)
    assert_agrees(r, theory, allowance)
    assert_rejects(r, st.risk("finetune", gamma=gamma, theta=theta, sigma=sigma, gamma_s=2.0,
                              sigma_s=1.0, form="paper"), allowance)


# ------------------------------------------------------------------------- honesty and API

def test_same_seed_same_numbers_and_instances_are_independent_of_batch_size():
    kw = dict(gamma=0.5, theta=0.6, sigma=0.2, d=60, seed=12)
    a = sim("finetune", instances=4, **kw)
    b = sim("finetune", instances=4, **kw)
    c = sim("finetune", instances=2, **kw)
    np.testing.assert_array_equal(a.errors, b.errors)
    np.testing.assert_allclose(a.errors[:2], c.errors, rtol=1e-10)
    other = sim("finetune", instances=4, **{**kw, "seed": 13})
    assert not np.allclose(a.errors, other.errors)


def test_non_convergence_is_reported_not_averaged():
    r = sim("scratch", gamma=0.5, theta=0.6, sigma=0.2, d=60, instances=3, seed=0,
            max_steps=20)
    assert not r.converged.any()
    assert (r.diagnostics["train"]["steps"] == 20).all()
    with pytest.raises(ConvergenceError, match="did not converge"):
        r.mean
    with pytest.raises(ConvergenceError):
        r.sem
    assert "NOT converged" in repr(r)


def test_balanced_init_gives_the_same_pipeline():
    kw = dict(gamma=0.5, theta=0.6, sigma=0.2, d=100, seed=14, instances=8)
    r = sim("linear", init="balanced", **kw)
    assert_agrees(r, st.risk("linear", gamma=0.5, theta=0.6, sigma=0.2, d=100))


def test_progress_is_silent_when_asked(capsys):
    sim("scratch", gamma=0.5, theta=0.6, d=40, instances=2, seed=0, progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize("kwargs, name", [
    (dict(gamma=0.505), "gamma"),
    (dict(gamma=-0.5), "gamma"),
    (dict(theta=4.0), "theta"),
    (dict(sigma=-1.0), "sigma"),
    (dict(d=1), "d"),
    (dict(instances=0), "instances"),
    (dict(seed=-1), "seed"),
    (dict(depth=1), "depth"),
    (dict(alpha=0.0), "alpha"),
    (dict(gamma=[0.5, 1.0]), "gamma"),
    (dict(init="orthogonal"), "init"),
    (dict(gamma_s=0.333), "gamma_s"),
    (dict(sigma_s=0.2), "sigma_s"),
    (dict(max_steps=0), "max_steps"),
])
def test_bad_input_names_the_parameter(kwargs, name):
    kw = dict(gamma=0.5, theta=0.5, d=100, instances=2, seed=0, progress=False)
    kw.update(kwargs)
    with pytest.raises(ValueError, match=name):
        st.simulate("finetune", **kw)


def test_bad_method_and_lam_outside_linear():
    with pytest.raises(ValueError, match="method"):
        st.simulate("ridge", gamma=0.5, theta=0.5, d=40, instances=1)
    with pytest.raises(ValueError, match="lam"):
        st.simulate("finetune", gamma=0.5, theta=0.5, lam=0.1, d=40, instances=1)
    with pytest.raises(ValueError, match="baseline"):
        st.simulate("linear", gamma=0.5, theta=0.5, baseline="optimal_ridge", d=40, instances=1)
    with pytest.raises(ValueError, match="baseline"):
        st.simulate("scratch", gamma=0.5, theta=0.5, baseline="lasso", d=40, instances=1)


def test_endpoint_distances_regenerates_the_same_data(noisy_finetune):

    kw, r = noisy_finetune
    gaps = endpoint_distances(r)
    exact, _ = _paired(r, form="exact", **kw)
    np.testing.assert_allclose(gaps["exact"], np.linalg.norm(r.beta_hat - exact, axis=1))
    assert gaps["paper"].min() > 10 * gaps["exact"].max()
    with pytest.raises(ValueError, match="finetune"):
        endpoint_distances(sim("scratch", gamma=0.5, theta=0.3, d=40, instances=2, seed=0))
