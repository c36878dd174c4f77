"""Two-layer ReLU student-teacher transfer (symtransfer.relu, paper Sec. 4).

Sizes are small (d = 30, teacher width 3, student width 32, 16 instances) so the file runs
in seconds. Monte-Carlo claims are asserted with margins in units of the paired standard
error (sem over instances of R_scratch - R_transfer), never as bare numbers.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from symtransfer.mc.result import ConvergenceError
from symtransfer.relu import (Student, feature_overlap, simulate_relu, source_teacher,
                              target_teacher, teacher_distance, transferability)
from symtransfer.relu import experiment as E
from symtransfer.relu.student import population_loss, sample_loss, generalization_error
from symtransfer.relu.sweep import ReluSweep, run_relu_sweep

D, K, GAMMA = 30, 16, 0.5
#: same features as the source, a different readout, 3x the scale: far in distribution
FAR_SAME_FEATURES = dict(theta=0.0, readout=(4.0, 1.0, 0.25), readout_scale=3.0)
ORTHOGONAL = dict(theta=math.pi / 2)


def _run(method, **kw):
    return simulate_relu(method, gamma=GAMMA, d=D, instances=K, seed=0, **kw)


def _random_student(rng, K=2, m=5, d=8):
    return Student(rng.standard_normal((K, m, d)), rng.standard_normal((K, m)),
                   rng.standard_normal(K))


def _finite_difference(student, loss_fn, h=1e-6):
    """Central differences of loss_fn(student)[0][k] in every parameter of instance k."""
    out = []
    for array in student.arrays:
        num = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            old = array[index]
            array[index] = old + h
            up = loss_fn(student)[0][index[0]]
            array[index] = old - h
            down = loss_fn(student)[0][index[0]]
            array[index] = old
            num[index] = (up - down) / (2 * h)
        out.append(num)
    return out


@pytest.mark.parametrize("loss", ["population", "sample"])
def test_gradients_match_finite_differences(loss):
    rng = np.random.default_rng(1)
    s = _random_student(rng)
    t = target_teacher(8, 0.7, readout="flip", readout_scale=2.0)
    X, y = rng.standard_normal((2, 40, 8)), rng.standard_normal((2, 40))
    fn = (lambda st: population_loss(st, t)) if loss == "population" else (
        lambda st: sample_loss(st, X, y))
    _, grads = fn(s)
    for analytic, numeric in zip(grads, _finite_difference(s, fn)):
        assert np.abs(analytic - numeric).max() <= 1e-6 * np.abs(analytic).max()


def test_teachers_are_centred_and_exact_test_error_matches_sampling():
    t = target_teacher(10, 0.9, shared=1, readout=(2.0, -1.0, 0.5), readout_scale=1.5)
    assert abs(t.mean()) < 1e-12 and t.second_moment() == pytest.approx(2.25, rel=1e-12)
    rng = np.random.default_rng(2)
    s = _random_student(rng, d=10)
    X = rng.standard_normal((400_000, 10))
    sq = (s(np.broadcast_to(X, (2,) + X.shape)) - t(X)) ** 2
    mc, mc_sem = sq.mean(axis=1), sq.std(axis=1) / np.sqrt(X.shape[0])
    assert np.all(np.abs(generalization_error(s, t) - mc) < 5 * mc_sem)


def test_same_features_far_in_distribution_transfer():
    source, target = source_teacher(D), target_teacher(D, **FAR_SAME_FEATURES)
    far = teacher_distance(source, target)
    orthogonal = teacher_distance(source, target_teacher(D, math.pi / 2))
    assert orthogonal == pytest.approx(2.0)      # E f_s^2 + E f_t^2, uncorrelated
    assert far > 2.5 * orthogonal                # farther from the source than an orthogonal target
    scratch = _run("scratch", **FAR_SAME_FEATURES)
    for method in ("linear", "finetune"):
        T, sem = transferability(scratch, _run(method, **FAR_SAME_FEATURES))
        assert T > 6 * sem and T > 1.0, (method, T, sem)
    # a sign change of a readout is still the same feature space: linear transfer is exact
    flip = dict(theta=0.0, readout="flip", readout_scale=3.0)
    linear = _run("linear", **flip)
    T, sem = transferability(_run("scratch", **flip), linear)
    assert T > 6 * sem and linear.mean < 0.01 * scratch.mean


def test_orthogonal_features_do_not_transfer():
    """Linear theory at theta = pi/2, sigma = 0: T_linear = -gamma, T_finetune = -(1-gamma)
    (both -0.5 here): transfer hurts. The ReLU networks must show T < 0 as well."""
    scratch = _run("scratch", **ORTHOGONAL)
    for method in ("linear", "finetune"):
        T, sem = transferability(scratch, _run(method, **ORTHOGONAL))
        assert T < -4 * sem, (method, T, sem)


def test_overlap_near_zero_for_same_features_and_one_for_orthogonal():
    student, stats = E.pretrained(0, K, d=D, teacher_width=3, width=32, alpha=1e-4,
                                  tol=1e-4, max_steps=20_000, gamma_s=None)
    assert stats.converged.all()
    same = feature_overlap(student, target_teacher(D, **FAR_SAME_FEATURES))
    flip = feature_overlap(student, target_teacher(D, 0.0, readout="flip"))
    orth = feature_overlap(student, target_teacher(D, math.pi / 2))
    half = feature_overlap(student, target_teacher(D, math.pi / 4))
    assert same.max() < 0.01 and flip.max() < 0.01
    assert orth.min() > 0.98
    assert 0.2 < half.mean() < 0.9
    # the closed-form (population) regression is the large-sample limit
    sampled = feature_overlap(student.take(slice(0, 2)), target_teacher(D, math.pi / 4),
                              samples=40_000, seed=3)
    assert np.allclose(sampled, half[:2], atol=0.03)


def test_seeds_reproducible_and_instances_independent():
    a = simulate_relu("finetune", gamma=1.0, theta=0.5, sigma=0.1, d=12, instances=3, seed=7)
    b = simulate_relu("finetune", gamma=1.0, theta=0.5, sigma=0.1, d=12, instances=3, seed=7)
    c = simulate_relu("finetune", gamma=1.0, theta=0.5, sigma=0.1, d=12, instances=5, seed=7)
    other = simulate_relu("finetune", gamma=1.0, theta=0.5, sigma=0.1, d=12, instances=3,
                          seed=8)
    assert np.array_equal(a.errors, b.errors)
    np.testing.assert_allclose(c.errors[:3], a.errors, rtol=1e-9)
    assert not np.allclose(other.errors, a.errors)


@pytest.mark.parametrize("kw, exc, name", [
    (dict(method="ridge"), ValueError, "method"),
    (dict(gamma=0.0), ValueError, "gamma"),
    (dict(gamma=0.51), ValueError, "gamma"),
    (dict(theta=4.0), ValueError, "theta"),
    (dict(theta=np.array([0.1, 0.2])), TypeError, "theta"),
    (dict(sigma=-0.1), ValueError, "sigma"),
    (dict(shared=4), ValueError, "shared"),
    (dict(readout="swap"), ValueError, "readout"),
    (dict(readout=(1.0, 2.0)), ValueError, "readout"),
    (dict(readout_scale=0.0), ValueError, "readout_scale"),
    (dict(d=5), ValueError, "d"),
    (dict(width=0), ValueError, "width"),
    (dict(instances=1.5), ValueError, "instances"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(alpha=0.0), ValueError, "alpha"),
    (dict(lam=-1.0), ValueError, "lam"),
    (dict(max_steps=0), ValueError, "max_steps"),
    (dict(gamma_s="big"), TypeError, "gamma_s"),
    (dict(sigma=True), TypeError, "sigma"),
])
def test_bad_input_names_the_parameter(kw, exc, name):
    args = dict(method="linear", gamma=0.5, d=10, instances=2)
    args.update(kw)
    method = args.pop("method")
    with pytest.raises(exc, match=name):
        simulate_relu(method, **args)


def test_non_convergence_is_flagged_not_averaged():
    r = simulate_relu("scratch", gamma=1.0, d=10, instances=3, max_steps=3)
    assert not r.converged.any()
    assert np.isfinite(r.errors).all()           # the numbers exist, but are not summarized
    with pytest.raises(ConvergenceError):
        r.mean
    ok = simulate_relu("linear", gamma=1.0, d=10, instances=3)
    with pytest.raises(ConvergenceError):
        transferability(r, ok)
    pre = simulate_relu("finetune", gamma=1.0, d=10, instances=3, max_steps=3)
    assert not pre.converged.any() and not pre.diagnostics["pretrain"]["converged"].any()


def test_transferability_needs_paired_results():
    a = simulate_relu("scratch", gamma=1.0, d=10, instances=3, seed=0)
    b = simulate_relu("linear", gamma=1.0, d=10, instances=3, seed=1)
    with pytest.raises(ValueError, match="seed"):
        transferability(a, b)
    with pytest.raises(ValueError, match="scratch"):
        transferability(b, a)


def test_sweep_round_trip_and_resume(tmp_path, monkeypatch):
    path = tmp_path / "relu.npz"
    grid = {"gamma": [0.5, 1.0], "theta": [0.0, math.pi / 2]}
    kw = dict(d=10, instances=3, path=path, progress=False)
    sweep = run_relu_sweep(grid, **kw)
    assert sweep.done.all() and path.exists()
    assert not list(tmp_path.glob("*.tmp"))
    back = ReluSweep.load(path)
    assert back.methods == sweep.methods and back.settings == sweep.settings
    for name in ("errors", "converged", "steps", "residual", "done"):
        assert np.array_equal(getattr(back, name), getattr(sweep, name), equal_nan=True)
    for axis in grid:
        assert np.array_equal(back.grid[axis], sweep.grid[axis])
    T, sem = back.transferability("linear")
    assert T.shape == (2, 2) and np.isfinite(sem).all()
    assert np.allclose(back.overlap_residual()[:, 0], 0, atol=0.02)
    # one point of the same grid, computed directly, agrees
    direct = simulate_relu("finetune", gamma=1.0, theta=math.pi / 2, d=10, instances=3)
    assert np.array_equal(direct.errors, sweep.errors[2, 1, 1])
    # resuming a finished sweep computes nothing; a different definition is refused
    from symtransfer.relu import sweep as S

    monkeypatch.setattr(S, "run_point", lambda *a: pytest.fail("recomputed a point"))
    again = run_relu_sweep(grid, **kw)
    assert np.array_equal(again.errors, sweep.errors, equal_nan=True)
    with pytest.raises(ValueError, match="another definition"):
        run_relu_sweep(grid, **{**kw, "instances": 4})
    with pytest.raises(ValueError, match="grid parameter"):
        run_relu_sweep({"depth": [2]}, d=10, instances=3)


def test_sweep_in_worker_processes_gives_the_serial_numbers():
    grid = {"gamma": [0.5, 1.0], "theta": [0.0, math.pi / 2]}
    kw = dict(d=10, instances=2, progress=False)
    serial = run_relu_sweep(grid, workers=1, **kw)
    parallel = run_relu_sweep(grid, workers=2, **kw)
    for name in ("errors", "converged", "steps", "residual", "done"):
        assert np.array_equal(getattr(serial, name), getattr(parallel, name), equal_nan=True)
