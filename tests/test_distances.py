"""Dataset distances vs the feature-centric overlap (symtransfer.distances).

Tolerances. Closed forms are compared with direct dense-matrix computations on the full
(d+1) x (d+1) covariances (numpy / scipy) to ~1e-10. Sample estimates agree with a closed form
when ``|mean - closed| <= Z * sem + allowance`` over seeded replications, ``Z = 4`` (a correct
formula fails with probability < 1e-4 under the normal approximation of the mean of >= 20
replications); ``allowance`` is the stated O(d/n) bias of a plug-in estimator, 0 for the
unbiased MMD^2 U-statistic. Every random draw is seeded, so each test is deterministic.
"""
from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
import scipy.linalg as sla

import symtransfer as st
from symtransfer import distances as D
from symtransfer.distances import Task
from symtransfer.mc.gradient_flow import MAX_STEPS, TOL
from symtransfer.mc.pipeline import learned_features, pretrained

Z = 4.0
BANDWIDTH = 1.7


def assert_agrees(samples, closed: float, allowance: float = 0.0) -> None:
    samples = np.asarray(samples, dtype=float)
    mean = samples.mean()
    sem = samples.std(ddof=1) / math.sqrt(samples.size)
    bound = Z * sem + allowance
    gap = abs(mean - closed)
    assert gap <= bound, (f"estimate {mean:.5f} +- {sem:.5f} vs closed form {closed:.5f}: "
                          f"gap {gap:.5f} > {bound:.5f}")


# ------------------------------------------------------------------ dense reference computations

def dense(source: Task, target: Task, h: float = BANDWIDTH) -> dict[str, float]:
    """Every distance from the generic Gaussian formulas on the full covariances."""
    P, Q = source.covariance(), target.covariance()
    dim = P.shape[0]
    out = {}
    if source.sigma > 0 and target.sigma > 0:
        out["kl"] = 0.5 * (np.trace(np.linalg.inv(Q) @ P) - dim
                           + math.log(np.linalg.det(Q) / np.linalg.det(P)))
        out["kl_reverse"] = 0.5 * (np.trace(np.linalg.inv(P) @ Q) - dim
                                   + math.log(np.linalg.det(P) / np.linalg.det(Q)))
        bc = (np.linalg.det(P) * np.linalg.det(Q)) ** 0.25 / math.sqrt(np.linalg.det((P + Q) / 2))
        out["hellinger"] = math.sqrt(1 - bc)
    R = sla.sqrtm(Q).real
    fid = np.trace(sla.sqrtm(R @ P @ R)).real
    out["w2"] = math.sqrt(max(0.0, np.trace(P) + np.trace(Q) - 2 * fid))

    def mean_kernel(C):  # E exp(-|w|^2/(2h^2)), w ~ N(0, C)
        return np.linalg.det(np.eye(dim) + C / h ** 2) ** -0.5

    mmd2 = mean_kernel(2 * P) + mean_kernel(2 * Q) - 2 * mean_kernel(P + Q)
    out["mmd"] = math.sqrt(max(mmd2, 0.0))
    return out


def pairs():
    rng = np.random.default_rng(20240501)
    out = []
    for dim in (1, 2, 3, 6):
        for _ in range(3):
            out.append((Task(rng.normal(size=dim), rng.uniform(0.2, 1.2)),
                        Task(rng.uniform(0.3, 2.5) * rng.normal(size=dim), rng.uniform(0.2, 1.2))))
    b = rng.normal(size=4)
    out += [(Task(b, 0.3), Task(2.5 * b, 0.5)),        # parallel
            (Task(b, 0.3), Task(-1.5 * b, 0.3)),       # antiparallel
            (Task(b, 0.4), Task(b, 0.4)),              # identical
            (Task(np.zeros(4), 0.5), Task(b, 0.7)),    # zero source teacher
            (Task(b, 0.0), Task(0.5 * b + 1, 0.0))]    # noiseless (W2, MMD only)
    return out


@pytest.mark.parametrize("source, target", pairs())
def test_closed_forms_match_dense_matrices(source, target):
    ref = dense(source, target)
    for metric, value in ref.items():
        got = D.distance(metric, source, target, bandwidth=BANDWIDTH)
        # the dense W2 reference itself cancels near 0: accurate only to ~sqrt(eps tr S)
        tol = 1e-6 if metric == "w2" and value < 1e-5 else 1e-9 * max(1.0, value)
        assert abs(got - value) <= tol, (metric, got, value)


def test_equal_noise_kl_is_half_squared_distance_over_sigma2():
    rng = np.random.default_rng(1)
    bs, bt = rng.normal(size=5), rng.normal(size=5)
    value = D.kl(Task(bs, 0.4), Task(bt, 0.4))
    assert value == pytest.approx(np.sum((bs - bt) ** 2) / (2 * 0.4 ** 2), rel=1e-13)


def test_summary_form_equals_task_form_and_broadcasts():
    rng = np.random.default_rng(2)
    bs, bt = rng.normal(size=7), 2 * rng.normal(size=7)
    s, t = Task(bs, 0.3), Task(bt, 0.8)
    ns, nt = np.linalg.norm(bs), np.linalg.norm(bt)
    summary = dict(norm_s=ns, norm_t=nt, cos=bs @ bt / (ns * nt), sigma_s=0.3, sigma_t=0.8)
    for metric in D.METRICS:
        extra = {"d": 7} if metric == "mmd" else {}
        a = D.distance(metric, s, t, bandwidth=2.0)
        b = D.distance(metric, bandwidth=2.0, **summary, **extra)
        assert isinstance(b, float)
        assert a == pytest.approx(b, rel=1e-12)
    grid = D.wasserstein2(norm_s=1.0, norm_t=np.linspace(0, 3, 4)[:, None],
                          cos=np.linspace(-1, 1, 5)[None, :], sigma_s=0.2, sigma_t=0.3)
    assert grid.shape == (4, 5)
    assert grid[1, 3] == pytest.approx(D.wasserstein2(norm_s=1.0, norm_t=1.0, cos=0.5,
                                                      sigma_s=0.2, sigma_t=0.3))
    # symmetric metrics, asymmetric KL
    assert D.wasserstein2(s, t) == pytest.approx(D.wasserstein2(t, s), rel=1e-10)
    assert D.hellinger(s, t) == pytest.approx(D.hellinger(t, s), rel=1e-12)
    assert D.mmd(s, t, bandwidth=2.0) == pytest.approx(D.mmd(t, s, bandwidth=2.0), rel=1e-12)
    assert D.distance("kl_reverse", s, t) == pytest.approx(D.kl(t, s), rel=1e-14)
    assert D.kl(s, t) != pytest.approx(D.kl(t, s), rel=1e-3)


def test_w2_parallel_form_is_cancellation_free():
    """Near-identical parallel tasks: the sum-of-squares form keeps full relative accuracy."""
    b = np.array([0.6, -0.8, 0.0])
    eps = 1e-9
    got = D.wasserstein2(Task(b, 0.5), Task((1 + eps) * b, 0.5))
    # first order: S_t - S_s = eps * (dS/deps); W2 ~ |b| eps * (constant); compare at 2 eps
    got2 = D.wasserstein2(Task(b, 0.5), Task((1 + 2 * eps) * b, 0.5))
    assert 0 < got < 1e-8
    assert got2 / got == pytest.approx(2.0, rel=1e-5)


# ------------------------------------------------------------------ sample estimators

SOURCE = Task(np.array([1.0, 0.0, 0.0]), 0.5)
TARGET = Task(np.array([0.4, 0.9, -0.3]), 0.7)


@pytest.mark.parametrize("metric", ["kl", "kl_reverse", "hellinger", "w2"])
@pytest.mark.parametrize("fit", ["model", "covariance"])
def test_plug_in_estimates_match_closed_forms(metric, fit):
    """20 replications, n = 2000 per task, d = 3. Allowance for the plug-in bias:
    5 (d+1)^2/n (1 + value) for fit='covariance' (O(d^2/n)), 5 (d+1)/n (1 + value) for 'model'."""
    n, reps = 2000, 20
    rng = np.random.default_rng(zlib.crc32(f"{metric}/{fit}".encode()))
    closed = D.distance(metric, SOURCE, TARGET)
    est = [D.estimate(metric, SOURCE.sample(n, rng), TARGET.sample(n, rng), fit=fit)
           for _ in range(reps)]
    dim = SOURCE.d + 1
    allowance = 5 * (dim ** 2 if fit == "covariance" else dim) / n * (1 + closed)
    assert_agrees(est, closed, allowance)


def test_mmd2_u_statistic_is_unbiased():
    """30 replications of 300 vs 300 samples; the U-statistic's mean is MMD^2 exactly."""
    rng = np.random.default_rng(7)
    h = 2.0
    closed = D.mmd2(SOURCE, TARGET, bandwidth=h)
    est = [D.estimate("mmd2", SOURCE.sample(300, rng), TARGET.sample(300, rng), bandwidth=h)
           for _ in range(30)]
    assert_agrees(est, closed)
    # and it has no bias at MMD = 0 (it goes negative)
    same = [D.estimate("mmd2", SOURCE.sample(200, rng), SOURCE.sample(200, rng), bandwidth=h)
            for _ in range(30)]
    assert_agrees(same, 0.0)
    assert min(same) < 0


def test_fit_task_recovers_the_task():
    rng = np.random.default_rng(3)
    fitted = D.fit_task(*TARGET.sample(20000, rng))
    assert np.allclose(fitted.beta, TARGET.beta, atol=0.03)
    assert fitted.sigma == pytest.approx(TARGET.sigma, rel=0.03)


# ------------------------------------------------------------------ Thm 2.2 counterexample

KS = (1.0, 10.0, 1e2, 1e3, 1e4)


@pytest.mark.parametrize("metric, value", [("kl", 7.0), ("kl_reverse", 0.3), ("w2", 12.0),
                                           ("hellinger", 0.9), ("mmd", 0.2)])
def test_counterexample_hits_the_prescribed_distance(metric, value):
    source = Task(np.array([0.6, 0.0, -0.8, 0.0]), 0.4)
    target = D.counterexample(source, value, metric, bandwidth=BANDWIDTH)
    k = target.beta @ source.beta / (source.beta @ source.beta)
    assert k >= 1
    assert np.allclose(target.beta, k * source.beta, rtol=0, atol=1e-14 * k)
    assert target.sigma == source.sigma
    assert D.distance(metric, source, target, bandwidth=BANDWIDTH) == pytest.approx(value,
                                                                                    rel=1e-9)
    assert dense(source, target)[metric] == pytest.approx(value, rel=1e-8)
    assert D.linear_transfer_risk(source, target) == 0.0
    assert D.feature_overlap(source.beta, target.beta) < 1e-30


def test_counterexample_distances_grow_while_linear_transfer_stays_at_its_floor():
    """Along beta_t = k beta_s: KL and W2 grow without bound (~k^2 and ~k), Hellinger and
    MMD rise to their suprema 1 and sqrt(E k_ss); the theory's linear-transfer risk is 0 for
    every k (sigma^2/(n-2) at n samples).

    Simulation (d = 40, n = 30, 400 draws shared over k): a least-squares readout on the
    exact pretrained feature beta_s gives the *same* risk for every k, draw by draw, with
    mean sigma^2/(n-2). On the rank-1 feature learned by gradient flow (population
    pretraining from init scale 1e-5) the feature is off beta_s by delta ~ 1e-5, so the risk
    is sigma^2/(n-2) + k^2 delta^2 (1 + 1/(n-2)): checked against that exact expectation, and
    within 2% of the floor up to k = 1e3."""
    d, n, sigma, reps = 40, 30, 0.5, 400
    weights, stats = pretrained(0, 1, d=d, depth=2, gamma_s=None, sigma_s=0.0, alpha=1e-5,
                                init="random", tol=TOL, max_steps=MAX_STEPS, progress=False)
    assert stats.converged.all()
    (feature,) = learned_features(weights.features(), 1e-3, [np.random.default_rng(0)])
    assert feature.shape == (d, 1)
    e1 = np.zeros(d)
    e1[0] = 1.0
    source = Task(e1, sigma)
    targets = [Task(k * e1, sigma) for k in KS]
    kl = [D.kl(source, t) for t in targets]
    w2 = [D.wasserstein2(source, t) for t in targets]
    hel = [D.hellinger(source, t) for t in targets]
    mmd = [D.mmd(source, t, bandwidth=math.sqrt(d + 1)) for t in targets]
    for series in (kl, w2, hel, mmd):
        assert np.all(np.diff(series) > 0)
    assert kl[0] == 0 and w2[0] == 0 and hel[0] == 0 and mmd[0] == 0
    assert kl[-1] > 1e8 and w2[-1] > 1e4 - 10
    assert kl[-1] / kl[-2] == pytest.approx(1e2, rel=0.01)   # ~ k^2
    assert w2[-1] / w2[-2] == pytest.approx(10, rel=0.01)     # ~ k
    assert 1 - hel[-1] < 1e-3
    h2 = d + 1.0  # sup along the family: E k_ss = (h^2/(h^2+2))^{d/2} h g_ss^{-1/2}
    sup = math.sqrt((h2 / (h2 + 2)) ** (d / 2) * math.sqrt(h2)
                    / math.sqrt(h2 + 2 * sigma ** 2 + 2 * h2 / (h2 + 2)))
    assert sup - mmd[-1] < 1e-3 * sup and mmd[-1] < sup
    floor = sigma ** 2 / (n - 2)
    for t in targets:  # theory: linear transfer is exact, at every k
        assert D.linear_transfer_risk(source, t) == 0.0
        assert D.linear_transfer_risk(source, t, n=n) == pytest.approx(floor, rel=1e-14)
    assert st.risk("linear", gamma=0.5, theta=0.0) == 0.0
    rng = np.random.default_rng(11)
    exact_feature = np.empty((len(KS), reps))
    learned = np.empty((len(KS), reps))
    for r in range(reps):
        X = rng.standard_normal((n, d))
        eps = rng.standard_normal(n)
        for basis, risks in ((e1[:, None], exact_feature), (feature, learned)):
            H = X @ basis
            for i, t in enumerate(targets):
                w, *_ = np.linalg.lstsq(H, X @ t.beta + sigma * eps, rcond=None)
                risks[i, r] = np.sum((basis @ w - t.beta) ** 2)
    assert np.max(np.abs(exact_feature - exact_feature[0])) < 1e-12 * KS[-1] ** 2 * floor
    assert_agrees(exact_feature[0], floor)
    delta2 = D.feature_overlap(feature, e1)
    assert 0 < delta2 < 1e-8
    for i, (k, t) in enumerate(zip(KS, targets)):
        expected = D.linear_transfer_risk(Task(feature[:, 0], sigma), t, n=n)
        assert expected == pytest.approx(floor + k ** 2 * delta2 * (1 + 1 / (n - 2)), rel=1e-6)
        assert_agrees(learned[i], expected)
        if k <= 1e3:
            assert abs(learned[i].mean() / exact_feature[i].mean() - 1) < 0.02


# ------------------------------------------------------------------ feature-centric overlap

def test_overlap_estimate_population_pretraining():
    """Learned features of population pretraining span beta_s = e_1: overlap sin^2 theta.
    Noiseless fresh sample, n = 40000: sd ~ 2 rho sqrt((1 - rho)/n) + 2/n <= 0.004."""
    d, n = 30, 40000
    weights, _ = pretrained(1, 1, d=d, depth=3, gamma_s=None, sigma_s=0.0, alpha=1e-5,
                            init="random", tol=TOL, max_steps=MAX_STEPS, progress=False)
    (feature,) = learned_features(weights.features(), 1e-3, [np.random.default_rng(0)])
    rng = np.random.default_rng(5)
    X = rng.standard_normal((n, d))
    for theta in (0.0, np.pi / 6, np.pi / 3, np.pi / 2):
        beta_t = np.zeros(d)
        beta_t[0], beta_t[1] = np.cos(theta), np.sin(theta)
        rho = D.expected_feature_overlap(theta)
        assert rho == pytest.approx(np.sin(theta) ** 2, abs=1e-15)
        assert D.feature_overlap(feature, beta_t) == pytest.approx(rho, abs=1e-9)
        est = D.estimate_feature_overlap(feature, X, X @ beta_t)
        sd = 2 * rho * math.sqrt((1 - rho) / n) + 2 / n
        assert abs(est - rho) <= 5 * sd + 1e-6, (theta, est, rho)
        # noisy targets, known noise variance subtracted
        y = X @ beta_t + 0.5 * rng.standard_normal(n)
        est_noisy = D.estimate_feature_overlap(feature, X, y, noise_var=0.25)
        assert abs(est_noisy - rho) <= 0.03, (theta, est_noisy, rho)
        # the theory's linear-transfer risk is the overlap (unit norms)
        assert st.risk("linear", gamma=0.5, theta=theta) == pytest.approx(rho, abs=1e-12)


@pytest.mark.parametrize("gamma_s, sigma_s", [(0.5, 0.3), (2.0, 0.5)])
def test_overlap_estimate_finite_source(gamma_s, sigma_s):
    """Features span beta_hat_s (finite source, d = 100, 12 instances): per instance the
    estimate matches the exact 1 - (beta_hat_s.beta_t)^2/|beta_hat_s|^2 (sd bound as above),
    and the instance mean matches 1 - O_s^2/N_s within 4 sem + 2/d (finite-d bias)."""
    d, K, n, theta = 100, 12, 20000, np.pi / 4
    weights, stats = pretrained(0, K, d=d, depth=2, gamma_s=gamma_s, sigma_s=sigma_s,
                                alpha=1e-5, init="random", tol=TOL, max_steps=MAX_STEPS,
                                progress=False)
    assert stats.converged.all()
    beta_hat = weights.end_to_end()
    features = learned_features(weights.features(), 1e-3,
                                [np.random.default_rng(k) for k in range(K)])
    beta_t = np.zeros(d)
    beta_t[0], beta_t[1] = np.cos(theta), np.sin(theta)
    rng = np.random.default_rng(9)
    exact = []
    for k in range(K):
        assert features[k].shape[1] == 1
        rho = D.feature_overlap(beta_hat[k], beta_t)
        assert D.feature_overlap(features[k], beta_t) == pytest.approx(rho, abs=1e-5)
        X = rng.standard_normal((n, d))
        est = D.estimate_feature_overlap(features[k], X, X @ beta_t)
        assert abs(est - rho) <= 5 * (2 * rho * math.sqrt((1 - rho) / n) + 2 / n) + 1e-5
        exact.append(rho)
    expected = D.expected_feature_overlap(theta, gamma_s=gamma_s, sigma_s=sigma_s)
    assert_agrees(exact, expected, allowance=2 / d)


def test_overlap_from_simulation_result_beta_source():
    r = st.simulate("linear", gamma=1.0, theta=np.pi / 3, d=40, instances=2, seed=0,
                    progress=False)
    beta_t = np.zeros(40)
    beta_t[0], beta_t[1] = np.cos(np.pi / 3), np.sin(np.pi / 3)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 40))
    for b in r.beta_source:
        est = D.estimate_feature_overlap(b, X, X @ beta_t)
        assert est == pytest.approx(0.75, abs=5 * 2 * 0.75 * math.sqrt(0.25 / 20000))


def test_expected_overlap_values():
    assert D.expected_feature_overlap(np.pi / 2) == pytest.approx(1.0)
    g, s, th = 0.5, 0.3, 0.7
    assert D.expected_feature_overlap(th, gamma_s=g, sigma_s=s) == pytest.approx(
        1 - (g * np.cos(th)) ** 2 / (g + s ** 2 * g / (1 - g)))
    g = 2.0
    assert D.expected_feature_overlap(th, gamma_s=g, sigma_s=s) == pytest.approx(
        1 - np.cos(th) ** 2 / (1 + s ** 2 / (g - 1)))
    assert D.expected_feature_overlap(th, gamma_s=1.0, sigma_s=0.3) == pytest.approx(1.0)
    assert D.expected_feature_overlap(th, gamma_s=1.0, sigma_s=0.0) == pytest.approx(
        np.sin(th) ** 2)
    grid = D.expected_feature_overlap(np.linspace(0, 1, 3)[:, None], gamma_s=[0.5, 2.0],
                                      sigma_s=0.1)
    assert grid.shape == (3, 2)


# ------------------------------------------------------------------ validation

B = np.array([1.0, 0.0])


@pytest.mark.parametrize("call, exc, name", [
    (lambda: Task([1.0, np.nan], 0.1), ValueError, "beta"),
    (lambda: Task("abc", 0.1), TypeError, "beta"),
    (lambda: Task(np.ones((2, 2)), 0.1), ValueError, "beta"),
    (lambda: Task(B, -0.1), ValueError, "sigma"),
    (lambda: Task(B, None), TypeError, "sigma"),
    (lambda: D.kl(Task(B, 0.0), Task(B, 0.2)), ValueError, "source.sigma"),
    (lambda: D.hellinger(Task(B, 0.2), Task(B, 0.0)), ValueError, "target.sigma"),
    (lambda: D.kl(norm_s=1, norm_t=1, cos=0.5, sigma_s=0.2, sigma_t=0.0), ValueError, "sigma_t"),
    (lambda: D.kl(norm_s=-1, norm_t=1, cos=0.5, sigma_s=0.2, sigma_t=0.1), ValueError, "norm_s"),
    (lambda: D.wasserstein2(norm_s=1, norm_t=1, cos=1.5, sigma_s=0, sigma_t=0), ValueError, "cos"),
    (lambda: D.wasserstein2(norm_s=1, norm_t=1, sigma_s=0, sigma_t=0), TypeError, "cos"),
    (lambda: D.kl(Task(B, 0.1), Task(B, 0.1), cos=0.2), TypeError, "not both"),
    (lambda: D.kl(Task(B, 0.1), B), TypeError, "target"),
    (lambda: D.kl(Task(B, 0.1), Task(np.ones(3), 0.1)), ValueError, "target.beta"),
    (lambda: D.mmd(Task(B, 0.1), Task(B, 0.1), bandwidth=0), ValueError, "bandwidth"),
    (lambda: D.mmd(norm_s=1, norm_t=1, cos=0, sigma_s=0, sigma_t=0, bandwidth=1), TypeError, "d"),
    (lambda: D.mmd(norm_s=1, norm_t=1, cos=0, sigma_s=0, sigma_t=0, bandwidth=1, d=2.5),
     ValueError, "d"),
    (lambda: D.distance("tv", Task(B, 0.1), Task(B, 0.1)), ValueError, "metric"),
    (lambda: D.distance("mmd", Task(B, 0.1), Task(B, 0.1)), TypeError, "bandwidth"),
    (lambda: D.counterexample(Task(B, 0.1), -1.0), ValueError, "value"),
    (lambda: D.counterexample(Task(B, 0.1), 1.5, "hellinger"), ValueError, "value"),
    (lambda: D.counterexample(Task(B, 0.1), 1.0, "kl", sigma=0.5), ValueError, "value"),
    (lambda: D.counterexample(Task(B, 0.0), 1.0, "kl"), ValueError, "source.sigma"),
    (lambda: D.counterexample(Task(np.zeros(2), 0.1), 1.0), ValueError, "source.beta"),
    (lambda: D.counterexample(Task(B, 0.1), 1.0, "mmd"), TypeError, "bandwidth"),
    (lambda: D.counterexample(B, 1.0), TypeError, "source"),
    (lambda: D.linear_transfer_risk(Task(B, 0.1), Task(B, 0.1), n=2), ValueError, "n"),
    (lambda: D.estimate("kl", (np.ones((5, 2)), np.ones(4)), (np.ones((5, 2)), np.ones(5))),
     ValueError, "source_data"),
    (lambda: D.estimate("kl", (np.ones((5, 2)), np.ones(5)), (np.ones((5, 3)), np.ones(5))),
     ValueError, "target_data"),
    (lambda: D.estimate("kl", np.ones(3), (np.ones((5, 2)), np.ones(5))), TypeError,
     "source_data"),
    (lambda: D.estimate("w2", (np.ones((5, 2)), np.ones(5)), (np.ones((5, 2)), np.ones(5)),
                        fit="exact"), ValueError, "fit"),
    (lambda: D.estimate("mmd", (np.ones((5, 2)), np.ones(5)), (np.ones((5, 2)), np.ones(5))),
     TypeError, "bandwidth"),
    (lambda: D.fit_task(np.ones((2, 3)), np.ones(2)), ValueError, "data"),
    (lambda: D.feature_overlap(np.zeros(2), B), ValueError, "features"),
    (lambda: D.feature_overlap(B, np.zeros(2)), ValueError, "beta_t"),
    (lambda: D.feature_overlap(B, np.ones(3)), ValueError, "beta_t"),
    (lambda: D.expected_feature_overlap(4.0), ValueError, "theta"),
    (lambda: D.expected_feature_overlap(1.0, gamma_s=0.0), ValueError, "gamma_s"),
    (lambda: D.expected_feature_overlap(1.0, sigma_s=0.1), ValueError, "sigma_s"),
    (lambda: D.estimate_feature_overlap(B, np.ones((5, 3)), np.ones(5)), ValueError, "X"),
    (lambda: D.estimate_feature_overlap(B, np.eye(2), np.ones(2), noise_var=-1), ValueError,
     "noise_var"),
    (lambda: D.expression("tv"), ValueError, "name"),
])
def test_bad_input_names_the_parameter(call, exc, name):
    with pytest.raises(exc, match=name):
        call()


def test_importing_distances_does_not_import_sympy():
    import subprocess
    import sys

    code = ("import sys, symtransfer.distances as D; D.kl(norm_s=1, norm_t=1, cos=0, "
            "sigma_s=1, sigma_t=1); print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
