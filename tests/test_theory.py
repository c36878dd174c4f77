"""symtransfer's formulas against the closed forms stated in docs/theory.md, typed in independently.

Every expected value here is computed in this file from the paper's stated formulas (or from
independent reasoning, explained where it is used), never copied from symtransfer's output.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import symtransfer as st

# ----------------------------------------------------------------------------------------------
# Independent references (typed from docs/theory.md)
# ----------------------------------------------------------------------------------------------


def scratch_ref(g, s):
    """(1-gamma) + sigma^2 gamma/(1-gamma) below gamma = 1; sigma^2/(gamma-1) above."""
    return (1 - g) + s**2 * g / (1 - g) if g < 1 else s**2 / (g - 1)


def scratch_finite_ref(n, d, s):
    """Exact finite-size expectation for Gaussian design (n <= d-2 or n >= d+2)."""
    if n <= d - 2:
        return (1 - n / d) + s**2 * n / (d - n - 1)
    assert n >= d + 2
    return s**2 * d / (n - d - 1)


def source_stats(theta, gamma_s=None, sigma_s=0.0):
    """(N_s, O_s) = (|beta_hat_s|^2, beta_hat_s . beta_t).

    Population pretraining recovers beta_s: (1, cos theta). With gamma_s < 1 the min-norm
    interpolator is P beta_s + X^+ eps (P a random rank-n_s projection): |P beta_s|^2 -> gamma_s,
    beta_t.P beta_s -> gamma_s cos theta, |X^+ eps|^2 -> sigma_s^2 gamma_s/(1-gamma_s). With
    gamma_s > 1 least squares gives beta_s + noise of squared norm sigma_s^2/(gamma_s-1).
    (These reproduce the paper's finite-source T_ft, which is tested separately below.)
    """
    c = math.cos(theta)
    if gamma_s is None:
        return 1.0, c
    if gamma_s < 1:
        return gamma_s + sigma_s**2 * gamma_s / (1 - gamma_s), gamma_s * c
    return 1 + sigma_s**2 / (gamma_s - 1), c


def ft_paper_ref(g, theta, s, gamma_s=None, sigma_s=0.0):
    """(1-gamma)|beta_t - beta_hat_s|^2 + sigma^2 gamma/(1-gamma) below 1; scratch above."""
    if g >= 1:
        return scratch_ref(g, s)
    N, O = source_stats(theta, gamma_s, sigma_s)
    return (1 - g) * (N - 2 * O + 1) + s**2 * g / (1 - g)


def kappa_ref(g, s, L, N):
    """Positive real root of kappa^L - (1-gamma) kappa^(L-1) - B/N_s (numpy.roots, Newton-polished)."""
    B = g + s**2 * g / (1 - g)
    coeffs = np.zeros(L + 1)
    coeffs[0], coeffs[1], coeffs[-1] = 1.0, -(1 - g), -B / N
    roots = np.roots(coeffs)
    real = [r.real for r in roots if abs(r.imag) <= 1e-7 * max(1.0, abs(r)) and r.real > 0]
    assert len(real) == 1, roots  # Descartes: exactly one positive root
    k = real[0]
    for _ in range(3):  # polish
        f = k**L - (1 - g) * k ** (L - 1) - B / N
        df = L * k ** (L - 1) - (L - 1) * (1 - g) * k ** (L - 2)
        k -= f / df
    return k


def ft_exact_ref(g, theta, s, L, gamma_s=None, sigma_s=0.0):
    """The mechanism of docs/theory.md: null-space part rescaled by c = kappa^((L-1)/2)."""
    if g >= 1:
        return scratch_ref(g, s)
    N, O = source_stats(theta, gamma_s, sigma_s)
    c = kappa_ref(g, s, L, N) ** ((L - 1) / 2)
    return (1 - g) * (c**2 * N - 2 * c * O + 1) + s**2 * g / (1 - g)


def linear_ref(theta, lam=0.0, L=2, gamma_s=None, sigma_s=0.0):
    """1 - (O_s^2/N_s) a^2(a^2+2 lam)/(a^2+lam)^2, a^2 = N_s^((L-1)/L)."""
    N, O = source_stats(theta, gamma_s, sigma_s)
    a2 = N ** ((L - 1) / L)
    return 1 - O**2 / N * a2 * (a2 + 2 * lam) / (a2 + lam) ** 2


def close(a, b, rel=1e-12, abs_=1e-14):
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_)


THETAS = [0.0, 0.3, math.pi / 4, 1.0, math.pi / 2, 2.0, math.pi]
GAMMAS_BELOW = [0.05, 0.3, 0.5, 0.8, 0.999]
GAMMAS_ABOVE = [1.001, 1.5, 3.0]
SOURCES = [dict(), dict(gamma_s=0.5, sigma_s=0.0), dict(gamma_s=0.4, sigma_s=0.3),
           dict(gamma_s=1.5, sigma_s=0.0), dict(gamma_s=2.5, sigma_s=0.5)]


# ----------------------------------------------------------------------------------------------
# Scratch
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", GAMMAS_BELOW + GAMMAS_ABOVE)
@pytest.mark.parametrize("sigma", [0.0, 0.2, 1.0])
def test_scratch_asymptotic(gamma, sigma):
    assert close(st.risk("scratch", gamma=gamma, sigma=sigma), scratch_ref(gamma, sigma))


def test_scratch_asymptotic_vectorized_both_sides():
    g = np.array(GAMMAS_BELOW + GAMMAS_ABOVE)
    out = st.risk("scratch", gamma=g, sigma=0.4)
    assert out.shape == g.shape
    np.testing.assert_allclose(out, [scratch_ref(x, 0.4) for x in g], rtol=1e-12)


@pytest.mark.parametrize("n,d", [(1, 50), (10, 100), (50, 100), (98, 100), (102, 100),
                                 (150, 100), (400, 100), (3, 7), (9, 7)])
@pytest.mark.parametrize("sigma", [0.0, 0.3, 1.5])
def test_scratch_exact_finite_size(n, d, sigma):
    got = st.risk("scratch", gamma=n / d, sigma=sigma, d=d)
    assert close(got, scratch_finite_ref(n, d, sigma))


@pytest.mark.parametrize("n,d", [(99, 100), (100, 100), (101, 100)])
def test_scratch_finite_size_at_the_peak(n, d):
    # the inverse-Wishart mean diverges for |n - d| <= 1: infinite with noise; without noise
    # the min-norm interpolator is the projection of beta onto the row space: risk 1 - n/d (n<=d)
    assert st.risk("scratch", gamma=n / d, sigma=0.3, d=d) == math.inf
    assert close(st.risk("scratch", gamma=n / d, sigma=0.0, d=d), max(1 - n / d, 0.0))


@pytest.mark.parametrize("n", [3, 5, 20, 200])
@pytest.mark.parametrize("theta,sigma", [(0.0, 0.0), (0.7, 0.0), (0.7, 0.5), (2.0, 0.2)])
def test_linear_exact_finite_size(n, theta, sigma):
    # independent reasoning: the frozen feature is the scalar z = beta_s.x ~ N(0,1); the target
    # is y = cos(theta) z + r with r independent of z, Var r = sin^2 + sigma^2. One-dimensional
    # least squares: E(a_hat - cos)^2 = Var r * E[1/chi^2_n] = Var r/(n-2). Risk = sin^2 + that.
    d = 100
    s2 = math.sin(theta) ** 2
    got = st.risk("linear", gamma=n / d, theta=theta, sigma=sigma, d=d)
    assert close(got, s2 + (s2 + sigma**2) / (n - 2))


# ----------------------------------------------------------------------------------------------
# Linear / ridge transfer
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("theta", THETAS)
def test_linear_transfer_is_sin2_independent_of_gamma_sigma(theta):
    g = np.array([0.05, 0.5, 0.999, 1.0, 1.001, 2.0, 10.0])[:, None]
    s = np.array([0.0, 0.3, 2.0])[None, :]
    for depth in (2, 3, 5):
        out = st.risk("linear", gamma=g, theta=theta, sigma=s, depth=depth)
        assert out.shape == (7, 3)
        np.testing.assert_allclose(out, math.sin(theta) ** 2, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("theta", THETAS)
@pytest.mark.parametrize("lam", [0.0, 0.1, 0.5, 2.0, 10.0])
def test_ridge_transfer_population(theta, lam):
    expected = 1 - math.cos(theta) ** 2 * (1 + 2 * lam) / (1 + lam) ** 2
    for depth in (2, 3, 5):
        got = st.risk("linear", gamma=0.7, theta=theta, lam=lam, sigma=0.2, depth=depth)
        assert close(got, expected)


@pytest.mark.parametrize("src", [s for s in SOURCES if s])
@pytest.mark.parametrize("depth", [2, 3, 4, 5])
@pytest.mark.parametrize("lam", [0.0, 0.2, 3.0])
def test_linear_ridge_finite_source(src, depth, lam):
    for theta in (0.0, 0.6, 1.3, 2.5):
        got = st.risk("linear", gamma=0.5, theta=theta, lam=lam, depth=depth, **src)
        assert close(got, linear_ref(theta, lam, depth, **src))


def test_depth_enters_ridge_only_with_finite_source():
    kw = dict(gamma=0.5, theta=0.8, lam=0.4)
    pop = [st.risk("linear", depth=L, **kw) for L in (2, 3, 5)]
    assert pop[0] == pytest.approx(pop[1], abs=1e-14) == pytest.approx(pop[2], abs=1e-14)
    for src in (dict(gamma_s=0.5), dict(gamma_s=2.0, sigma_s=0.6)):
        fin = [st.risk("linear", depth=L, **kw, **src) for L in (2, 3, 5)]
        assert abs(fin[0] - fin[1]) > 1e-3 and abs(fin[1] - fin[2]) > 1e-4
        for L, v in zip((2, 3, 5), fin):
            assert close(v, linear_ref(0.8, 0.4, L, **src))
    # ridgeless: depth drops out even with a finite source (a^2 cancels)
    fin0 = [st.risk("linear", gamma=0.5, theta=0.8, depth=L, gamma_s=0.5) for L in (2, 3, 5)]
    assert max(fin0) - min(fin0) < 1e-14


# ----------------------------------------------------------------------------------------------
# Fine-tuning
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", GAMMAS_BELOW + GAMMAS_ABOVE)
@pytest.mark.parametrize("sigma", [0.0, 0.4])
def test_finetune_paper_form(gamma, sigma):
    for theta in THETAS:
        if gamma < 1:
            expected = 2 * (1 - gamma) * (1 - math.cos(theta)) + sigma**2 * gamma / (1 - gamma)
        else:
            expected = scratch_ref(gamma, sigma)
        got = st.risk("finetune", gamma=gamma, theta=theta, sigma=sigma, form="paper")
        assert close(got, expected)


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_exact_equals_paper_at_zero_noise_population(depth):
    g = np.array([0.05, 0.2, 0.5, 0.8, 0.95, 0.999, 1.5, 3.0])[:, None]
    th = np.array(THETAS)[None, :]
    exact = st.risk("finetune", gamma=g, theta=th, depth=depth)
    paper = np.vectorize(lambda a, b: ft_paper_ref(a, b, 0.0))(g, th)
    np.testing.assert_allclose(exact, paper, rtol=0, atol=1e-12)


def test_exact_differs_from_paper_with_noise_theory_point():
    g, th, s = 0.6, 3 * math.pi / 8, 0.5
    paper_ref = 2 * (1 - g) * (1 - math.cos(th)) + s**2 * g / (1 - g)
    paper = st.risk("finetune", gamma=g, theta=th, sigma=s, depth=3, form="paper")
    exact = st.risk("finetune", gamma=g, theta=th, sigma=s, depth=3)
    assert abs(paper - paper_ref) < 1e-12
    assert abs(paper - 0.869) < 5e-4          # docs/theory.md: 0.869
    assert abs(exact - 0.949) < 5e-4          # docs/theory.md: 0.949 (3 decimals)
    assert exact - paper > 0.07
    assert close(exact, ft_exact_ref(g, th, s, 3), rel=1e-10)


def test_exact_differs_from_paper_finite_source_noiseless():
    # sigma = sigma_s = 0 but |beta_hat_s|^2 = gamma_s = 0.5 != 1, so c != 1
    kw = dict(gamma=0.5, theta=0.7, gamma_s=0.5, sigma_s=0.0)
    N, O = source_stats(0.7, 0.5)
    assert N == 0.5
    for depth in (2, 3, 4):
        exact = st.risk("finetune", depth=depth, **kw)
        paper = st.risk("finetune", depth=depth, form="paper", **kw)
        assert close(paper, (1 - 0.5) * (N - 2 * O + 1))
        assert close(exact, ft_exact_ref(0.5, 0.7, 0.0, depth, 0.5, 0.0), rel=1e-10)
        assert abs(exact - paper) > 1e-3


@pytest.mark.parametrize("gamma", GAMMAS_BELOW + GAMMAS_ABOVE)
def test_finetune_transferability_paper_population(gamma):
    for theta in THETAS:
        for sigma in (0.0, 0.3):
            got = st.transferability("finetune", gamma=gamma, theta=theta, sigma=sigma,
                                     form="paper")
            expected = max(1 - gamma, 0.0) * (2 * math.cos(theta) - 1)
            assert close(got, expected, abs_=1e-13)


@pytest.mark.parametrize("gamma", [0.2, 0.7, 0.999, 1.001, 2.0])
@pytest.mark.parametrize("gamma_s,sigma_s", [(0.3, 0.0), (0.5, 0.4), (0.9, 0.1),
                                             (1.2, 0.0), (1.5, 0.3), (4.0, 1.0)])
def test_finetune_transferability_paper_finite_source(gamma, gamma_s, sigma_s):
    plus = max(1 - gamma, 0.0)
    for theta in THETAS:
        c = math.cos(theta)
        if gamma_s < 1:
            expected = -plus * (gamma_s * (1 - 2 * c) + sigma_s**2 * gamma_s / (1 - gamma_s))
        else:
            expected = -plus * ((1 - 2 * c) + sigma_s**2 / (gamma_s - 1))
        got = st.transferability("finetune", gamma=gamma, theta=theta, sigma=0.2, form="paper",
                                 gamma_s=gamma_s, sigma_s=sigma_s)
        assert close(got, expected, rel=1e-11, abs_=1e-13)


@pytest.mark.parametrize("depth", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("src", SOURCES)
def test_exact_finetune_vs_numpy_roots(depth, src):
    """Depth 2, 3 use radicals, deeper networks Newton; all must match numpy.roots."""
    for g in (0.05, 0.3, 0.6, 0.95, 0.999):
        for s in (0.0, 0.3, 1.0):
            for theta in (0.0, 1.0, 2.5):
                got = st.risk("finetune", gamma=g, theta=theta, sigma=s, depth=depth, **src)
                assert close(got, ft_exact_ref(g, theta, s, depth, **src), rel=1e-9), \
                    (g, s, theta)


def test_exact_finetune_depth4_point():
    g, th, s = 0.4, 1.1, 0.6
    got = st.risk("finetune", gamma=g, theta=th, sigma=s, depth=4)
    # by hand: kappa^4 - 0.6 kappa^3 - B = 0, B = 0.4 + 0.36*0.4/0.6 = 0.64
    k = kappa_ref(g, s, 4, 1.0)
    assert abs(k**4 - 0.6 * k**3 - 0.64) < 1e-12 and k > 0
    c = k ** 1.5
    assert close(got, 0.6 * (c**2 - 2 * c * math.cos(th) + 1) + 0.36 * 0.4 / 0.6, rel=1e-11)


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_exact_finetune_transferability_matches_difference(depth):
    for src in SOURCES:
        for g in (0.2, 0.7, 1.5):
            got = st.transferability("finetune", gamma=g, theta=0.9, sigma=0.3, depth=depth, **src)
            ref = scratch_ref(g, 0.3) - ft_exact_ref(g, 0.9, 0.3, depth, **src)
            assert close(got, ref, rel=1e-9, abs_=1e-12)


# ----------------------------------------------------------------------------------------------
# Phase boundaries
# ----------------------------------------------------------------------------------------------


def test_finetune_paper_boundary_is_pi_over_3():
    below = np.array([0.01, 0.3, 0.5, 0.9, 0.999])
    out = st.phase_boundary("finetune", gamma=below, form="paper")
    np.testing.assert_allclose(out, math.pi / 3, rtol=1e-15)
    for sigma in (0.0, 0.5):
        assert st.phase_boundary("finetune", gamma=0.5, form="paper", sigma=sigma) == \
            pytest.approx(math.pi / 3, rel=1e-15)
    above = st.phase_boundary("finetune", gamma=np.array([1.001, 1.5, 4.0]), form="paper")
    assert np.isnan(above).all()


@pytest.mark.parametrize("gamma", [0.05, 0.3, 0.5, 0.75, 0.99])
def test_linear_boundary_noiseless_ridgeless(gamma):
    th = st.phase_boundary("linear", gamma=gamma)
    assert 0 <= th <= math.pi / 2
    assert abs(math.sin(th) ** 2 - (1 - gamma)) < 1e-12


BOUNDARY_CASES = [
    ("linear", dict(gamma=0.5)),
    ("linear", dict(gamma=0.4, sigma=0.2, lam=0.3)),
    ("linear", dict(gamma=1.5, sigma=0.5)),
    ("linear", dict(gamma=0.3, lam=0.1, depth=3, gamma_s=0.5, sigma_s=0.2)),
    ("linear", dict(gamma=0.5, gamma_s=1.5, sigma_s=0.3)),
    ("finetune", dict(gamma=0.5, form="paper")),
    ("finetune", dict(gamma=0.5, form="paper", gamma_s=0.5, sigma_s=0.1)),
    ("finetune", dict(gamma=0.5, form="paper", gamma_s=1.5, sigma_s=0.3)),
    ("finetune", dict(gamma=0.6, sigma=0.3, depth=3)),
    ("finetune", dict(gamma=0.6, sigma=0.3, depth=3, gamma_s=0.5, sigma_s=0.2)),
    ("finetune", dict(gamma=0.6, sigma=0.3, depth=4, gamma_s=2.0, sigma_s=0.3)),
    ("finetune", dict(gamma=0.3, sigma=0.5, depth=2)),
    ("finetune", dict(gamma=0.3, sigma=0.5, depth=5, gamma_s=0.8)),
]


@pytest.mark.parametrize("method,kw", BOUNDARY_CASES)
def test_transferability_changes_sign_at_boundary(method, kw):
    th = st.phase_boundary(method, **kw)
    assert 0 < th < math.pi / 2
    t0 = st.transferability(method, theta=th, **kw)
    assert abs(t0) < 1e-9
    assert st.transferability(method, theta=th * (1 - 1e-3), **kw) > 0
    assert st.transferability(method, theta=th * (1 + 1e-3), **kw) < 0
    # and the independent references agree on the sign change
    if method == "finetune":
        ref = ft_paper_ref if kw.get("form") == "paper" else None
        src = {k: kw[k] for k in ("gamma_s", "sigma_s") if k in kw}
        s = kw.get("sigma", 0.0)
        for t, sign in ((th * 0.999, 1), (th * 1.001, -1)):
            r = (ref(kw["gamma"], t, s, **src) if ref else
                 ft_exact_ref(kw["gamma"], t, s, kw.get("depth", 2), **src))
            assert sign * (scratch_ref(kw["gamma"], s) - r) > 0
    else:
        src = {k: kw[k] for k in ("gamma_s", "sigma_s") if k in kw}
        r = linear_ref(th, kw.get("lam", 0.0), kw.get("depth", 2), **src)
        assert abs(scratch_ref(kw["gamma"], kw.get("sigma", 0.0)) - r) < 1e-9


def test_linear_boundary_symmetric_branch():
    # T > 0 also for theta > pi - theta* (negative overlap transfers just as well)
    th = st.phase_boundary("linear", gamma=0.5, sigma=0.2)
    assert st.transferability("linear", gamma=0.5, sigma=0.2, theta=math.pi - th * 0.99) > 0
    assert st.transferability("linear", gamma=0.5, sigma=0.2, theta=math.pi - th * 1.01) < 0


# ----------------------------------------------------------------------------------------------
# Broadcasting
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method,form,depth", [("scratch", "exact", 2), ("linear", "exact", 3),
                                               ("finetune", "paper", 2),
                                               ("finetune", "exact", 2),
                                               ("finetune", "exact", 3),
                                               ("finetune", "exact", 4),
                                               ("finetune", "exact", 5)])
@pytest.mark.parametrize("src", [dict(), dict(gamma_s=0.6, sigma_s=0.2)])
def test_broadcasting_outer_grid(method, form, depth, src):
    g = np.array([0.1, 0.5, 0.9, 1.0, 1.2, 3.0])[:, None]
    th = np.linspace(0, math.pi, 7)[None, :]
    kw = dict(sigma=0.3, depth=depth, form=form, lam=0.2 if method == "linear" else 0.0, **src)
    for fn in (st.risk, st.transferability):
        grid = fn(method, gamma=g, theta=th, **kw)
        assert grid.shape == (6, 7)
        scalar = np.array([[fn(method, gamma=float(a), theta=float(b), **kw)
                            for b in th[0]] for a in g[:, 0]])
        np.testing.assert_allclose(grid, scalar, rtol=1e-13, atol=1e-15)


def test_broadcasting_three_way():
    out = st.risk("finetune", gamma=np.array([0.2, 0.5])[:, None, None],
                  theta=np.array([0.1, 1.0, 2.0])[None, :, None],
                  sigma=np.array([0.0, 0.5, 1.0, 1.5])[None, None, :], depth=3)
    assert out.shape == (2, 3, 4)
    assert close(out[1, 2, 3], ft_exact_ref(0.5, 2.0, 1.5, 3), rel=1e-10)


def test_scalar_in_scalar_out():
    assert isinstance(st.risk("scratch", gamma=0.5), float)
    assert isinstance(st.transferability("linear", gamma=0.5, theta=1.0), float)
    assert isinstance(st.phase_boundary("finetune", gamma=0.5), float)


# ----------------------------------------------------------------------------------------------
# Singular points
# ----------------------------------------------------------------------------------------------

FT_VARIANTS = [dict(form="paper")] + [dict(depth=L) for L in (2, 3, 4, 5)]


@pytest.mark.parametrize("src", SOURCES)
def test_gamma_one_with_noise_diverges(src):
    assert st.risk("scratch", gamma=1.0, sigma=0.3) == math.inf
    for v in FT_VARIANTS:
        assert st.risk("finetune", gamma=1.0, theta=0.7, sigma=0.3, **v, **src) == math.inf
    # linear transfer is finite there, so it infinitely beats the diverging baseline
    assert st.risk("linear", gamma=1.0, theta=0.7, sigma=0.3, **src) == \
        pytest.approx(linear_ref(0.7, **src), abs=1e-14)
    assert st.transferability("linear", gamma=1.0, theta=0.7, sigma=0.3, **src) == math.inf


def test_gamma_one_noiseless_is_the_limit():
    assert abs(st.risk("scratch", gamma=1.0, sigma=0.0)) < 1e-12
    for src in SOURCES:
        for v in FT_VARIANTS:
            r = st.risk("finetune", gamma=1.0, theta=0.7, sigma=0.0, **v, **src)
            # (1-gamma)*bounded -> 0
            assert abs(r) < 1e-12
            r_near = st.risk("finetune", gamma=1 - 1e-9, theta=0.7, sigma=0.0, **v, **src)
            assert abs(r - r_near) < 1e-7
    # linear transferability: scratch -> 0, so T -> -sin^2 theta (population)
    assert st.transferability("linear", gamma=1.0, theta=0.7) == \
        pytest.approx(-math.sin(0.7) ** 2, abs=1e-12)


def _linear_t_gamma_one(lam, src, depth=2):
    # scratch -> 0 at gamma -> 1 without noise; linear risk does not depend on gamma
    got = st.transferability("linear", gamma=1.0, theta=0.7, lam=lam, depth=depth, **src)
    assert got == pytest.approx(-linear_ref(0.7, lam, depth, **src), abs=1e-9)


@pytest.mark.parametrize("src", [dict(gamma_s=0.5), dict(gamma_s=1.5, sigma_s=0.2)])
def test_linear_transferability_gamma_one_noiseless_finite_source_ridgeless(src):
    _linear_t_gamma_one(0.0, src)


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("src", [dict(gamma_s=0.5), dict(gamma_s=1.5, sigma_s=0.2)])
def test_linear_transferability_gamma_one_noiseless_finite_source_ridge(depth, src):
    _linear_t_gamma_one(0.3, src, depth)


@pytest.mark.parametrize("gamma", [0.3, 0.999, 1.001, 2.0])
def test_gamma_s_one_with_source_noise(gamma):
    kw = dict(gamma=gamma, theta=0.7, sigma=0.2, gamma_s=1.0, sigma_s=0.4)
    for lam in (0.0, 0.5):
        for L in (2, 3, 5):
            assert st.risk("linear", lam=lam, depth=L, **kw) == 1.0
            assert st.transferability("linear", lam=lam, depth=L, **kw) == \
                pytest.approx(scratch_ref(gamma, 0.2) - 1, rel=1e-12)
    for v in FT_VARIANTS:
        r = st.risk("finetune", **kw, **v)
        if gamma < 1:
            assert r == math.inf
            assert st.transferability("finetune", **kw, **v) == -math.inf
        else:
            assert r == pytest.approx(scratch_ref(gamma, 0.2), rel=1e-12)
    # and it is the limit gamma_s -> 1: |beta_hat_s| diverges, so does the fine-tuning risk
    if gamma < 1:
        near = [st.risk("finetune", **dict(kw, gamma_s=1 - e)) for e in (1e-6, 1e-9, 1e-12)]
        assert near[0] < near[1] < near[2] and near[2] > 1e4
        assert st.risk("linear", **dict(kw, gamma_s=1 - 1e-12, lam=0.5)) > 1 - 1e-5


@pytest.mark.parametrize("gamma", [0.3, 0.999, 1.001, 2.0])
def test_gamma_s_one_noiseless_equals_population_risk(gamma):
    for sigma in (0.0, 0.3):
        base = dict(gamma=gamma, theta=0.7, sigma=sigma)
        for lam in (0.0, 0.5):
            for L in (2, 3):
                pop = st.risk("linear", lam=lam, depth=L, **base)
                fin = st.risk("linear", lam=lam, depth=L, gamma_s=1.0, sigma_s=0.0, **base)
                assert fin == pytest.approx(pop, abs=1e-12)
        for v in FT_VARIANTS:
            pop = st.risk("finetune", **base, **v)
            fin = st.risk("finetune", gamma_s=1.0, sigma_s=0.0, **base, **v)
            assert fin == pytest.approx(pop, rel=1e-12, abs=1e-12)
            tpop = st.transferability("finetune", **base, **v)
            tfin = st.transferability("finetune", gamma_s=1.0, sigma_s=0.0, **base, **v)
            assert tfin == pytest.approx(tpop, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("gamma,sigma,lam", [(0.3, 0.3, 0.0), (0.7, 0.0, 0.3), (1.6, 0.3, 0.3)])
def test_gamma_s_one_noiseless_linear_transferability(gamma, sigma, lam):
    pop = scratch_ref(gamma, sigma) - linear_ref(0.7, lam)
    got = st.transferability("linear", gamma=gamma, theta=0.7, sigma=sigma, lam=lam,
                             gamma_s=1.0, sigma_s=0.0)
    assert got == pytest.approx(pop, abs=1e-9)


def test_double_singular_point_linear_transferability():
    # T = R_scratch(gamma) - R_linear(gamma_s) separates: -> 0 - sin^2 theta
    expected = -math.sin(0.7) ** 2
    got = st.transferability("linear", gamma=1.0, theta=0.7, gamma_s=1.0, sigma_s=0.0)
    got_mp = st.transferability("linear", gamma=1, theta="0.7", gamma_s=1, sigma_s=0,
                                precision=30)
    assert got == pytest.approx(expected, abs=1e-9)
    assert float(got_mp) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("kw", [dict(lam=0.3), dict(gamma_s=0.5), dict(gamma_s=1.5, sigma_s=0.2)])
def test_linear_boundary_at_gamma_one_noiseless(kw):
    # at gamma = 1, sigma = 0 the scratch risk is 0 while linear risk >= 1 - S > 0 (lam > 0) or
    # >= 1 - O_s^2/N_s > 0 (finite source): T < 0 for all theta, no boundary: NaN, as at
    # gamma = 1 +- 1e-9
    for g in (1 - 1e-9, 1 + 1e-9):
        assert math.isnan(st.phase_boundary("linear", gamma=g, **kw))
    assert math.isnan(st.phase_boundary("linear", gamma=1.0, **kw))
    mp = st.phase_boundary("linear", gamma=1, precision=30, **kw)
    assert mp != mp  # NaN, not a complex number


@pytest.mark.parametrize("method,kw", [("linear", dict(gamma=1 - 1e-9, sigma=0.5)),
                                       ("linear", dict(gamma=1 - 1e-9, lam=0.3)),
                                       ("linear", dict(gamma=1.5, lam=0.3)),
                                       ("finetune", dict(gamma=1 - 1e-9, sigma=0.5, depth=2)),
                                       ("finetune", dict(gamma=1 - 1e-9, sigma=0.5, depth=3))])
def test_boundary_gamma_s_one_noiseless_where_nan(method, kw):
    # gamma_s -> 1 without source noise is population pretraining (N_s -> 1, O_s -> cos theta)
    assert math.isnan(st.phase_boundary(method, **kw))  # population: no sign change
    assert math.isnan(st.phase_boundary(method, gamma_s=1.0, sigma_s=0.0, **kw))


def test_boundary_gamma_s_one_noiseless_where_it_exists():
    for g, s, lam in ((0.05, 0.0, 0.0), (0.5, 0.5, 0.0), (0.5, 0.0, 0.3)):
        pop = st.phase_boundary("linear", gamma=g, sigma=s, lam=lam)
        fin = st.phase_boundary("linear", gamma=g, sigma=s, lam=lam, gamma_s=1.0, sigma_s=0.0)
        assert fin == pytest.approx(pop, abs=1e-12)
        for v in FT_VARIANTS:
            pop = st.phase_boundary("finetune", gamma=g, sigma=s, **v)
            fin = st.phase_boundary("finetune", gamma=g, sigma=s, gamma_s=1.0, sigma_s=0.0, **v)
            assert fin == pytest.approx(pop, abs=1e-12)


# ----------------------------------------------------------------------------------------------
# No floating-point warnings anywhere on grids through the singular points
# ----------------------------------------------------------------------------------------------

WARN_GAMMA = np.array([0.05, 0.5, 1 - 1e-9, 1.0, 1 + 1e-9, 1.5, 4.0])[:, None, None]
WARN_THETA = np.array([0.0, 0.4, math.pi / 3, math.pi / 2, 2.5, math.pi])[None, :, None]
WARN_SOURCES = [dict(), dict(gamma_s=np.array([0.3, 1 - 1e-9, 1.0, 1 + 1e-9, 2.0])[None, None, :],
                         sigma_s=0.0),
                dict(gamma_s=np.array([0.3, 1 - 1e-9, 1.0, 1 + 1e-9, 2.0])[None, None, :],
                     sigma_s=0.4)]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("depth", [2, 3, 4, 5])
@pytest.mark.parametrize("src", WARN_SOURCES, ids=["population", "finite-quiet", "finite-noisy"])
@pytest.mark.parametrize("sigma", [0.0, 0.5])
def test_no_runtime_warnings(depth, src, sigma):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method, form in (("scratch", "exact"), ("linear", "exact"), ("finetune", "exact"),
                             ("finetune", "paper")):
            for lam in ((0.0, 0.3) if method == "linear" else (0.0,)):
                kw = dict(gamma=WARN_GAMMA, sigma=sigma, depth=depth, form=form, lam=lam, **src)
                r = st.risk(method, theta=WARN_THETA, **kw)
                t = st.transferability(method, theta=WARN_THETA, **kw)
                assert not np.isnan(r).any() and not np.isnan(t).any()
                assert (r >= -1e-12).all()
                if method != "scratch":
                    b = st.phase_boundary(method, **kw)
                    assert ((b[~np.isnan(b)] >= 0) & (b[~np.isnan(b)] <= math.pi / 2)).all()


@pytest.mark.filterwarnings("error")
def test_no_runtime_warnings_finite_size():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = 20
        g = np.arange(1, 60) / d
        for sigma in (0.0, 0.3):
            r = st.risk("scratch", gamma=g, sigma=sigma, d=d)
            assert not np.isnan(r).any()
            r = st.risk("linear", gamma=g, theta=0.5, sigma=sigma, d=d)
            assert not np.isnan(r).any()


# ----------------------------------------------------------------------------------------------
# A tiny Monte-Carlo check of the finite-source statistics used above
# ----------------------------------------------------------------------------------------------


def test_finite_source_statistics_monte_carlo():
    """Min-norm / least-squares pretraining on n_s = gamma_s d samples: the readout refit with
    infinitely many target samples leaves R = 1 - O_s^2/N_s (lam = 0): check the library's
    finite-source linear risk against a direct simulation (d = 300, 3 draws, fixed seed).
    Fluctuations are ~0.02; the wrong statistics (e.g. O_s = cos theta at gamma_s = 0.5) would
    be off by ~0.7."""
    rng = np.random.default_rng(0)
    d, theta, sigma_s = 300, 0.6, 0.5
    bs = np.zeros(d)
    bs[0] = 1.0
    bt = np.zeros(d)
    bt[0], bt[1] = math.cos(theta), math.sin(theta)
    for gamma_s in (0.5, 2.0):
        ns = int(gamma_s * d)
        sims = []
        for _ in range(3):
            X = rng.standard_normal((ns, d))
            y = X @ bs + sigma_s * rng.standard_normal(ns)
            if ns < d:  # min-norm interpolator
                b = X.T @ np.linalg.solve(X @ X.T, y)
            else:  # least squares
                b = np.linalg.solve(X.T @ X, X.T @ y)
            u = b / np.linalg.norm(b)
            sims.append(1 - (u @ bt) ** 2)
        got = st.risk("linear", gamma=0.5, theta=theta, gamma_s=gamma_s, sigma_s=sigma_s)
        assert abs(np.mean(sims) - got) < 0.06, (gamma_s, np.mean(sims), got)
