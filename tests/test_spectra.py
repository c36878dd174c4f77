"""Input covariance spectra and the anisotropic risks (symtransfer.spectra, .anisotropic).

* validation of spectra; kappa in float64 against mpmath at 50 digits, and the two-atom
  closed form against the general solver;
* one atom at 1 reproduces the shipped isotropic expressions exactly (round-off);
* the deterministic equivalents the risks rest on, on random matrices (d = 400, 8 draws):
  each within 4 standard errors plus an O(1/d) allowance of 4/d (relative) of its
  prediction, at points where the isotropic prediction is further off than that;
* the fine-tuning endpoint: for an anisotropic design, the conservation-law endpoint
  X^+ y + c P_perp beta_s computed on the data has the predicted risk.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import symtransfer as st
from symtransfer import anisotropic as A
from symtransfer import spectra

TWO = spectra.Discrete([0.4, 1.6], [0.5, 0.5])
SKEW = spectra.Discrete([0.2, 1.0, 4.0], [0.5, 0.3, 0.2])
POWER = spectra.PowerLaw(1.0, atoms=50)
ISO = spectra.Discrete([1.0])


@pytest.mark.parametrize("args,kwargs,error,match", [
    (([1.0, -0.5],), {}, ValueError, "positive"),
    (([1.0, 0.0],), {}, ValueError, "positive"),
    (([],), {}, ValueError, "empty"),
    (([1.0, 2.0], [0.5, 0.6]), {}, ValueError, "sum to 1"),
    (([1.0, 2.0], [1.0]), {}, ValueError, "match"),
    (([1.0, 2.0], [1.5, -0.5]), {}, ValueError, "positive"),
    (([1.0, np.inf],), {}, ValueError, "finite"),
    (("12",), {}, TypeError, "string"),
    (([True, False],), {}, TypeError, "real"),
    (([1 + 1j],), {}, TypeError, "real"),
])
def test_bad_spectra(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        spectra.Discrete(*args, **kwargs)


def test_powerlaw_and_empirical():
    p = spectra.PowerLaw(2.0, atoms=10)
    assert p.mean == pytest.approx(1.0)
    ratio = p.eigenvalues[::-1][:3]
    assert ratio[0] / ratio[1] == pytest.approx(4.0) and ratio[1] / ratio[2] == pytest.approx(9 / 4)
    for bad in (dict(exponent=-1), dict(exponent=float("nan")), dict(exponent=1, atoms=0)):
        with pytest.raises(ValueError):
            spectra.PowerLaw(**bad)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 5)) * np.sqrt([0.5, 1, 1, 2, 3])
    e = spectra.Empirical.from_data(X)
    assert e.mean == pytest.approx(1.5, rel=0.05)
    with pytest.raises(ValueError, match="n x d"):
        spectra.Empirical.from_data(X[:3])


@pytest.mark.parametrize("spec", [TWO, SKEW, spectra.PowerLaw(1.5, 40)],
                         ids=["two", "skew", "power40"])
def test_kappa_float64_vs_mpmath(spec):
    gammas = (0.01, 0.7, 1 - 1e-6, 4.0)
    lams = (0.0, 1e-9, 0.5)
    worst = 0.0
    for g in gammas:
        for lam in lams:
            a = spec.kappa(g, lam)
            b = spec.kappa_mp(g, lam, dps=50)
            if b == 0:
                assert a == 0
                continue
            worst = max(worst, abs(mpmath.mpf(a) - b) / b)
    assert worst < 1e-13
    # the mpmath value holds all its digits
    hi = spec.kappa_mp(0.5, 0.1, dps=80)
    assert abs(spec.kappa_mp(0.5, 0.1, dps=50) - hi) / hi < mpmath.mpf(10) ** -48


def test_two_atom_closed_form_equals_the_general_solver():
    g = np.linspace(0.01, 0.99, 50)
    closed = TWO._kappa_closed(g)
    general = TWO._kappa_newton(g, np.zeros_like(g))
    np.testing.assert_allclose(closed, general, rtol=1e-13)
    # and it solves E[l/(l+k)] = gamma
    np.testing.assert_allclose((TWO.eigenvalues / (TWO.eigenvalues + closed[:, None])) @ TWO.weights,
                               g, rtol=1e-13)


def test_isotropic_reduction():
    G = np.array([0.05, 0.3, 0.6, 0.9, 0.999, 1.2, 2.5])
    for s in (0.0, 0.4):
        np.testing.assert_allclose(A.scratch(ISO, gamma=G, sigma=s),
                                   st.risk("scratch", gamma=G, sigma=s), rtol=1e-12)
        np.testing.assert_allclose(A.scratch(ISO, gamma=G, sigma=s, lam=0.3),
                                   st.risk("scratch", gamma=G, sigma=s, lam=0.3), rtol=1e-12)
        for depth in (2, 3, 5):
            for form in ("exact", "paper"):
                np.testing.assert_allclose(
                    A.finetune(ISO, gamma=G, theta=1.1, sigma=s, depth=depth, form=form),
                    st.risk("finetune", gamma=G, theta=1.1, sigma=s, depth=depth, form=form),
                    rtol=1e-12)
    np.testing.assert_allclose(A.risk("linear", ISO, gamma=G, theta=0.7, lam=0.4),
                               st.risk("linear", gamma=G, theta=0.7, lam=0.4), rtol=1e-12)
    np.testing.assert_allclose(A.transferability("finetune", ISO, gamma=G, theta=0.7, sigma=0.2),
                               st.transferability("finetune", gamma=G, theta=0.7, sigma=0.2),
                               rtol=1e-10, atol=1e-14)


def test_scale_invariance():
    """Sigma -> c Sigma multiplies every risk by c (the target's variance scales)."""
    scaled = spectra.Discrete(3 * SKEW.eigenvalues, SKEW.weights)
    for method, kw in (("scratch", dict(sigma=0.0)), ("linear", dict(theta=0.9)),
                       ("finetune", dict(theta=0.9, sigma=0.0))):
        a = A.risk(method, SKEW, gamma=0.4, **kw)
        b = A.risk(method, scaled, gamma=0.4, **kw)
        assert b == pytest.approx(3 * a, rel=1e-12)


def test_extreme_gamma_is_finite_and_matches_isotropic():
    """gamma -> 0: kappa ~ 1/gamma overflows when squared; the bias is formed without it."""
    for g in (1e-300, 1e-12, 1e300):
        iso = A.scratch(ISO, gamma=g, sigma=0.3)
        assert np.isfinite(iso) and iso == pytest.approx(st.risk("scratch", gamma=g, sigma=0.3),
                                                         rel=1e-12)
        assert np.isfinite(A.scratch(SKEW, gamma=g, sigma=0.3))


def test_bad_arguments():
    with pytest.raises(TypeError, match="spectrum"):
        A.risk("scratch", [1.0], gamma=0.5)
    with pytest.raises(ValueError, match="gamma"):
        A.risk("scratch", TWO, gamma=-0.5)
    with pytest.raises(ValueError, match="theta"):
        A.risk("finetune", TWO, gamma=0.5)
    with pytest.raises(TypeError, match="gamma"):
        A.risk("scratch", TWO, gamma=True)
    with pytest.raises(ValueError, match="method"):
        A.risk("finetun", TWO, gamma=0.5)


# ------------------------------------------------------------- random-matrix Monte-Carlo

D, DRAWS = 400, 8


def _draws(spec, gamma, seed=0):
    rng = np.random.default_rng(seed)
    diag = spec.diagonal(D)
    n = int(round(gamma * D))
    for _ in range(DRAWS):
        X = rng.standard_normal((n, D)) * np.sqrt(diag)
        yield rng, diag, X


def _agree(samples, predicted, isotropic=None):
    samples = np.asarray(samples)
    mean, sem = samples.mean(), samples.std(ddof=1) / np.sqrt(samples.size)
    allowance = 4 / D * abs(predicted)
    assert abs(mean - predicted) <= 4 * sem + allowance, (mean, sem, predicted)
    if isotropic is not None:  # the check can tell the two apart
        assert abs(isotropic - predicted) > 2 * (4 * sem + allowance)
    return mean, 4 * sem + allowance


@pytest.mark.parametrize("spec", [SKEW, POWER], ids=["skew", "power"])
def test_min_norm_primitives_on_random_matrices(spec):
    gamma = 0.5
    kappa = spec.kappa(gamma)
    f = spec.functionals(gamma)
    a = f["df2"] / gamma
    bias_pred = kappa ** 2 * f["bias"] / (1 - a)
    var_pred = a / (1 - a)
    bias, var, gram, row = [], [], [], []
    for rng, diag, X in _draws(spec, gamma):
        Gi = np.linalg.inv(X @ X.T)
        Xp = X.T @ Gi
        beta = rng.standard_normal(D)
        beta /= np.linalg.norm(beta)
        resid = beta - Xp @ (X @ beta)
        bias.append(resid @ (diag * resid))
        var.append(np.einsum("ij,i,ij->", Xp, diag, Xp))
        gram.append(np.trace(Gi))
        row.append(beta @ (Xp @ (X @ beta)))
    _agree(bias, bias_pred, isotropic=1 - gamma)
    _agree(var, var_pred)
    _agree(gram, 1 / kappa)
    _agree(row, gamma)


def test_ridge_risk_on_random_matrices():
    gamma, lam, sigma = 0.7, 0.3, 0.5
    pred = A.scratch(SKEW, gamma=gamma, sigma=sigma, lam=lam)
    iso = st.risk("scratch", gamma=gamma, sigma=sigma, lam=lam) * SKEW.mean
    risks = []
    for rng, diag, X in _draws(SKEW, gamma, seed=1):
        n = X.shape[0]
        beta = rng.standard_normal(D)
        beta /= np.linalg.norm(beta)
        y = X @ beta + sigma * rng.standard_normal(n)
        bh = np.linalg.solve(X.T @ X / n + lam * np.eye(D), X.T @ y / n)
        e = bh - beta
        risks.append(e @ (diag * e))
    _agree(risks, pred, isotropic=iso)


def test_finetune_endpoint_on_an_anisotropic_design():
    """beta_hat = X^+ y + c P_perp beta_s with c from the data (the conservation-law
    endpoint), against the predicted risk at depths 2 and 3, and the data's |X^+ y|^2
    against gamma + sigma^2/kappa."""
    from symtransfer._roots import positive_root

    gamma, theta, sigma = 0.5, 1.2, 0.5
    risks, gaps, norms = {2: [], 3: []}, {2: [], 3: []}, []
    for rng, diag, X in _draws(SKEW, gamma, seed=2):
        n = X.shape[0]
        bs = rng.standard_normal(D)
        bs /= np.linalg.norm(bs)
        u = rng.standard_normal(D)
        u -= (u @ bs) * bs
        u /= np.linalg.norm(u)
        bt = math.cos(theta) * bs + math.sin(theta) * u
        y = X @ bt + sigma * rng.standard_normal(n)
        G = X @ X.T
        mn = X.T @ np.linalg.solve(G, y)                 # X^+ y
        perp = bs - X.T @ np.linalg.solve(G, X @ bs)     # P_perp beta_s
        norms.append(mn @ mn)
        for depth in risks:
            # q^L = |X^+ y|^2 + |P_perp bs|^2 q^(L-1)
            q = float(positive_root(depth, perp @ perp, mn @ mn))
            e = mn + q ** ((depth - 1) / 2) * perp - bt
            risks[depth].append(e @ (diag * e))
            e_paper = mn + perp - bt  # the paper's endpoint on the same data (c = 1)
            gaps[depth].append(e @ (diag * e) - e_paper @ (diag * e_paper))
    _agree(norms, gamma + sigma ** 2 / SKEW.kappa(gamma))
    for depth, values in risks.items():
        pred = A.finetune(SKEW, gamma=gamma, theta=theta, sigma=sigma, depth=depth)
        paper = A.finetune(SKEW, gamma=gamma, theta=theta, sigma=sigma, depth=depth,
                           form="paper")
        _agree(values, pred)
        # paired on the same data: the gap to the paper's endpoint is the predicted one and
        # far from 0 (the paper's form is rejected)
        mean, tol = _agree(gaps[depth], pred - paper)
        assert mean > tol


# ------------------------------------------------------------------------ figures' claims

def test_figure_claims():
    """What the spectra figures' captions say: at sigma = 0 fine-tuning's boundary is pi/3
    for every spectrum (c = 1); with noise it falls faster the wider the spectrum; the
    spread lowers the scratch bias and moves linear transfer's boundary to smaller angles."""
    spreads = [spectra.Discrete([1.0]), spectra.Discrete([0.5, 1.5]), spectra.Discrete([0.05, 1.95])]
    for spec in spreads:
        assert A.finetune_scale(spec, gamma=0.5, sigma=0.0) == pytest.approx(1.0, abs=1e-12)
    c = [float(A.finetune_scale(spec, gamma=0.5, sigma=1.0)) for spec in spreads]
    assert c[0] < c[1] < c[2]  # larger c: cos(theta*) = c/2 larger, theta* smaller
    bias = [A.scratch(spec, gamma=0.5) for spec in spreads]
    assert bias[0] > bias[1] > bias[2]
    for spec in spreads[1:]:
        T = A.transferability("linear", spec, gamma=0.5, theta=np.linspace(0, 1.5, 301),
                              sigma=0.2)
        T_iso = st.transferability("linear", gamma=0.5, theta=np.linspace(0, 1.5, 301),
                                   sigma=0.2)
        assert np.argmax(T < 0) < np.argmax(T_iso < 0)


def test_spectra_figures_draw():
    pytest.importorskip("matplotlib")
    from symtransfer import plots

    fig = plots.spectrum_phase_diagrams("finetune", sigma=0.5)
    axes = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert len(axes) == 3 and "isotropic" in axes[0].get_title()
    assert all(a.collections for a in axes)  # mesh and T = 0 contours
    fig = plots.finetune_boundary_vs_noise(spreads=(0.0, 0.8))
    (ax,) = fig.axes
    lines = [l for l in ax.get_lines() if len(l.get_xdata()) > 2]
    for line in lines:
        assert line.get_ydata()[0] == pytest.approx(2 / 3, abs=1e-9)  # pi/3 at sigma = 0
    with pytest.raises(ValueError, match="method"):
        plots.spectrum_phase_diagrams("scratch")


def test_spectrum_keyword_of_the_public_api():
    kw = dict(gamma=0.4, theta=1.0, sigma=0.3, depth=3)
    assert st.risk("finetune", spectrum=SKEW, **kw) == A.risk("finetune", SKEW, **kw)
    assert st.transferability("linear", spectrum=SKEW, gamma=0.4, theta=1.0, sigma=0.3) == \
        pytest.approx(A.transferability("linear", SKEW, gamma=0.4, theta=1.0, sigma=0.3))
    assert st.risk("finetune", spectrum=ISO, **kw) == pytest.approx(st.risk("finetune", **kw),
                                                                    rel=1e-12)
    with pytest.raises(ValueError, match="mu is not supported together with spectrum"):
        st.risk("finetune", spectrum=SKEW, gamma=0.4, theta=1.0, mu=0.2)
    with pytest.raises(ValueError, match="^d .*spectrum"):  # no finite-d moments (min-norm)
        st.risk("scratch", spectrum=SKEW, gamma=0.4, d=100)
    # finite source and precision= are supported (tests/test_spectra_source.py)
    # the optimal-ridge baseline is supported (tests/test_spectra_mc.py); a bad name is not
    assert st.risk("scratch", spectrum=SKEW, gamma=0.4, sigma=0.3, baseline="optimal_ridge") \
        == pytest.approx(A.scratch(SKEW, gamma=0.4, sigma=0.3, lam=0.3 ** 2 / 0.4))
    with pytest.raises(ValueError, match="baseline"):
        st.risk("scratch", spectrum=SKEW, gamma=0.4, baseline="ridge")
