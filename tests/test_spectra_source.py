"""A finite source with an input covariance (symtransfer.anisotropic_source).

* the deterministic equivalents (F1)-(F4) of derivations/spectra_source.py on random matrices
  with test matrices D != Sigma_s (d = 300, 12 draws): each within 4 standard errors plus an
  O(1/d) allowance of 4/d (relative) of its prediction, and the same bound rejects the
  prediction without covariate shift (the target's eigenvalues for the source);
* the Monte-Carlo twin (gradient flow, ``simulate``) at four held-out points: fine-tuning and
  linear transfer, each from a min-norm source with covariate shift and from a least-squares
  source with aligned teachers. Tolerance ``4 sem + 4 |prediction|/D`` with D the teacher's
  participation ratio (as in tests/test_spectra_mc.py); the population-source prediction must
  be rejected at every point, the isotropic one where the point says so;
* covariate shift with a finite source, paired on the same seeds: the simulated change of the
  risk equals the predicted one (and the noiseless scaling Sigma_s = Sigma/8 changes nothing);
* isotropic reduction, the singular source point gamma_s = 1, phase boundaries, bad input.
"""
from __future__ import annotations

import numpy as np
import pytest

import symtransfer as st
from symtransfer import anisotropic_source as S
from symtransfer import spectra
from symtransfer.teachers import GENERIC, Aligned

Z = 4.0
TWO = spectra.Discrete([0.3, 4.8], [0.75, 0.25])
SHIFT = spectra.Discrete([0.2, 1.0, 6.0], [0.3, 0.4, 0.3])
SMALL = spectra.Discrete(TWO.eigenvalues / 8, TWO.weights)
FLIP = spectra.Discrete([0.3, 4.8], [0.25, 0.75])
ISO = spectra.Discrete([1.0])


# ------------------------------------------------------------------ the coupling

def test_coupling_pairs_quantiles_and_keeps_both_marginals():
    cp = S.coupling(TWO, SHIFT)
    np.testing.assert_allclose(cp.weights.sum(), 1.0, rtol=1e-15)
    for atoms, values, spec in ((cp.target, cp.target, TWO), (cp.source, cp.source, SHIFT)):
        for lam, w in zip(spec.eigenvalues, spec.weights):
            assert sum(f for f, v in zip(cp.fractions, values) if v == lam) == \
                pytest.approx(w, rel=1e-15)
    # the simulator's diagonals pair the same way up to O(1/d)
    d = 1000
    pairs = np.stack([TWO.diagonal(d), SHIFT.diagonal(d)], axis=1)
    for lt, ls, w in zip(cp.target, cp.source, cp.weights):
        share = np.mean((pairs[:, 0] == lt) & (pairs[:, 1] == ls))
        assert abs(share - w) <= 2 / d
    same = S.coupling(TWO, None)
    np.testing.assert_array_equal(same.target, same.source)


# ------------------------------------------------------------------ primitives, random matrices

D_RM, DRAWS = 300, 12


def _agree(samples, predicted, rival=None):
    samples = np.asarray(samples)
    mean, sem = samples.mean(), samples.std(ddof=1) / np.sqrt(samples.size)
    tol = Z * sem + 4 / D_RM * abs(predicted)
    assert abs(mean - predicted) <= tol, (mean, sem, predicted)
    if rival is not None:  # the same bound rejects the rival: the check can tell them apart
        assert abs(mean - rival) > Z * sem + 4 / D_RM * abs(rival), (rival, mean, sem)


@pytest.mark.parametrize("gamma_s,sigma_s,rivals", [
    (0.5, 0.3, {("Q", "I"), ("Q", "Sigma_t"), ("Q", "D_t"), ("O1", "Sigma_t")}),
    (2.0, 0.8, {("Q", "I"), ("Q", "D_t")}),   # least squares: the shift acts through noise
])
def test_source_forms_on_random_matrices(gamma_s, sigma_s, rivals):
    """beta_hat_s = X_s^+ y_s on a source design with Sigma_s = FLIP (the target's eigenvalues
    on swapped shares): its norm and its Sigma_t- and (Sigma_t + 1)^-1-weighted norms and
    overlaps against Q(D), O1(D). The rival prediction takes Sigma_s = Sigma_t (no shift); it
    must be rejected for the forms in ``rivals`` (where it differs by 8% or more)."""
    rng = np.random.default_rng(5)
    cp = S.coupling(TWO, FLIP)
    lt, ls = TWO.diagonal(D_RM), FLIP.diagonal(D_RM)
    theta = 0.7
    n = int(round(gamma_s * D_RM))
    regime = "min_norm" if gamma_s < 1 else "least_squares"

    def forms(c: S.Coupled, spec):
        ks = np.array([[spec.kappa(gamma_s)]]) if gamma_s < 1 else None
        return S.source_forms(S._float_ops(c.weights), regime, c.source,
                              np.ones(c.weights.size), ks, np.array([[gamma_s]]),
                              np.array([[sigma_s]]))

    cr = S.coupling(TWO, None)
    predicted, rival = dict(zip(("Q", "O1"), forms(cp, FLIP))), \
        dict(zip(("Q", "O1"), forms(cr, TWO)))
    tests = {"I": (np.ones(D_RM), lambda t: np.ones(t.size)),
             "Sigma_t": (lt, lambda t: t), "D_t": (1 / (lt + 1.0), lambda t: 1 / (t + 1.0))}
    samples = {(f, name): [] for f in ("Q", "O1") for name in tests}
    for _ in range(DRAWS):
        X = rng.standard_normal((n, D_RM)) * np.sqrt(ls)
        # energy exactly 1/d per direction with random signs: the generic profile without
        # the fluctuation of a Gaussian teacher's energies (the same limit, less noise)
        bs = rng.choice((-1.0, 1.0), D_RM) / np.sqrt(D_RM)
        u = rng.choice((-1.0, 1.0), D_RM)
        u -= (u @ bs) * bs
        u /= np.linalg.norm(u)
        bt = np.cos(theta) * bs + np.sin(theta) * u
        y = X @ bs + sigma_s * rng.standard_normal(n)
        if n < D_RM:   # min-norm interpolator X^T (X X^T)^-1 y
            bh = X.T @ np.linalg.solve(X @ X.T, y)
        else:          # least squares
            bh = np.linalg.solve(X.T @ X, X.T @ y)
        for name, (diag, _) in tests.items():
            samples["Q", name].append(bh @ (diag * bh))
            samples["O1", name].append(bh @ (diag * bt) / np.cos(theta))
    for (f, name), values in samples.items():
        on = tests[name][1]
        _agree(values, float(predicted[f](on(cp.target))[0, 0]),
               rival=float(rival[f](on(cr.target))[0, 0]) if (f, name) in rivals else None)


# ------------------------------------------------------------------ Monte-Carlo twin

D_SIM, INSTANCES, SEED = 150, 12, 1
POINTS = {
    "finetune-min-norm-shift": ("finetune", dict(gamma=0.6, theta=0.8, sigma=0.2, gamma_s=0.5,
                                                 sigma_s=0.4), SHIFT, GENERIC, True),
    "finetune-least-squares-aligned": ("finetune", dict(gamma=0.4, theta=1.1, sigma=0.3,
                                                        gamma_s=2.5, sigma_s=0.8),
                                       None, Aligned(1.0), False),
    "linear-min-norm-shift": ("linear", dict(gamma=0.8, theta=0.5, sigma=0.2, gamma_s=0.5,
                                             sigma_s=0.4, lam=0.2), SHIFT, GENERIC, False),
    "linear-least-squares-aligned": ("linear", dict(gamma=1.5, theta=0.9, sigma=0.2,
                                                    gamma_s=1.5, sigma_s=1.5),
                                     None, Aligned(1.0), True),
}


def _point_run(name: str):
    method, kw, source, teacher, _ = POINTS[name]
    return name, st.simulate(method, d=D_SIM, instances=INSTANCES, seed=SEED, spectrum=TWO,
                             source_spectrum=source, teacher=teacher, progress=False, **kw)


@pytest.fixture(scope="module")
def runs():
    """The four simulations in two worker processes with one BLAS thread each (as in
    tests/test_spectra_mc.py; same seeds, same numbers)."""
    from symtransfer.sweep import one_blas_thread, process_pool

    with one_blas_thread():
        pool = process_pool(2)
        futures = [pool.submit(_point_run, name) for name in POINTS]
    with pool:
        return dict(f.result() for f in futures)


def _scale(teacher, d: int = D_SIM) -> float:
    lam = TWO.diagonal(d)
    e = teacher.energies(lam)
    return float(min(1.0 / np.sum(e ** 2), np.sum(e * lam) ** 2 / np.sum(e ** 2 * lam ** 2)))


def _bound(result, prediction: float, scale: float) -> float:
    return Z * result.sem + 4.0 * abs(prediction) / scale


@pytest.mark.parametrize("name", list(POINTS))
def test_finite_source_theory_matches_monte_carlo(runs, name):
    method, kw, source, teacher, isotropic_distinct = POINTS[name]
    r = runs[name]
    assert r.converged.all()
    theory = st.risk(method, spectrum=TWO, source_spectrum=source, teacher=teacher, **kw)
    scale = _scale(teacher)
    assert abs(r.mean - theory) <= _bound(r, theory, scale), \
        f"MC {r.mean:.4f} +- {r.sem:.4f} vs theory {theory:.4f}"
    population = {k: v for k, v in kw.items() if k not in ("gamma_s", "sigma_s")}
    rivals = {"population source": st.risk(method, spectrum=TWO, teacher=teacher,
                                           **population)}
    if isotropic_distinct:
        rivals["isotropic"] = st.risk(method, **kw)
    for label, rival in rivals.items():
        assert abs(r.mean - rival) > _bound(r, rival, scale), \
            f"{label} prediction {rival:.4f} not rejected by MC {r.mean:.4f} +- {r.sem:.4f}"


@pytest.mark.parametrize("method,kw,shifted", [
    ("finetune", dict(gamma=0.5, theta=0.5, sigma=0.2, gamma_s=2.0, sigma_s=0.5), SMALL),
    ("linear", dict(gamma=1.5, theta=0.3, sigma=0.2, gamma_s=0.3, sigma_s=0.0), FLIP),
])
def test_covariate_shift_with_a_finite_source_paired(method, kw, shifted):
    """Same seeds with and without the source spectrum: the per-instance change of the risk
    has the predicted mean (Sigma_s = Sigma/8 with source noise: the pretrained vector's
    noise grows 8-fold and fine-tuning turns to negative transfer; a source with the same
    eigenvalues on swapped shares, no noise: min-norm pretraining keeps a different part of
    beta_s)."""
    run = dict(kw, d=80, instances=8, seed=3, spectrum=TWO, progress=False)
    a = st.simulate(method, **run)
    b = st.simulate(method, source_spectrum=shifted, **run)
    diff = b.errors - a.errors
    predicted = st.risk(method, spectrum=TWO, source_spectrum=shifted, **kw) \
        - st.risk(method, spectrum=TWO, **kw)
    sem = diff.std(ddof=1) / np.sqrt(diff.size)
    tol = Z * sem + 4 / 80 * (abs(st.risk(method, spectrum=TWO, source_spectrum=shifted, **kw))
                              + abs(st.risk(method, spectrum=TWO, **kw)))
    assert abs(diff.mean() - predicted) <= tol, (diff.mean(), sem, predicted)
    assert abs(predicted) > tol  # the shift is resolved: a zero change would fail


def test_noiseless_source_scaling_changes_nothing_and_noise_makes_it_matter():
    """Sigma_s = c Sigma: the projection weights l/(l + kappa_s) do not depend on c, so without
    source noise transfer is unchanged; with noise the noise term scales as 1/c."""
    kw = dict(gamma=0.5, theta=0.5, sigma=0.2, spectrum=TWO)
    for method in ("linear", "finetune"):
        for gs in (0.5, 2.0):
            assert st.risk(method, gamma_s=gs, source_spectrum=SMALL, **kw) == \
                pytest.approx(st.risk(method, gamma_s=gs, **kw), rel=1e-12)
    T = st.transferability("finetune", gamma_s=2.0, sigma_s=0.5, **kw)
    T_small = st.transferability("finetune", gamma_s=2.0, sigma_s=0.5, source_spectrum=SMALL,
                                 **kw)
    assert T > 0 > T_small  # measured: +0.019 and -0.935


# ------------------------------------------------------------------ reductions, limits, input

def test_one_atom_is_the_isotropic_finite_source():
    G = np.array([0.2, 0.5, 0.8, 1.5])
    for gs in (0.3, 0.7, 1.0, 2.5):
        for ss in (0.0, 0.4):
            for depth in (2, 3, 5):
                kw = dict(gamma=G, theta=0.7, sigma=0.2, depth=depth, gamma_s=gs, sigma_s=ss)
                for form in ("exact", "paper"):
                    np.testing.assert_allclose(st.risk("finetune", spectrum=ISO, form=form, **kw),
                                               st.risk("finetune", form=form, **kw), rtol=1e-12)
                for lam in (0.0, 0.3):
                    np.testing.assert_allclose(st.risk("linear", spectrum=ISO, lam=lam, **kw),
                                               st.risk("linear", lam=lam, **kw), rtol=1e-12)
    for method in ("linear", "finetune"):
        np.testing.assert_allclose(
            st.phase_boundary(method, gamma=G, sigma=0.3, gamma_s=0.6, sigma_s=0.2, spectrum=ISO),
            st.phase_boundary(method, gamma=G, sigma=0.3, gamma_s=0.6, sigma_s=0.2), rtol=1e-10)


def test_population_through_the_same_formulas_and_the_gamma_s_limits():
    """gamma_s -> oo approaches the population source; gamma_s = 1: continuous without source
    noise, |beta_hat_s| = inf with it (linear: the target's variance; fine-tuning: inf)."""
    kw = dict(gamma=0.5, theta=0.7, sigma=0.2, spectrum=TWO, teacher=Aligned(1.0))
    for method in ("linear", "finetune"):
        pop = st.risk(method, **kw)
        far = st.risk(method, gamma_s=1e9, sigma_s=0.3, **kw)
        assert far == pytest.approx(pop, rel=1e-7)
        at = st.risk(method, gamma_s=1.0, **kw)
        for side in (1 - 1e-7, 1 + 1e-7):
            assert st.risk(method, gamma_s=side, **kw) == pytest.approx(at, rel=1e-5)
    m = float(Aligned(1.0).density(TWO.eigenvalues, TWO.weights) @ (TWO.weights * TWO.eigenvalues))
    assert st.risk("linear", gamma_s=1.0, sigma_s=0.3, **kw) == pytest.approx(m)
    assert st.risk("finetune", gamma_s=1.0, sigma_s=0.3, **kw) == np.inf
    assert st.transferability("finetune", gamma=1.5, theta=0.7, sigma=0.2, gamma_s=0.5,
                              spectrum=TWO) == 0


def test_finite_source_phase_boundaries_are_sign_changes():
    for method, kw in (("finetune", dict(gamma=0.6, sigma=0.3, depth=3)),
                       ("linear", dict(gamma=0.6, sigma=0.3, lam=0.1))):
        opts = dict(kw, gamma_s=0.7, sigma_s=0.2, spectrum=TWO, teacher=Aligned(1.0),
                    source_spectrum=SHIFT)
        th = st.phase_boundary(method, **opts)
        assert 0 < th < np.pi / 2
        T = [st.transferability(method, theta=th + e, **opts) for e in (-1e-4, 1e-4)]
        assert T[0] > 0 > T[1]


@pytest.mark.parametrize("kwargs,error,name", [
    (dict(sigma_s=0.3), ValueError, "sigma_s"),
    (dict(gamma_s=-1.0), ValueError, "gamma_s"),
    (dict(gamma_s=0.5, sigma_s=-0.1), ValueError, "sigma_s"),
    (dict(gamma_s=0.5, source_spectrum=[1.0, 2.0]), TypeError, "source_spectrum"),
    (dict(gamma_s=0.5, lam=0.2), ValueError, "lam"),
])
def test_bad_finite_source_input(kwargs, error, name):
    with pytest.raises(error, match=name):
        st.risk("finetune", gamma=0.5, theta=0.5, spectrum=TWO, **kwargs)


# ------------------------------------------------------------------ mpmath and finite d

PL = spectra.PowerLaw(1.5, atoms=12)
MP_CASES = [("scratch", dict(gamma=0.6, sigma=0.3)), ("scratch", dict(gamma=0.6, sigma=0.3, lam=0.2)),
            ("scratch", dict(gamma=1.7, sigma=0.3)),
            ("linear", dict(gamma=0.6, theta=0.8, sigma=0.3, lam=0.2, depth=3)),
            ("linear", dict(gamma=1.5, theta=0.8, sigma=0.3)),
            ("finetune", dict(gamma=0.6, theta=0.8, sigma=0.3, depth=3)),
            ("finetune", dict(gamma=0.4, theta=1.3, form="paper")),
            ("finetune", dict(gamma=1.4, theta=1.3, sigma=0.2))]
SOURCES = [(None, None, 0.0), (SHIFT, 0.5, 0.3), (None, 2.0, 0.5)]


@pytest.mark.parametrize("spec", [TWO, PL], ids=["two", "power12"])
@pytest.mark.parametrize("teacher", [GENERIC, Aligned(1.0)], ids=["generic", "aligned"])
def test_float64_equals_mpmath_at_50_digits(spec, teacher):
    """risk, transferability and phase_boundary with precision=50 (the same formulas on mpf
    atoms, kappa and PositiveRoot at 60 digits) against float64: measured max relative
    difference 5.7e-14 over these cases; required 1e-11."""
    import mpmath

    worst = 0.0
    for source, gs, ss in SOURCES:
        for method, kw in MP_CASES:
            if method == "scratch" and gs is not None:
                continue
            o = dict(kw, spectrum=spec, teacher=teacher, source_spectrum=source, gamma_s=gs,
                     sigma_s=ss)
            pairs = [(f(method, **o), f(method, precision=50, **o))
                     for f in (st.risk, st.transferability)]
            if method != "scratch":
                ob = {k: v for k, v in o.items() if k != "theta"}
                pairs.append((st.phase_boundary(method, **ob),
                              st.phase_boundary(method, precision=50, **ob)))
            for a, b in pairs:
                assert isinstance(b, mpmath.mpf)
                if np.isnan(a):
                    assert mpmath.isnan(b)
                    continue
                worst = max(worst, float(abs(mpmath.mpf(a) - b) / max(abs(b), 1e-300))
                            if b != 0 else abs(a))
    assert worst < 1e-11


def test_mpmath_holds_its_digits_and_one_atom_is_the_isotropic_value():
    import mpmath

    kw = dict(gamma="0.6", theta="1.1780972450961724", sigma="0.5", depth=3)
    for extra in ({}, dict(gamma_s="0.4", sigma_s="0.3")):
        one = st.risk("finetune", spectrum=ISO, precision=50, **kw, **extra)
        iso = st.risk("finetune", precision=50, **kw, **extra)
        assert abs(one - iso) < mpmath.mpf(10) ** -45 * abs(iso)
        lin_one = st.risk("linear", spectrum=ISO, precision=50, lam="0.3", **kw, **extra)
        lin_iso = st.risk("linear", precision=50, lam="0.3", **kw, **extra)
        assert abs(lin_one - lin_iso) < mpmath.mpf(10) ** -45 * abs(lin_iso)
    o = dict(kw, spectrum=PL, teacher=Aligned(1.0), gamma_s="0.4", sigma_s="0.3",
             source_spectrum=SHIFT)
    a, b = st.risk("finetune", precision=50, **o), st.risk("finetune", precision=70, **o)
    assert abs(a - b) < mpmath.mpf(10) ** -48 * abs(b)


def test_finite_d_with_a_spectrum():
    """Least squares: sigma^2 d/(n-d-1) for every Sigma (exact; checked on random matrices);
    min-norm, ridge and transfer: no closed form, refused naming d."""
    assert st.risk("scratch", gamma=2.0, sigma=0.3, d=100, spectrum=TWO) == \
        st.risk("scratch", gamma=2.0, sigma=0.3, d=100)
    rng = np.random.default_rng(2)
    d, n, sigma = 20, 40, 0.3
    diag = TWO.diagonal(d)
    vals = []
    for _ in range(400):
        X = rng.standard_normal((n, d)) * np.sqrt(diag)
        e = np.linalg.solve(X.T @ X, X.T @ (sigma * rng.standard_normal(n)))
        vals.append(e @ (diag * e))
    vals = np.asarray(vals)
    exact = sigma ** 2 * d / (n - d - 1)
    assert abs(vals.mean() - exact) < Z * vals.std(ddof=1) / np.sqrt(vals.size)
    for method, kw in (("scratch", dict(gamma=0.5)), ("scratch", dict(gamma=2.0, lam=0.1)),
                       ("finetune", dict(gamma=2.0, theta=0.3)),
                       ("linear", dict(gamma=2.0, theta=0.3))):
        with pytest.raises(ValueError, match="^d "):
            st.risk(method, sigma=0.3, d=100, spectrum=TWO, **kw)


def test_precision_with_a_spectrum_bad_input():
    with pytest.raises(ValueError, match="optimal_ridge"):
        st.risk("scratch", gamma=0.5, sigma=0.3, spectrum=TWO, teacher=Aligned(1.0),
                baseline="optimal_ridge", precision=30)
    with pytest.raises(ValueError, match="sigma_s"):
        st.risk("finetune", gamma=0.5, theta=0.3, sigma_s=0.2, spectrum=TWO, precision=30)
    with pytest.raises(ValueError, match="precision"):
        st.risk("finetune", gamma=0.5, theta=0.3, spectrum=TWO, precision=0)
    with pytest.raises(ValueError, match="gamma"):
        st.risk("finetune", gamma="-1", theta=0.3, spectrum=TWO, precision=30)


# ------------------------------------------------------------------ figures' claims

def test_scaling_law_and_covariate_shift_figures():
    """What the captions say: the fitted exponents of scratch risk and fine-tuning T are the
    classical bias exponent -(alpha (1 + p) - 1) (measured -0.52, -1.24, -1.96 against -0.5,
    -1.25, -2.0; required within 0.06) and equal to each other at sigma = 0; under Sigma_s =
    c Sigma, T from a population or noiseless finite source is the same for every c, from a
    noisy finite source it changes sign."""
    pytest.importorskip("matplotlib")
    from symtransfer import plots
    from symtransfer.plots.spectra import SCALING

    _, exps = plots.scaling_law()
    for p, (b_r, b_t) in exps.items():
        assert b_r == pytest.approx(-(SCALING["alpha"] * (1 + p) - 1), abs=0.06)
        assert b_t == pytest.approx(b_r, rel=1e-9)
    _, info = plots.covariate_shift(scales=np.logspace(-2, 2, 9))
    assert np.all(np.diff(info["kl"][info["scales"] >= 1]) > 0)
    assert np.all(np.diff(info["kl"][info["scales"] <= 1]) < 0)
    np.testing.assert_allclose(info["T_noiseless"], info["T_noiseless"][0], rtol=1e-12)
    assert info["T_noiseless"][0] < info["T_population"]
    assert info["T_noisy"][0] < 0 < info["T_noisy"][-1]
    assert 1 < info["c_zero"] < 10


def test_sweep_theory_with_a_finite_source_and_a_spectrum(tmp_path):
    """A sweep over gamma_s with a spectrum and a source spectrum: its theory is the finite-
    source theory point by point (it raised before the finite-source theory existed)."""
    from symtransfer import sweep as SW

    sw = SW.run_sweep("linear", {"gamma_s": [0.5, 2.0]}, gamma=1.5, theta=0.4, sigma=0.2,
                      sigma_s=0.3, d=30, instances=2, seed=1, workers=0, progress=False,
                      spectrum=TWO, source_spectrum=SHIFT, path=tmp_path / "s.npz")
    expected = [st.risk("linear", gamma=1.5, theta=0.4, sigma=0.2, gamma_s=g, sigma_s=0.3,
                        spectrum=TWO, source_spectrum=SHIFT) for g in (0.5, 2.0)]
    np.testing.assert_allclose(SW.Sweep.load(tmp_path / "s.npz").theory(), expected,
                               rtol=1e-12)
    assert np.all(sw.converged)
