"""Pretraining with a penalty mu |w - w_0|^2 toward the initialization, then transfer.

Theory (depth 2, population source): the pretrained vector is (1 - mu) beta_s; fine-tuning
transferability T(mu) peaks at mu* with T* = (1-gamma) cos(theta)^2 >= 0, so the best penalty
removes negative transfer. Monte-Carlo: gradient flow on the penalized loss (dense Heun, see
symtransfer.mc.penalized), then fine-tuning, at d = 200.

Tolerances as in test_mc.py: ``|mean - prediction| <= 4 sem + allowance`` with the finite-size
allowance 2/d (the O(1/d) corrections of the projection and noise terms, as for fine-tuning
there); sign claims need 2 sem (their expected z-score at this size is about 4).
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import symtransfer as st
from symtransfer.mc.mechanism import endpoint_distances

Z = 4.0
GAMMAS = np.linspace(0.05, 0.95, 10)[:, None]
THETAS = np.linspace(0.0, math.pi, 13)[None, :]


# ------------------------------------------------------------------------------------- theory

def test_zero_penalty_is_ordinary_pretraining():
    for method in ("linear", "finetune"):
        both = st.risk(method, gamma=0.4, theta=0.9, sigma=0.3, mu=np.array([0.0, 0.2]))
        assert both[0] == pytest.approx(st.risk(method, gamma=0.4, theta=0.9, sigma=0.3),
                                        rel=1e-13)
        if method == "finetune":  # (ridgeless linear transfer ignores the feature's scale)
            assert both[1] != pytest.approx(both[0])


def test_penalty_shrinks_the_source_in_the_paper_form():
    # paper's form: R = (1-gamma)|beta_t - (1-mu) beta_s|^2 + sigma^2 gamma/(1-gamma)
    g, th, s, mu = 0.3, 1.1, 0.4, 0.35
    b = 1 - mu
    expected = (1 - g) * (b * b - 2 * b * math.cos(th) + 1) + s * s * g / (1 - g)
    assert st.risk("finetune", gamma=g, theta=th, sigma=s, mu=mu, form="paper") == \
        pytest.approx(expected, rel=1e-13)


def test_collapsed_pretraining_gives_scratch():
    """mu >= 1: the origin is stable, nothing is learned, fine-tuning is scratch training."""
    mu = np.array([1.0, 1.5, 7.0])
    for g in (0.4, 1.0, 1.6):
        scratch = st.risk("scratch", gamma=g, sigma=0.2)
        np.testing.assert_array_equal(st.risk("finetune", gamma=g, theta=0.5, sigma=0.2, mu=mu),
                                      scratch)
        np.testing.assert_array_equal(
            st.transferability("finetune", gamma=g, theta=0.5, sigma=0.2, mu=mu), 0.0)
    assert math.isnan(st.phase_boundary("finetune", gamma=0.5, sigma=0.2, mu=1.2))
    # continuous from below, like sqrt(1 - mu): x = c b ~ (B b^2)^(1/4) as b = 1 - mu -> 0
    near = st.transferability("finetune", gamma=0.5, theta=0.5, sigma=0.2,
                              mu=1 - np.array([1e-8, 1e-12]))
    assert 0 < near[1] < near[0] < 1e-3 and near[0] / near[1] == pytest.approx(100, rel=1e-3)


@pytest.mark.parametrize("form", ["exact", "paper"])
@pytest.mark.parametrize("sigma", [0.0, 0.5])
def test_best_penalty_gives_closed_form_transfer(form, sigma):
    mu_star = st.optimal_penalty(gamma=GAMMAS, theta=THETAS, sigma=sigma, form=form)
    T_star = st.transferability("finetune", gamma=GAMMAS, theta=THETAS, sigma=sigma,
                                mu=mu_star, form=form)
    expected = (1 - GAMMAS) * np.clip(np.cos(THETAS), 0, None) ** 2
    np.testing.assert_allclose(T_star, expected, atol=1e-12)
    if form == "paper":
        below = THETAS <= math.pi / 2
        np.testing.assert_allclose(np.broadcast_to(mu_star, (10, 13))[:, below[0]],
                                   np.broadcast_to(1 - np.cos(THETAS), (10, 13))[:, below[0]],
                                   atol=1e-14)


@pytest.mark.parametrize("form", ["exact", "paper"])
def test_optimal_penalty_is_the_maximizer_and_removes_negative_transfer(form):
    grid = np.linspace(0, 1.2, 601)[:, None, None]
    T = st.transferability("finetune", gamma=GAMMAS[None], theta=THETAS[None], sigma=0.3,
                           mu=grid, form=form)
    mu_star = st.optimal_penalty(gamma=GAMMAS, theta=THETAS, sigma=0.3, form=form)
    T_star = st.transferability("finetune", gamma=GAMMAS, theta=THETAS, sigma=0.3, mu=mu_star,
                                form=form)
    assert (T.max(axis=0) <= T_star + 1e-12).all()  # nothing on the grid beats mu*
    assert (T.max(axis=0) >= T_star - 1e-4).all()   # and the grid gets close to it
    assert (T[0] < -0.05).any()                     # without penalty: negative transfer ...
    assert (T_star >= 0).all()                      # ... which the best penalty removes


def test_best_penalty_at_high_precision():
    with mpmath.workdps(60):
        g, th, s = mpmath.mpf("0.35"), mpmath.mpf("0.9"), mpmath.mpf("0.25")
        m = st.optimal_penalty(gamma=g, theta=th, sigma=s, precision=50)
        T = st.transferability("finetune", gamma=g, theta=th, sigma=s, mu=m, precision=50)
        assert abs(T - (1 - g) * mpmath.cos(th) ** 2) < mpmath.mpf("1e-45")
        # closed form mu* = 1 - cos^2/sqrt((1-gamma) cos^2 + B), B = gamma + sigma^2 gamma/(1-gamma)
        B = g + s ** 2 * g / (1 - g)
        c2 = mpmath.cos(th) ** 2
        assert abs(m - (1 - c2 / mpmath.sqrt((1 - g) * c2 + B))) < mpmath.mpf("1e-45")


def test_optimal_penalty_outside_the_transfer_region():
    assert st.optimal_penalty(gamma=0.5, theta=2.0) == 1.0   # anti-aligned: learn nothing
    assert st.optimal_penalty(gamma=1.5, theta=0.3) == 0.0   # gamma > 1: T = 0 for every mu
    assert st.optimal_penalty(gamma=1.0, theta=0.3, sigma=0.2) == 0.0


def test_linear_transfer_with_penalty():
    # ridgeless: the one learned feature's scale does not matter
    np.testing.assert_allclose(st.risk("linear", gamma=0.5, theta=0.7, mu=[0.0, 0.5, 0.9]),
                               math.sin(0.7) ** 2, rtol=1e-13)
    # ridge: a^2 = 1 - mu, R = 1 - cos^2 a^2 (a^2 + 2 lam)/(a^2 + lam)^2
    a2, lam = 0.6, 0.2
    expected = 1 - math.cos(0.7) ** 2 * a2 * (a2 + 2 * lam) / (a2 + lam) ** 2
    assert st.risk("linear", gamma=0.5, theta=0.7, lam=lam, mu=0.4) == pytest.approx(expected)


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="finetune", depth=3, mu=0.2), "depth=2"),
    (dict(method="finetune", gamma_s=2.0, mu=0.2), "gamma_s"),
    (dict(method="scratch", mu=0.2), "does not pretrain"),
    (dict(method="linear", mu=1.2), "mu >= 1"),
    (dict(method="finetune", mu=-0.1), "mu"),
    (dict(method="finetune", mu=float("nan")), "mu"),
    (dict(method="linear", mu=0.2, d=100), "finite-size"),
])
def test_bad_penalty_input(kwargs, message):
    method = kwargs.pop("method")
    with pytest.raises(ValueError, match=message):
        st.risk(method, gamma=0.5, theta=0.3, **kwargs)


def test_simulate_rejects_penalty_where_undefined():
    with pytest.raises(ValueError, match="does not pretrain"):
        st.simulate("scratch", gamma=0.5, mu=0.3, d=20, instances=2)
    with pytest.raises(ValueError, match="population"):
        st.simulate("finetune", gamma=0.5, theta=0.3, mu=0.3, gamma_s=2.0, d=20, instances=2)
    with pytest.raises(ValueError, match="mu"):
        st.simulate("finetune", gamma=0.5, theta=0.3, mu=-1.0, d=20, instances=2)


# -------------------------------------------------------------------------------- Monte-Carlo

def sim(method, **kw):
    kw.setdefault("progress", False)
    return st.simulate(method, **kw)


@pytest.mark.parametrize("mu", [0.3, 0.7])
def test_penalized_pretraining_shrinks_the_source(mu):
    r = sim("finetune", gamma=0.5, theta=0.4, mu=mu, d=100, instances=4, seed=5)
    pre = r.diagnostics["pretrain"]
    assert pre["converged"].all() and (pre["error"] <= 1e-6).all()
    norms = np.linalg.norm(r.beta_source, axis=1)
    np.testing.assert_allclose(norms, 1 - mu, atol=1e-4)  # b = 1 - mu (init residue ~ alpha)
    assert (r.beta_source[:, 0] / norms > 1 - 1e-8).all()  # ... along beta_s = e_1


def test_no_escape_at_or_beyond_the_threshold_and_at_depth_three():
    """mu > 1 (depth 2) and any mu > 0 at depth 3 (here 0.05 >> alpha): the origin is stable,
    pretraining stays at the small initialization, and fine-tuning is training from scratch."""
    kw = dict(gamma=0.5, theta=0.4, sigma=0.2, d=80, instances=4, seed=6)
    r = sim("finetune", mu=1.5, **kw)
    assert r.converged.all()
    assert np.linalg.norm(r.beta_source, axis=1).max() < 1e-6
    scratch = sim("scratch", **kw)
    np.testing.assert_allclose(r.errors, scratch.errors, atol=1e-4)  # both: min-norm interpolator
    deep = sim("finetune", mu=0.05, depth=3, max_steps=20_000, **kw)
    assert deep.diagnostics["pretrain"]["converged"].all()
    assert np.linalg.norm(deep.beta_source, axis=1).max() < 1e-6


def test_lazy_end_with_large_initialization():
    """alpha = 1: a large penalty holds every weight at its random initialization, |w - w_0| ~ 1/mu."""
    shifts = []
    for mu in (10.0, 100.0):
        from symtransfer.mc.network import small_init
        from symtransfer.mc.penalized import train_penalized
        from symtransfer.mc.pipeline import instance_streams

        init = small_init(instance_streams(0, 3)["pretrain_init"], 30, 2, 1.0)
        beta = np.eye(30)[0]
        w, stats = train_penalized(init, beta, mu, progress=False)
        assert stats.converged.all()
        shift = np.sqrt(sum(np.sum((a - b) ** 2, axis=(1, 2)) for a, b in zip(w.layers, init.layers))
                        + np.sum((w.last - init.last) ** 2, axis=1))
        shifts.append(shift)
    ratio = shifts[0] / shifts[1]
    assert np.all((ratio > 8) & (ratio < 12))  # 1/mu scaling


def test_finetuning_after_penalized_pretraining_follows_the_exact_mechanism():
    r = sim("finetune", gamma=0.5, theta=0.9, sigma=0.3, mu=0.5, d=100, instances=6, seed=7)
    gaps = endpoint_distances(r)
    assert gaps["exact"].max() < 1e-3       # each run ends at the exact form's endpoint
    assert gaps["paper"].min() > 0.05       # and far from the paper's (c = 1) endpoint


def test_best_penalty_removes_negative_transfer_in_simulation():
    """gamma = 0.5, theta = 1.2 (> the phase boundary), sigma = 0.2, d = 200, 32 runs, paired:
    without penalty T < 0; at mu* (exact form) T > 0, and both agree with the theory."""
    d, kw = 200, dict(gamma=0.5, theta=1.2, sigma=0.2, d=200, instances=32, seed=11)
    allowance = 2 / d
    scratch = sim("scratch", **kw)
    theory_args = dict(gamma=0.5, theta=1.2, sigma=0.2)
    mu_star = st.optimal_penalty(**theory_args)
    T = {}
    for mu in (0.0, mu_star):
        ft = sim("finetune", mu=mu, **kw)
        assert ft.converged.all()
        t = scratch.errors - ft.errors
        T[mu] = t
        mean, sem = t.mean(), t.std(ddof=1) / math.sqrt(t.size)
        prediction = st.transferability("finetune", mu=mu, **theory_args)
        assert abs(mean - prediction) <= Z * sem + allowance, (mu, mean, sem, prediction)
        sign = -1 if mu == 0 else 1
        assert sign * mean > 2 * sem, (mu, mean, sem)
    gain = T[mu_star] - T[0.0]
    gain_mean, gain_sem = gain.mean(), gain.std(ddof=1) / math.sqrt(gain.size)
    assert gain_mean > Z * gain_sem
    expected_gain = (st.transferability("finetune", mu=mu_star, **theory_args)
                     - st.transferability("finetune", **theory_args))
    assert abs(gain_mean - expected_gain) <= Z * gain_sem + allowance
