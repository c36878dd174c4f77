"""L2-SP (ridge toward the pretrained vector), its optimal penalty, the fair baseline, the
depth-2 network version and weight-decayed scratch training.

Monte-Carlo tolerances: Z = 4 standard errors, plus the finite-size allowance stated at each
test (exact finite-d expectations where they are known, so no allowance there).
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import symtransfer as st
from symtransfer import l2sp_network
from symtransfer.mc.data import Design, teachers
from symtransfer.mc.pipeline import instance_streams
from symtransfer.methods.l2sp import toward

Z = 4.0
POINT = dict(gamma=0.5, theta=1.0, sigma=0.3)


def e2e_monte_carlo(gamma, theta, sigma, lam, d, instances, seed):
    """End-to-end L2-SP on Gaussian designs from beta_hat_s = beta_s (population source):
    errors per instance, from the estimator itself (no formula)."""
    n = int(round(gamma * d))
    beta_s, beta_t = teachers(d, theta)
    design = Design.sample(instance_streams(seed, instances)["target_data"], n, d)
    beta = toward(design.problem(beta_t, sigma), np.tile(beta_s, (instances, 1)), lam)
    return np.einsum("kd,kd->k", beta - beta_t, beta - beta_t)


@pytest.mark.parametrize("gamma, lam", [(0.5, 0.1), (1.0, 0.2), (2.0, 0.5)])
def test_end_to_end_risk_matches_random_matrices(gamma, lam):
    """d = 50, 250 designs. Allowance 1/n: the O(1/n) correction of the spectral averages
    (measured offsets at d = 50-200 are below 0.005 at these points)."""
    errors = e2e_monte_carlo(gamma, 1.0, 0.3, lam, 50, 250, seed=11)
    theory = st.risk("l2sp", gamma=gamma, theta=1.0, sigma=0.3, lam=lam)
    sem = errors.std(ddof=1) / math.sqrt(len(errors))
    assert abs(errors.mean() - theory) <= Z * sem + 1 / (gamma * 50)


def test_ridgeless_l2sp_is_exact_at_finite_d():
    """lam = 0: the interpolator closest to beta_s, E R = (1 - n/d)|w|^2 + sigma^2 n/(d-n-1)
    exactly (projection and inverse-Wishart primitives); no allowance."""
    d, n = 60, 30
    errors = e2e_monte_carlo(0.5, 1.0, 0.3, 0.0, d, 300, seed=12)
    exact = (1 - n / d) * (2 - 2 * math.cos(1.0)) + 0.09 * n / (d - n - 1)
    assert abs(errors.mean() - exact) <= Z * errors.std(ddof=1) / math.sqrt(len(errors))


def test_simulate_l2sp_from_a_pretrained_network():
    """st.simulate pretrains the network and applies the estimator to its end-to-end vector;
    baseline='fair' runs it at lam* (d = 100, 12 instances; allowance 1/n as above)."""
    kw = dict(POINT, d=100, instances=12, seed=2, progress=False)
    plain = st.simulate("l2sp", lam=0.1, **kw)
    assert abs(plain.mean - st.risk("l2sp", lam=0.1, **POINT)) <= Z * plain.sem + 1 / 50
    fair = st.simulate("l2sp", baseline="fair", **kw)
    lam_star = st.optimal_lam("l2sp", **POINT)
    np.testing.assert_allclose(fair.diagnostics["l2sp"]["lam"], lam_star)
    assert abs(fair.mean - st.risk("l2sp", baseline="fair", **POINT)) <= Z * fair.sem + 1 / 50


@pytest.mark.parametrize("point", [dict(gamma=0.4, theta=0.7, sigma=0.3),
                                   dict(gamma=1.0, theta=1.2, sigma=0.5),
                                   dict(gamma=2.5, theta=0.4, sigma=0.8),
                                   dict(gamma=0.6, theta=1.0, sigma=0.2, gamma_s=0.7,
                                        sigma_s=0.1)])
def test_optimal_lam_is_the_minimum(point):
    """At 40 digits: dR/dlam = 0 at lam*, R larger at 0.9 lam* and 1.1 lam*, and the closed-form
    tuned risk is R(lam*)."""
    with mpmath.workdps(40):
        args = {k: mpmath.mpf(v) for k, v in point.items()}
        star = st.optimal_lam("l2sp", precision=40, **args)
        R = lambda x: st.risk("l2sp", lam=x, precision=40, **args)  # noqa: E731
        assert abs(mpmath.diff(R, star)) < mpmath.mpf(10) ** -25
        assert R(star * mpmath.mpf("0.9")) > R(star) < R(star * mpmath.mpf("1.1"))
        tuned = st.risk("l2sp", baseline="fair", precision=40, **args)
        assert abs(tuned - R(star)) < mpmath.mpf(10) ** -30
    floats = {k: float(v) for k, v in point.items()}
    assert st.risk("l2sp", lam=st.optimal_lam("l2sp", **floats), **floats) == pytest.approx(
        st.risk("l2sp", baseline="fair", **floats), rel=1e-12)


def test_limits_in_lam():
    g = np.array([0.3, 0.8, 1.5, 3.0])
    kw = dict(gamma=g, theta=1.0, sigma=0.3)
    np.testing.assert_allclose(st.risk("l2sp", lam=0.0, **kw),
                               st.risk("finetune", form="paper", **kw), rtol=1e-13)
    np.testing.assert_allclose(st.risk("l2sp", lam=1e-9, **kw), st.risk("l2sp", **kw),
                               rtol=1e-6)
    np.testing.assert_allclose(st.risk("l2sp", lam=1e9, **kw), 2 - 2 * math.cos(1.0),
                               rtol=1e-6)
    # theta = 0 from a population source: nothing to learn, lam* = inf and R* = 0
    assert math.isinf(st.optimal_lam("l2sp", gamma=0.5, theta=0.0, sigma=0.3))
    assert st.risk("l2sp", gamma=0.5, theta=0.0, sigma=0.3, baseline="fair") == 0.0


def test_the_interpolation_threshold():
    """gamma = 1: ridgeless L2-SP has the double-descent peak (inf with noise, the limit without);
    any lam > 0 and the tuned learner are finite; T is +inf (lam > 0) or its limit 0 (lam = 0)."""
    lam = np.array([0.0, 0.1])
    risk = st.risk("l2sp", gamma=1.0, theta=1.0, sigma=0.3, lam=lam)
    assert math.isinf(risk[0]) and math.isfinite(risk[1])
    assert st.risk("l2sp", gamma=1.0, theta=1.0, sigma=0.0, lam=0.0) < 1e-40
    T = st.transferability("l2sp", gamma=1.0, theta=1.0, sigma=0.3, lam=lam)
    assert T[0] == 0.0 and math.isinf(T[1]) and T[1] > 0
    assert math.isfinite(st.risk("l2sp", gamma=1.0, theta=1.0, sigma=0.3, baseline="fair"))
    assert st.risk("l2sp", gamma=1.0, theta=1.0, sigma=0.3, lam=0.1) == pytest.approx(
        st.risk("l2sp", gamma=1 - 1e-9, theta=1.0, sigma=0.3, lam=0.1), rel=1e-6)


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="lam"):
        st.risk("l2sp", lam=-0.1, **POINT)
    with pytest.raises(ValueError, match="baseline"):
        st.risk("l2sp", baseline="tuned", **POINT)
    with pytest.raises(ValueError, match="chooses lam itself"):
        st.risk("l2sp", baseline="fair", lam=0.1, **POINT)
    with pytest.raises(ValueError, match="chooses lam itself"):
        st.transferability("linear", baseline="fair", lam=0.1, **POINT)
    with pytest.raises(ValueError, match="optimal_lam"):
        st.optimal_lam("finetune", **POINT)
    with pytest.raises(ValueError, match="form"):
        st.risk("l2sp", form="paper", lam=0.1, **POINT)
    with pytest.raises(ValueError, match="baseline"):
        st.anomalous_transfer("l2sp", baseline="ridgeless", **POINT)
    with pytest.raises(ValueError, match="gamma_s = 1"):
        st.risk("l2sp", lam=0.1, gamma_s=1.0, sigma_s=0.2, **POINT)
    with pytest.raises(ValueError, match="lam"):
        l2sp_network.risk(0.5, 1.0, 0.3, 0.0)


def test_fair_transferability_is_the_difference_of_tuned_risks():
    g = np.array([0.5, 0.9, 1.0, 2.0])
    kw = dict(gamma=g, theta=1.0, sigma=0.3)
    tuned_scratch = st.risk("scratch", gamma=g, sigma=0.3, baseline="optimal_ridge")
    lam_star = st.optimal_lam("l2sp", **kw)
    np.testing.assert_allclose(st.transferability("l2sp", baseline="fair", **kw),
                               tuned_scratch - st.risk("l2sp", lam=lam_star, **kw), rtol=1e-12)
    # methods without a hyperparameter of their own enter as they are (linear transfer: its
    # risk increases with lam, so lam = 0 is its best)
    for method in ("finetune", "linear"):
        np.testing.assert_allclose(st.transferability(method, baseline="fair", **kw),
                                   tuned_scratch - st.risk(method, **kw), rtol=1e-12)
    assert np.all(st.transferability("scratch", gamma=g, sigma=0.3, baseline="fair") == 0)
    # the example: fine-tuning vs tuned scratch is -0.615 at gamma 0.9, theta 1, sigma 0.3;
    # with both sides tuned L2-SP transfers positively there (theta < pi/3)
    at = dict(gamma=0.9, theta=1.0, sigma=0.3)
    assert st.transferability("finetune", baseline="optimal_ridge", **at) == pytest.approx(
        -0.61487, abs=1e-5)
    assert st.transferability("l2sp", baseline="fair", **at) == pytest.approx(0.016415, abs=1e-6)


def test_fair_boundary_is_pi_over_3_at_every_gamma():
    """Tuned L2-SP vs tuned scratch: T > 0 exactly for theta < pi/3, below and above gamma = 1
    (derivations/l2sp.py: R* increases with |beta_t - beta_s|^2 = 2 - 2 cos theta)."""
    g = np.linspace(0.05, 3, 30)[:, None]
    for sigma in (0.1, 0.5, 1.5):
        below = st.transferability("l2sp", gamma=g, theta=np.pi / 3 - 0.02, sigma=sigma,
                                   baseline="fair")
        above = st.transferability("l2sp", gamma=g, theta=np.pi / 3 + 0.02, sigma=sigma,
                                   baseline="fair")
        assert np.all(below > 0) and np.all(above < 0)
        at = st.transferability("l2sp", gamma=g, theta=np.pi / 3, sigma=sigma, baseline="fair")
        assert np.all(np.abs(at) < 1e-12)


def test_anomalous_transfer_vanishes_for_l2sp_under_the_fair_baseline():
    """Against the ridgeless baseline ridgeless L2-SP (the paper's fine-tuning form) transfers
    for theta < pi/3; against the fair baseline tuned L2-SP does too: no anomalous region. Linear
    transfer, whose best lam is 0, keeps the band at gamma ~ 1. (The grid avoids theta = pi/3
    itself, where both transferabilities vanish and rounding decides their signs.)"""
    g = np.linspace(0.05, 3, 40)[:, None]
    t = np.linspace(0, np.pi / 2, 41)[None, :]
    assert not st.anomalous_transfer("l2sp", gamma=g, theta=t, sigma=0.3, baseline="fair").any()
    band = st.anomalous_transfer("linear", gamma=g, theta=t, sigma=0.3, baseline="fair")
    assert band[np.abs(g[:, 0] - 1) < 0.25].mean() > 0.05


def test_network_l2sp_follows_its_stationary_point():
    """Depth-2 network L2-SP by gradient flow (d = 60, 8 runs). Per run: w_2 ends along its
    pretrained direction and beta_hat is end-to-end L2-SP toward t beta_s with penalty lam/t^2
    on that run's data (to the convergence tolerance). Means: t and the risk against the derived
    theory, allowance 4 sem + 3/d (finite-d fluctuations of t)."""
    from symtransfer.mc.l2sp import simulate_network

    r = simulate_network(lam=0.1, d=60, instances=8, seed=0, **POINT)
    assert r.converged.all()
    diag = r.diagnostics["l2sp_net"]
    assert np.all(diag["endpoint"] < 1e-4)
    theory, t = l2sp_network.risk(lam=0.1, **POINT)
    sem_t = diag["t"].std(ddof=1) / math.sqrt(len(diag["t"]))
    assert abs(diag["t"].mean() - t) <= Z * sem_t + 3 / 60
    assert abs(r.mean - theory) <= Z * r.sem + 3 / 60
    # the network is not its end-to-end analogue: the gap is many standard errors
    assert r.mean - st.risk("l2sp", lam=0.1, **POINT) > 0.05


def test_network_small_lam_limit_is_not_finetuning():
    """lam -> 0 of the converged penalized network is the interpolator closest to the pretrained
    weights (t > 1 at sigma = 0), not fine-tuning's flow endpoint (c = 1 at sigma = 0)."""
    kw = dict(gamma=0.5, theta=1.0, sigma=0.0)
    risk, t = l2sp_network.risk(lam=1e-6, **kw)
    assert t > 1.05
    assert risk > st.risk("finetune", **kw) + 0.01


def test_weight_decayed_scratch_is_ridge_on_its_own_path():
    """Depth 2, weight decay lam_wd = lam* |beta*| (the weight decay of optimal ridge,
    derivations/l2sp.py), d = 60, 8 runs on the optimal-ridge runs' data: every run converges
    and equals ridge at its own lam_eff = lam_wd/|beta_hat| to the tolerance; the paired
    difference to optimal ridge is small (second order in the O(1/sqrt d) spread of lam_eff)."""
    import sympy as sp

    from symtransfer import formulas_l2sp
    from symtransfer.mc.l2sp import simulate_weight_decay
    from symtransfer.mc.pipeline import ridge_regression, target_design
    from symtransfer.symbols import gamma, lam, sigma

    g, s = 0.5, 0.4
    wd = float(formulas_l2sp.weight_decay_of_ridge(2).subs({gamma: g, sigma: s,
                                                            lam: sp.Rational(8, 25)}))
    r = simulate_weight_decay(gamma=g, sigma=s, lam=wd, depth=2, d=60, instances=8, seed=1)
    assert r.converged.all()
    lam_eff = r.diagnostics["weight_decay"]["lam_eff"]
    beta_t, _ = teachers(60, 0.0)
    problem = target_design(1, 8, 60, 30).problem(beta_t, s)
    for k in range(8):
        one = type(problem)(problem.basis[k:k + 1], problem.curvature[k:k + 1],
                            problem.target[k:k + 1])
        assert np.linalg.norm(ridge_regression(one, lam_eff[k])[0] - r.beta_hat[k]) < 1e-4
    ridge = st.simulate("scratch", gamma=g, sigma=s, baseline="optimal_ridge", d=60,
                        instances=8, seed=1, progress=False)
    diff = r.errors - ridge.errors
    assert 0 <= diff.mean() < 0.02
    assert abs(np.log(lam_eff.mean() / (s ** 2 / g))) < 0.3


def test_weight_decayed_deeper_scratch_stays_at_the_origin():
    """Depth 3: the origin is a local minimum of the weight-decayed loss, so from a small
    initialization the flow converges there (risk 1), not to optimal ridge."""
    from symtransfer.mc.l2sp import simulate_weight_decay

    r = simulate_weight_decay(gamma=0.5, sigma=0.4, lam=0.17, depth=3, d=30, instances=3,
                              seed=1, max_steps=20_000)
    assert r.converged.all()
    np.testing.assert_allclose(r.errors, 1.0, atol=1e-6)


def test_fair_figures_iterate_over_the_registry():
    """The fair phase diagrams draw one panel per registered pretrained method with a theory
    (a method registered later appears without edits), and the best-method index is the argmax
    of the transferabilities computed directly."""
    pytest.importorskip("matplotlib")
    import sympy as sp

    from symtransfer import methods
    from symtransfer.plots import fair

    toy = methods.Method(name="source_only_fair", label="source only", latex=r"\mathrm{s}",
                         description="predict with beta_hat_s",
                         risk_expr=lambda **_: 2 - 2 * sp.cos(sp.Symbol("theta",
                                                                        nonnegative=True)))
    methods.register(toy)
    try:
        fig = fair.fair_phase_diagrams(sigma=0.3, gamma=np.linspace(0.1, 2, 12),
                                       theta=np.linspace(0, 1.5, 9))
        titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
        assert any("source only" in t for t in titles) and any("L2-SP" in t for t in titles)
    finally:
        methods.unregister("source_only_fair")
    g, t = np.array([0.3, 0.9, 2.0]), np.array([0.2, 0.8, 1.3])
    maps = fair.fair_maps(gamma=g, theta=t, sigma=0.3)
    index, order = fair.best_method(maps)
    direct = np.stack([np.zeros((3, 3))] + [
        st.transferability(n, gamma=g[:, None], theta=t[None, :], sigma=0.3, baseline="fair")
        for n in order[1:]])
    np.testing.assert_array_equal(index, np.argmax(direct, axis=0))
    assert order[index[1, 0]] == "l2sp" and order[index[1, 2]] == "scratch"
    fig = fair.best_method_maps(sigma=0.3, gamma=g, theta=t)
    assert len(fig.axes) == 2


@pytest.mark.parametrize("gamma_s", [0.6, 2.0])
def test_end_to_end_risk_with_a_finite_source(gamma_s):
    """beta_hat_s from n_s = gamma_s d noisy source samples (min-norm below 1, least squares
    above), then L2-SP on independent target data (d = 50, 300 instances). Allowance 1/d for
    the O(1/n) ridge correction and the O(1/d) fluctuations of |w|^2 (measured offsets at this
    size: 0.006 and 0.012, each under 2 sem)."""
    d, K, lam, sigma_s = 50, 300, 0.2, 0.3
    rng = np.random.default_rng(21)
    beta_s, beta_t = teachers(d, 1.0)
    n_s = int(gamma_s * d)
    sources = []
    for _ in range(K):
        Xs = rng.standard_normal((n_s, d))
        sources.append(np.linalg.pinv(Xs) @ (Xs @ beta_s + sigma_s * rng.standard_normal(n_s)))
    design = Design.sample(instance_streams(22, K)["target_data"], 25, d)
    beta = toward(design.problem(beta_t, 0.3), np.stack(sources), lam)
    errors = np.einsum("kd,kd->k", beta - beta_t, beta - beta_t)
    theory = st.risk("l2sp", gamma=0.5, theta=1.0, sigma=0.3, lam=lam, gamma_s=gamma_s,
                     sigma_s=sigma_s)
    sem = errors.std(ddof=1) / math.sqrt(K)
    assert abs(errors.mean() - theory) <= Z * sem + 1 / d
