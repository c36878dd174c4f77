"""The gradient-flow integrators: RKC coefficients, low-rank queues, and RKC against Heun.

The default integrator (adaptive Runge-Kutta-Chebyshev with a Gauss-Newton finish,
symtransfer.mc.gradient_flow) is checked three ways, instance by instance:

* at equal flow times against Heun's method (the integrator before it), where both approximate
  the same W(T): their gap must be Heun's O(eta^2) error, i.e. shrink when Heun's step shrinks;
* at convergence against the conservation-law endpoint of fine-tuning (mc/mechanism.py), which
  follows from the flow's invariants and the data alone: within 1e-4 per run;
* at convergence against the min-norm / least-squares solution (scratch).

Near the interpolation threshold (gamma = 0.95, 0.99, 1.05) Heun cannot reach convergence in a
test's time (its steps grow like the condition number), so there it is compared at equal times.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import symtransfer as st
from symtransfer.mc import ConvergenceError, rkc
from symtransfer.mc import gradient_flow as gf
from symtransfer.mc.data import Problem, sample_problem
from symtransfer.mc.gradient_flow import train
from symtransfer.mc.lowrank import LowRankUpdated, QueuedVector
from symtransfer.mc.mechanism import finetune_endpoint
from symtransfer.mc.network import Trainable, Weights, small_init
from symtransfer.mc.pipeline import instance_streams, pretrain, target_data

# ------------------------------------------------------------------------ RKC coefficients

@pytest.mark.parametrize("s", [2, 3, 4, 7, 16, 50, 200, 500])
def test_rkc_is_second_order_and_stable_on_its_interval(s):
    # R(z) = 1 + z + z^2/2 + O(z^3): second order (the z^3 coefficient is below 1/6)
    for z in (1e-2, -1e-2, 1e-3):
        assert abs(rkc.amplification(s, np.array([z]))[0] - (1 + z + z * z / 2)) < abs(z) ** 3
    # |R| <= 1 on the whole interval the stage rule relies on ...
    beta = rkc.stability_bound(s)
    grid = -np.linspace(0.0, beta, 20_001)
    assert np.abs(rkc.amplification(s, grid)).max() <= 1.0 + 1e-9
    # ... which is ~0.65 s^2 long: a fixed step of 1.5/rho (Heun) would need ~s^2/2 times more
    assert beta >= 0.64 * (s * s - 1)
    assert rkc.stages_for(np.array([beta]))[0] == s
    assert rkc.stages_for(np.array([beta * 1.01]))[0] > s


# ------------------------------------------------------------------------- low-rank queues

def test_low_rank_queue_agrees_with_dense_algebra():
    rng = np.random.default_rng(0)
    K, m, n = 3, 7, 5
    base = rng.standard_normal((K, m, n))
    M = LowRankUpdated(base, capacity=2)
    a, b = rng.standard_normal((4, K, m)), rng.standard_normal((4, K, n))
    for t in range(4):
        M.push(a[t], b[t])  # grows past the capacity
    coef = rng.standard_normal((K, 4))
    M.set_coefficients(coef)
    dense = base + np.einsum("kt,tkm,tkn->kmn", coef, a, b)
    x, y = rng.standard_normal((K, n)), rng.standard_normal((K, m))
    np.testing.assert_allclose(M.matvec(x), np.einsum("kmn,kn->km", dense, x), atol=1e-12)
    np.testing.assert_allclose(M.rmatvec(y), np.einsum("kmn,km->kn", dense, y), atol=1e-12)
    exact = np.sqrt(np.einsum("kmn,kmn->k", dense, dense))
    assert np.all(M.norm_bound() >= exact - 1e-12)
    gram = M.term_grams(np.arange(4))
    q = np.einsum("kt,tkm,tkn->kmn", coef, a, b)
    np.testing.assert_allclose(np.einsum("ki,kij,kj->k", coef, gram, coef),
                               np.einsum("kmn,kmn->k", q, q), rtol=1e-12)
    kept = M.flush(keep=np.array([2]))
    np.testing.assert_allclose(M.base, dense, atol=1e-12)
    np.testing.assert_allclose(M.base_norm, exact, rtol=1e-12)
    assert M.count == 1 and kept.tolist() == [0]
    np.testing.assert_array_equal(M.right[:, 0], b[2])
    v = QueuedVector(x)
    v.push(y[:, :n])
    v.set_coefficients(np.full((K, 1), 2.0))
    np.testing.assert_allclose(v.value(), x + 2 * y[:, :n])


def test_low_rank_norms_are_exact_whenever_flushed_and_batches_split():
    """frobenius2 (plain and row-weighted) equals the dense norm for any coefficients, before
    and after a partial flush; take/put move instances with their queues."""
    rng = np.random.default_rng(1)
    K, m, n = 4, 6, 5
    base, w = rng.standard_normal((K, m, n)), rng.uniform(0.1, 3.0, (K, m))
    M = LowRankUpdated(base, capacity=3, row_weights=w)
    a, b = rng.standard_normal((7, K, m)), rng.standard_normal((7, K, n))

    def dense(coef, upto, start):
        return start + np.einsum("kt,tkm,tkn->kmn", coef, a[:upto], b[:upto])

    for t in range(5):
        M.matvec(b[t])  # the base product of the next term comes from this matvec
        M.push(a[t], b[t])
    coef = rng.standard_normal((K, 5))
    M.set_coefficients(coef)
    D = dense(coef, 5, base)
    np.testing.assert_allclose(M.frobenius2(), np.einsum("kmn,kmn->k", D, D), rtol=1e-12)
    np.testing.assert_allclose(M.frobenius2(weighted=True),
                               np.einsum("km,kmn,kmn->k", w, D, D), rtol=1e-12)
    M.flush(keep=np.array([1, 3]))  # D is now the base; terms 1, 3 kept with coefficient 0
    for t in (5, 6):
        M.push(a[t], b[t])  # no matvec before: base products computed directly
    coef2 = rng.standard_normal((K, 4))
    M.set_coefficients(coef2)
    D2 = D + np.einsum("kt,tkm,tkn->kmn", coef2, a[[1, 3, 5, 6]], b[[1, 3, 5, 6]])
    np.testing.assert_allclose(M.frobenius2(weighted=True),
                               np.einsum("km,kmn,kmn->k", w, D2, D2), rtol=1e-12)
    rows = np.array([3, 1])
    sub = M.take(rows)
    x = rng.standard_normal((2, n))
    np.testing.assert_allclose(sub.matvec(x), np.einsum("kmn,kn->km", D2[rows], x), atol=1e-12)
    sub.push(a[0, rows], b[0, rows], 1.0)
    M.put(rows, sub)
    D2[rows] += np.einsum("km,kn->kmn", a[0, rows], b[0, rows])
    np.testing.assert_allclose(M.base, D2, atol=1e-12)
    np.testing.assert_allclose(M.frobenius2(), np.einsum("kmn,kmn->k", D2, D2), rtol=1e-12)


# --------------------------------------------------------------- the Hessian bound of RKC

def _dense_gradient(layers, last, problem):
    net = Trainable(Weights([W.copy() for W in layers], last.copy()), problem)
    grad = gf._gradient(net)
    parts = [np.einsum("ki,kj->kij", a, b) for a, b in zip(grad.lefts[:-1], grad.rights)]
    return np.concatenate([p.reshape(p.shape[0], -1) for p in parts] + [grad.lefts[-1]], 1)


@pytest.mark.parametrize("depth", [2, 3])
def test_hessian_bound_holds_and_is_tighter_than_the_frobenius_bound(depth):
    """The loss Hessian (central differences of gradients) at points of a flow with spread
    curvatures: its spectral radius is below the RKC bound, which is below the plain
    Frobenius bound of the Heun rule (and well below it where the weights lie along
    small-curvature directions)."""
    rng = np.random.default_rng(2)
    K, d = 2, 6
    lam = np.stack([np.geomspace(1e-2, 4.0, d) for _ in range(K)])
    target = np.zeros((K, d))
    target[:, 0] = 1.0  # along the smallest curvature
    problem = Problem(None, lam, target)
    weights = small_init([np.random.default_rng(k) for k in range(K)], d, depth, 0.3)
    net = Trainable(weights, problem)
    train(net, horizon=50.0, tol=1e-13, progress=False)
    w = net.weights()
    layers, last = [W + 0.05 * rng.standard_normal(W.shape) for W in w.layers], w.last
    sizes = [W[0].size for W in layers] + [d]
    theta = np.concatenate([W.reshape(K, -1) for W in layers] + [last], 1)

    def unflat(t):
        out, i = [], 0
        for W in layers:
            out.append(t[:, i:i + W[0].size].reshape(W.shape))
            i += W[0].size
        return out, t[:, i:]

    eps, P = 1e-6, sum(sizes)
    H = np.zeros((K, P, P))
    for j in range(P):
        e = np.zeros(P)
        e[j] = eps
        H[:, :, j] = (_dense_gradient(*unflat(theta + e), problem)
                      - _dense_gradient(*unflat(theta - e), problem)) / (2 * eps)
    true = np.abs(np.linalg.eigvalsh((H + H.transpose(0, 2, 1)) / 2)).max(axis=1)
    net = Trainable(Weights(*unflat(theta)), problem)
    flow = gf._Flow(net)
    grad = gf._gradient(net)
    norms2 = flow.flow_norms2()
    args = (norms2, gf._v_norms2(grad), flow.first_weighted2(), grad.lefts[0], lam.max(axis=1))
    weighted = gf._hessian_bound(*args)
    split = gf._hessian_bound(*args, grad.z, lam)  # with the rank-1 split of W_1 along v_2
    plain = gf._spectral_radius(norms2, grad.lefts[0], lam.max(axis=1))
    assert np.all(true <= split * (1 + 1e-6)) and np.all(true <= weighted * (1 + 1e-6))
    assert np.all(split <= weighted * (1 + 1e-9)) and np.all(weighted <= plain)
    assert np.all(weighted < 0.8 * plain)


def test_rank_one_secular_bound():
    rng = np.random.default_rng(3)
    diag = np.stack([rng.uniform(0, 4, 30), np.geomspace(1e-3, 4, 30), np.zeros(30)])
    a = np.stack([rng.standard_normal(30), np.r_[np.ones(3), np.zeros(27)], np.zeros(30)])
    exact = np.array([np.linalg.eigvalsh(np.diag(dk) + np.outer(ak, ak))[-1]
                      for dk, ak in zip(diag, a)])
    top = gf._rank_one_top(diag, a * a)
    assert np.all(top >= exact) and np.allclose(top, exact, rtol=1e-8)
    assert np.all(gf._rank_one_top(diag, a * a, iterations=1) >= exact)


def _instance(weights: Weights, problem: Problem, k: int) -> Trainable:
    """Instance ``k`` of a batch on its own (a batch of one)."""
    one = slice(k, k + 1)
    return Trainable(Weights([W[one] for W in weights.layers], weights.last[one]),
                     Problem(problem.basis[one], problem.curvature[one], problem.target[one]))


def test_shrinking_the_batch_changes_no_instance():
    """Instances finish at different times and the batch shrinks to the rest: every instance
    ends exactly (to rounding) where it ends when trained alone, after the same work."""
    _, weights, problem, _, _ = _fine_tuning_setup(40, 0.95, instances=5)
    net = Trainable(weights, problem)
    stats = train(net, progress=False)
    together = net.end_to_end()
    for k in range(5):
        alone = _instance(weights, problem, k)
        single = train(alone, progress=False)
        np.testing.assert_allclose(alone.end_to_end()[0], together[k], rtol=1e-9, atol=1e-13)
        assert single.evaluations[0] == stats.evaluations[k]
        assert single.steps[0] == stats.steps[k]


# ---------------------------------------------------------------- RKC against Heun and laws

def _fine_tuning_setup(d, gamma, *, depth=2, instances=4, seed=0, sigma=0.3, theta=1.0):
    streams = instance_streams(seed, instances)
    weights, pre = pretrain(streams, d=d, depth=depth, gamma_s=None, sigma_s=0.0, alpha=1e-5,
                            init="random", train_options=dict(progress=False))
    assert pre.converged.all()
    X, y = target_data(streams, d=d, gamma=gamma, theta=theta, sigma=sigma)
    return streams, weights, sample_problem(X, y), X, y


def _balance(net: Trainable) -> np.ndarray:
    """W_1^T W_1 - W_2 W_2^T (K, d, d) of a depth-2 network (dense, null-space part included)."""
    w = net.weights()
    W1, w2 = w.layers[0], w.last
    return np.matmul(W1.transpose(0, 2, 1), W1) - np.einsum("ki,kj->kij", w2, w2)


HORIZON = 200.0  # flow time: through the nonlinear phase, ~1400 Heun steps at d = 40


def _at_horizon(weights, problem, **kw) -> tuple[np.ndarray, Trainable]:
    net = Trainable(weights, problem)
    stats = train(net, horizon=HORIZON, tol=1e-13, progress=False, max_steps=10 ** 6, **kw)
    # stopped at the horizon, or earlier at the minimum (to rounding: the flow stands still)
    assert np.all((stats.reason == "horizon") & np.isclose(stats.time, HORIZON)
                  | (stats.reason == "converged"))
    return net.end_to_end(), net


@pytest.mark.parametrize("d, gamma", [(40, 0.5), (40, 0.95), (100, 0.99), (40, 1.05)])
def test_rkc_matches_heun_at_equal_times(d, gamma):
    """Heun with a quarter of its usual step (error ~1e-5 at this horizon, 16x below its
    default) against RKC at its default accuracy (error ~5e-5, set by accuracy = 3e-6)."""
    _, weights, problem, _, _ = _fine_tuning_setup(d, gamma)
    heun, _ = _at_horizon(weights, problem, scheme="heun", step_scale=1.5 / 4)
    ours, net = _at_horizon(weights, problem)
    assert np.linalg.norm(ours - heun, axis=1).max() < 1e-4
    # gradient flow conserves W_1^T W_1 - W_2 W_2^T: RKC keeps it at least as well as Heun
    # at its default step (the integrator before RKC; ~4e-4 in Frobenius norm here)
    start = _balance(Trainable(weights, problem))
    _, heun_net = _at_horizon(weights, problem, scheme="heun")
    drift = {name: np.sqrt(np.einsum("kij,kij->k", *[_balance(n) - start] * 2))
             for name, n in (("rkc", net), ("heun", heun_net))}
    assert np.all(drift["rkc"] < drift["heun"])


def test_rkc_and_heun_converge_to_the_same_trajectory():
    """Both integrators refined: RKC at accuracy 1e-8 and Heun at 1/16 of its step (errors
    ~1e-6 and ~5e-7) agree to a few 1e-6, so they approximate the same W(T); at their defaults
    RKC (806 gradients here) is closer to it than Heun (2678 gradients) in every instance."""
    _, weights, problem, _, _ = _fine_tuning_setup(40, 0.95)
    reference, _ = _at_horizon(weights, problem, scheme="heun", step_scale=1.5 / 16)
    tight, _ = _at_horizon(weights, problem, accuracy=1e-8)
    assert np.linalg.norm(tight - reference, axis=1).max() < 5e-6
    ours, _ = _at_horizon(weights, problem)
    heun, _ = _at_horizon(weights, problem, scheme="heun")
    ours_gap = np.linalg.norm(ours - reference, axis=1)
    heun_gap = np.linalg.norm(heun - reference, axis=1)
    assert np.all(ours_gap < heun_gap)


@pytest.mark.parametrize("d, gamma, depth", [(40, 0.95, 2), (100, 0.99, 2), (40, 1.05, 2),
                                             (40, 0.95, 3)])
def test_rkc_endpoints_follow_the_conservation_laws_near_the_threshold(d, gamma, depth):
    _, weights, problem, X, y = _fine_tuning_setup(d, gamma, depth=depth)
    net = Trainable(weights, problem)
    stats = train(net, progress=False)
    assert stats.converged.all() and (stats.reason == "converged").all()
    miss = np.linalg.norm(net.end_to_end() - finetune_endpoint(weights.end_to_end(), problem,
                                                               depth), axis=1)
    assert miss.max() < 1e-4
    if gamma > 1:  # no null space: both forms are least squares
        ols = np.stack([np.linalg.lstsq(Xk, yk, rcond=None)[0] for Xk, yk in zip(X, y)])
        assert np.abs(net.end_to_end() - ols).max() < 1e-5


def test_rkc_and_heun_endpoints_agree_where_heun_converges():
    _, weights, problem, _, _ = _fine_tuning_setup(60, 0.5)
    ends, miss = {}, {}
    exact = None
    for scheme in ("heun", "rkc"):
        net = Trainable(weights, problem)
        stats = train(net, scheme=scheme, progress=False)
        assert stats.converged.all()
        ends[scheme] = net.end_to_end()
        exact = finetune_endpoint(weights.end_to_end(), problem, 2)
        miss[scheme] = np.linalg.norm(ends[scheme] - exact, axis=1)
    # both end at the conservation-law endpoint, Heun to its O(eta^2) ~1e-4, RKC closer
    assert miss["rkc"].max() < 1e-4 and miss["heun"].max() < 3e-4
    assert miss["rkc"].max() < miss["heun"].max()
    assert np.linalg.norm(ends["rkc"] - ends["heun"], axis=1).max() < 3e-4


@pytest.mark.parametrize("d, gamma", [(40, 0.95), (40, 1.05)])
def test_rkc_scratch_reaches_min_norm_near_the_threshold(d, gamma):
    streams = instance_streams(3, 4)
    X, y = target_data(streams, d=d, gamma=gamma, theta=0.7, sigma=0.3)
    net = Trainable(small_init(streams["scratch_init"], d, 2, 1e-5), sample_problem(X, y))
    assert train(net, progress=False).converged.all()
    min_norm = np.stack([np.linalg.pinv(Xk) @ yk for Xk, yk in zip(X, y)])
    # the small-init residue is O(alpha) = 1e-5 (gamma < 1); none above gamma = 1
    assert np.abs(net.end_to_end() - min_norm).max() < 1e-4


# ---------------------------------------------------------------- n = d, and budgets

def test_at_gamma_one_runs_converge_or_say_why():
    """n = d: the design's smallest singular value is ~1/sqrt(d) and E|X^+ y|^2 is infinite,
    so no sample mean estimates a risk there; each run still either converges or says why."""
    r = st.simulate("finetune", gamma=1.0, theta=0.5, sigma=0.3, d=40, instances=2, seed=0,
                    progress=False)
    stats = r.diagnostics["finetune"]
    assert r.converged.all() and (stats["reason"] == "converged").all()
    assert (stats["error"] <= 1e-6).all()
    # with a budget too small the same runs are reported, not averaged
    _, weights, problem, _, _ = _fine_tuning_setup(40, 1.0)
    out = train(Trainable(weights, problem), max_evaluations=300, progress=False)
    assert not out.converged.any() and (out.reason == "max_evaluations").all()
    short = st.simulate("finetune", gamma=1.0, theta=0.5, sigma=0.3, d=40, instances=2,
                        seed=0, max_steps=5, progress=False)
    assert (short.diagnostics["finetune"]["reason"] == "max_steps").all()
    with pytest.raises(ConvergenceError):
        short.mean


def test_unknown_scheme_is_refused():
    _, weights, problem, _, _ = _fine_tuning_setup(20, 0.5, instances=1)
    with pytest.raises(ValueError, match="scheme"):
        train(Trainable(weights, problem), scheme="rk4")
    assert math.isfinite(train(Trainable(weights, problem), scheme="euler",
                               progress=False).error[0])


# ------------------------------------------------------------- the early (corrected) finish

def _state_at(weights, problem, residual):
    """The flow (RKC, default accuracy) stopped at ``|z - z*| <= residual``: dense weights."""
    net = Trainable(weights, problem)
    train(net, tol=residual, finish=0.0, progress=False)
    return net.weights()


def _beta_after_finish(weights, problem, corrected):
    net = Trainable(weights, problem)
    if corrected:
        W, w = net.first.dense(), net.last
        z = np.einsum("krd,kd->kr", W, w)
        dW, dw = gf._second_order(W, w, problem.curvature, z - problem.target)
        net.first.base += dW
        net.first._base_norms()
        net.last_layer.base = net.last_layer.base + dw
        net.last_layer._value = None
    error = gf._gauss_newton(net, gf._Flow(net), np.ones(problem.instances, dtype=bool), 1e-10,
                             np.zeros(problem.instances, dtype=int))
    assert np.all(error <= 1e-10)
    return net.end_to_end()


@pytest.mark.parametrize("d, gamma", [(40, 0.95), (50, 0.98), (40, 0.5)])
def test_second_order_term_is_what_gauss_newton_misses(d, gamma):
    """From a point of the flow at residual 0.1, the plain Gauss-Newton finish misses the
    flow's endpoint (a tightly integrated continuation of the same flow, per instance) by
    its second-order term (4e-6 - 3e-3 here); with the computed term added it misses by at
    most 1.3% of that (1e-10 - 2e-5), and ~16x less from half the residual (fourth order)."""
    _, weights, problem, _, _ = _fine_tuning_setup(d, gamma, instances=3)
    misses = {}
    for residual in (0.1, 0.05):
        start = _state_at(weights, problem, residual)
        net = Trainable(start, problem)
        train(net, tol=1e-10, finish=1e-5, accuracy=1e-9, max_steps=10 ** 6,
              early_finish=False, progress=False)
        flow_end = net.end_to_end()
        for corrected in (False, True):
            misses[residual, corrected] = np.linalg.norm(
                _beta_after_finish(start, problem, corrected) - flow_end, axis=1)
    assert np.all(misses[0.1, False] > 1e-6) and misses[0.1, False].max() > 5e-5
    assert np.all(misses[0.1, True] < 0.02 * misses[0.1, False])
    assert np.all(misses[0.05, True] < misses[0.1, True] / 6)  # ~1/16: fourth order


@pytest.mark.parametrize("d, gamma, theta", [(40, 0.95, 1.0), (100, 0.99, 1.0), (40, 1.05, 1.0),
                                             (60, 0.9, 0.3)])
def test_early_finish_ends_where_the_flow_ends(d, gamma, theta):
    """The early finish (read='end_to_end', as the target phases use it; tried whatever its
    cost, which at these sizes would keep the plain finish) against the same flow integrated
    tightly to the end, per instance, for fine-tuning and scratch: within the integrator's own
    error (~2e-5 at accuracy 3e-6), with fewer gradient evaluations than the plain finish."""
    streams, weights, problem, _, _ = _fine_tuning_setup(d, gamma, theta=theta)
    scratch = small_init(streams["scratch_init"], d, 2, 1e-5)
    for init in (weights, scratch):
        ends, work = {}, {}
        for name, kw in (("reference", dict(tol=1e-9, finish=1e-4, accuracy=1e-7,
                                            max_steps=10 ** 6, early_finish=False)),
                         ("plain", dict(early_finish=False)),
                         ("early", dict(read="end_to_end", early_finish="always"))):
            net = Trainable(init, problem)
            stats = train(net, progress=False, **kw)
            assert stats.converged.all()
            ends[name], work[name] = net.end_to_end(), stats.evaluations
        miss = np.linalg.norm(ends["early"] - ends["reference"], axis=1)
        assert miss.max() < 5e-5
        assert work["early"].sum() < 0.9 * work["plain"].sum()
    with pytest.raises(ValueError, match="read"):
        train(Trainable(weights, problem), read="beta")
    for bad in ("sometimes", 1, None):
        with pytest.raises(ValueError, match="early_finish"):
            train(Trainable(weights, problem), early_finish=bad)
    assert train(Trainable(weights, problem), early_finish=np.False_,
                 progress=False).converged.all()


def test_early_finish_changes_no_instance():
    """The early finish is per instance: each instance ends where it ends alone, after the
    same work (fine-tuning at gamma = 0.95, where instances finish at different residuals)."""
    _, weights, problem, _, _ = _fine_tuning_setup(40, 0.95, instances=5)
    net = Trainable(weights, problem)
    stats = train(net, read="end_to_end", early_finish="always", progress=False)
    assert stats.evaluations.sum() < train(Trainable(weights, problem), early_finish=False,
                                           progress=False).evaluations.sum()
    together = net.end_to_end()
    for k in range(5):
        alone = _instance(weights, problem, k)
        single = train(alone, read="end_to_end", early_finish="always", progress=False)
        np.testing.assert_allclose(alone.end_to_end()[0], together[k], rtol=1e-9, atol=1e-13)
        assert single.evaluations[0] == stats.evaluations[k]


def test_early_finish_is_not_tried_where_it_costs_more():
    """Where the flow left to the plain finish is cheaper than two trials (small, well
    conditioned problems), the default keeps the plain finish: the same work and endpoint."""
    _, weights, problem, _, _ = _fine_tuning_setup(40, 0.5)
    nets = [Trainable(weights, problem) for _ in range(2)]
    default = train(nets[0], read="end_to_end", progress=False)
    plain = train(nets[1], early_finish=False, progress=False)
    assert np.array_equal(default.evaluations, plain.evaluations)
    np.testing.assert_array_equal(nets[0].end_to_end(), nets[1].end_to_end())
