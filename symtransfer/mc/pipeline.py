"""The transfer-learning pipeline of docs/theory.md, simulated at finite d.

1. Pretraining on the source: gradient flow from small initialization on the population loss
   (``gamma_s=None``) or on ``n_s = gamma_s d`` noisy samples.
2. Transfer on ``n = gamma d`` target samples, by the method's simulation step (declared with
   the method in :mod:`symtransfer.methods`):

   * ``scratch``: the same architecture from a fresh small initialization;
   * ``linear``: W_1..W_{L-1} frozen, readout refit on the hidden features. ``lam > 0`` is ridge
     (penalty ``n lam |W_L|^2`` on the summed squared loss). ``lam = 0`` is the ridgeless limit
     *on the learned feature space*: the features ``h(x) = F^T x`` (``F = W_1 ... W_{L-1}``)
     are restricted to the singular directions of F with singular value at least
     ``rank_tol`` times the largest (default 1e-3), then fit by least squares. The small-init
     residue (singular values ~ alpha relative to the learned ones) would otherwise be fit to
     noise, which makes plain ridgeless regression on all d features unstable.
   * ``finetune``: gradient flow on all layers from the pretrained weights;
   * ``lp_ft``: the ridgeless readout refit of ``linear`` (the probe, :func:`readout_layer`
     turns it into the last layer), then fine-tuning's flow from the probed weights.

Every instance has its own random streams, derived from ``(seed, instance)``; results for an
instance do not depend on how many instances run beside it.
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np

from .. import methods
from .. import validation as V
from .covariance import Covariance
from .covariance import covariance as covariance_setup
from .data import Design, gaussian_data, population_problem, sample_problem, teachers
from .gradient_flow import MAX_STEPS, TOL, TrainStats, train
from .network import Trainable, Weights, small_init
from .optimizers import Trainer, record_times
from .optimizers import validate as validate_optimizer
from .penalized import train_penalized
from .result import SimulationResult

# appended streams leave the earlier ones unchanged (SeedSequence children are indexed)
_STREAMS = ("pretrain_init", "source_data", "target_data", "scratch_init", "readout",
            "minibatch")


def instance_streams(seed: int, instances: int) -> dict[str, list[np.random.Generator]]:
    """One generator per (purpose, instance), from ``SeedSequence(seed, spawn_key=(k,))``."""
    per_instance = [np.random.SeedSequence(seed, spawn_key=(k,)).spawn(len(_STREAMS))
                    for k in range(instances)]
    return {name: [np.random.default_rng(children[i]) for children in per_instance]
            for i, name in enumerate(_STREAMS)}


def pretrain(streams, *, d: int, depth: int, gamma_s, sigma_s: float, alpha: float, init: str,
             train_options: dict, mu: float = 0.0,
             covariance: Covariance | None = None, seed: int = 0) -> tuple[Weights, TrainStats]:
    """Gradient flow on the source loss from small initialization (with ``mu > 0``: plus the
    penalty ``mu/2 |w - w_0|^2`` toward the initialization; population source only).
    ``covariance``: anisotropic source inputs and per-instance teachers drawn from ``seed``
    (:mod:`symtransfer.mc.covariance`)."""
    K = len(streams["pretrain_init"])
    if covariance is not None:
        beta_k, _ = covariance.teachers(seed, K, 0.0)
        if gamma_s is None:
            problem = covariance.source_problem(beta_k)
        else:
            problem = covariance.source_sample_problem(
                streams["source_data"], _samples(gamma_s, d, "gamma_s"), beta_k, sigma_s)
        net = Trainable(small_init(streams["pretrain_init"], d, depth, alpha, init), problem)
        stats = train(net, label="pretrain", **train_options)
        return net.weights(), stats
    beta_s, _ = teachers(d, 0.0)
    if mu > 0:
        start = small_init(streams["pretrain_init"], d, depth, alpha, init)
        return train_penalized(start, beta_s, mu, **train_options)
    if gamma_s is None:
        problem = population_problem(beta_s, K)
    else:
        X, y = gaussian_data(streams["source_data"], _samples(gamma_s, d, "gamma_s"), beta_s,
                             sigma_s)
        problem = sample_problem(X, y)
    net = Trainable(small_init(streams["pretrain_init"], d, depth, alpha, init), problem)
    stats = train(net, label="pretrain", **train_options)
    return net.weights(), stats


def learned_features(features: np.ndarray, rank_tol: float,
                     rngs: list[np.random.Generator]) -> list[np.ndarray]:
    """Per instance, ``P_k S_k``: the singular directions of the feature map F with singular
    value >= rank_tol * largest, scaled by their singular values (so h_k = (P_k S_k)^T x).

    Found by a randomized range finder (Halko, Martinsson, Tropp 2011) with 8 extra columns,
    doubled until the kept rank leaves a margin: learned and residual singular values differ
    by a factor ~1/alpha, so the range is resolved to ~alpha relative accuracy without the
    cost of a full d x d SVD.
    """
    out = []
    d = features.shape[1]
    for F, rng in zip(features, rngs):
        width = 16
        while True:
            Q, _ = np.linalg.qr(F @ rng.standard_normal((d, min(width, d))))
            Ub, s, _ = np.linalg.svd(Q.T @ F, full_matrices=False)
            keep = s >= rank_tol * s[0]
            if keep.sum() <= width - 8 or width >= d:
                break
            width *= 2
        out.append((Q @ Ub[:, keep]) * s[keep])
    return out


def fit_readout(features: np.ndarray, X: np.ndarray, y: np.ndarray, lam: float,
                rank_tol: float, rngs: list[np.random.Generator]) -> tuple[np.ndarray, np.ndarray]:
    """Refit the last layer on frozen features; returns (beta_hat, learned-feature rank)."""
    n = X.shape[1]
    learned = learned_features(features, rank_tol, rngs)
    ranks = np.array([basis.shape[1] for basis in learned])
    if lam > 0:  # ridge on all d features: residual directions are shrunk to nothing
        U, s, Vt = _feature_svd(features, X)
        coef = s / (s ** 2 + n * lam) * np.einsum("knr,kn->kr", U, y)
        w = np.einsum("krd,kr->kd", Vt, coef)
        return np.einsum("kij,kj->ki", features, w), ranks
    betas = []
    for basis, Xk, yk in zip(learned, X, y):
        w, *_ = np.linalg.lstsq(Xk @ basis, yk, rcond=None)
        betas.append(basis @ w)
    return np.stack(betas), ranks


def readout_layer(features: np.ndarray, beta: np.ndarray, rank_tol: float) -> np.ndarray:
    """The last layer W_L (K, d) that gives the end-to-end ``beta = F W_L`` (a readout fit by
    :func:`fit_readout`) on the learned feature space: the minimum-norm solution over the
    singular directions of F above ``rank_tol`` of the largest (the probe of LP-FT)."""
    return np.stack([np.linalg.lstsq(F, b, rcond=rank_tol)[0] for F, b in zip(features, beta)])


_SVD_CACHE: list[tuple[np.ndarray, np.ndarray, tuple]] = []


def _feature_svd(features: np.ndarray, X: np.ndarray) -> tuple:
    """Thin SVD of ``X F`` per instance. Remembered for the last two read-only (cached)
    pairs of arrays, by identity: a ridge sweep over lam and theta on one design and one
    pretrained network (depth 2, whose features are the cached first layer) decomposes once."""
    for f, x, svd in _SVD_CACHE:
        if f is features and x is X:
            return svd
    svd = np.linalg.svd(np.matmul(X, features), full_matrices=False)
    if not (features.flags.writeable or X.flags.writeable):
        _SVD_CACHE.insert(0, (features, X, svd))
        del _SVD_CACHE[2:]
    return svd


def _samples(gamma: float, d: int, name: str) -> int:
    n = gamma * d
    if abs(n - round(n)) > 1e-9 * max(n, 1.0) or round(n) < 1:
        raise ValueError(f"{name}*d must be a whole number of samples >= 1, got {name}*d = {n}")
    return int(round(n))


def _validate(method: str, kw: dict[str, Any]) -> dict[str, Any]:
    m = methods.get(V.method_name(method))
    if m.step is None:
        raise ValueError(f"method={method!r} declares no simulation step")
    V.theory_parameters(method, gamma=kw["gamma"], theta=kw["theta"], sigma=kw["sigma"],
                        lam=kw["lam"], depth=kw["depth"], gamma_s=kw["gamma_s"],
                        sigma_s=kw["sigma_s"], precision=None)
    for name in ("gamma", "theta", "sigma", "lam", "gamma_s", "sigma_s", "alpha", "tol",
                 "rank_tol", "mu"):
        if kw[name] is not None and np.ndim(kw[name]) != 0:
            raise ValueError(f"{name} must be a scalar for simulate (sweep over grids instead)")
    if not m.uses_lam and kw["lam"] != 0:
        raise ValueError("lam is the ridge penalty of linear transfer (or of ridge regression "
                         f"for method='scratch'); method={method!r} takes lam=0")
    V.choice("baseline", kw["baseline"], ("ridgeless", "optimal_ridge", "fair"))
    if (kw["baseline"] not in m.baselines and kw["baseline"] != "fair") or (
            kw["baseline"] != "ridgeless" and kw["lam"] != 0):
        raise ValueError("baseline='optimal_ridge' is a scratch learner that chooses lam "
                         "itself: use it with method='scratch' and lam=0 ('fair': any method's "
                         "tuned learner, lam=0)")
    V.pretrain_penalty(method, V.real("mu", kw["mu"], lower=0), kw["gamma_s"])
    if kw["gamma_s"] is None and kw["sigma_s"] != 0:
        raise ValueError("sigma_s needs gamma_s (gamma_s=None is population pretraining)")
    V.integer("d", kw["d"], minimum=2)
    V.integer("instances", kw["instances"], minimum=1)
    V.integer("seed", kw["seed"], minimum=0)
    V.integer("max_steps", kw["max_steps"], minimum=1)
    V.choice("init", kw["init"], ("random", "balanced"))
    for name in ("alpha", "tol", "rank_tol"):
        V.real(name, kw[name], lower=0, lower_open=True)
    _samples(kw["gamma"], kw["d"], "gamma")
    if kw["gamma_s"] is not None:
        _samples(kw["gamma_s"], kw["d"], "gamma_s")
    kw = _plain(kw)
    _check_memory(method, kw)
    return kw


_REALS = ("gamma", "theta", "sigma", "lam", "gamma_s", "sigma_s", "alpha", "tol", "rank_tol",
          "mu")
_INTEGERS = ("depth", "d", "instances", "seed", "max_steps")


def _plain(kw: dict[str, Any]) -> dict[str, Any]:
    """Validated values as Python floats and ints (numpy scalars and 0-d arrays included), so
    that they hash (the caches) and serialize (sweep files)."""
    out = dict(kw)
    for name in _REALS:
        if out.get(name) is not None:
            out[name] = float(np.asarray(out[name], dtype=float))
    for name in _INTEGERS:
        out[name] = int(out[name])
    return out


def _physical_memory() -> int:
    """Bytes of physical memory (2**40 where the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return 2 ** 40


def memory_lower_bound(method: str, kw: dict[str, Any]) -> int:
    """Bytes that ``simulate`` allocates at least: every instance's target design X (n x d)
    and its right singular vectors, the d x d layers of every network, the source samples."""
    d, K = kw["d"], kw["instances"]
    n = _samples(kw["gamma"], d, "gamma")
    floats = n * d + min(n, d) * d
    m = methods.get(method)
    if m.pretrains or m.trains_network(kw):
        floats += (kw["depth"] - 1) * d * d
    if m.pretrains and kw["gamma_s"] is not None:
        floats += _samples(kw["gamma_s"], d, "gamma_s") * d
    return 8 * K * floats


def _check_memory(method: str, kw: dict[str, Any]) -> None:
    need, have = memory_lower_bound(method, kw), _physical_memory()
    if need > have:
        raise ValueError(
            f"simulate(d={kw['d']}, instances={kw['instances']}, depth={kw['depth']}) needs at "
            f"least {need / 2 ** 30:.3g} GiB of memory (the data and weights of all instances "
            f"at once), more than this machine's {have / 2 ** 30:.3g} GiB: lower d or "
            "instances (run more instances in several calls with other seeds)")


def simulate(method: str, *, gamma: float, theta: float | None = None, sigma: float = 0.0,
             lam: float = 0.0, depth: int = 2, gamma_s: float | None = None,
             sigma_s: float = 0.0, d: int = 200, instances: int = 20, seed: int = 0,
             alpha: float = 1e-5, init: str = "random", tol: float = TOL,
             max_steps: int = MAX_STEPS, rank_tol: float = 1e-3,
             baseline: str = "ridgeless", mu: float = 0.0,
             progress: bool | None = None, optimizer: str = "flow", lr: float | None = None,
             batch_size: int | None = None, epochs: int | None = None,
             replacement: bool = False, record=None, spectrum=None, source_spectrum=None,
             teacher="generic") -> SimulationResult:
    """Monte-Carlo twin of :func:`symtransfer.risk`: same method names and parameters, plus
    the dimension ``d``, the number of independent ``instances`` and the ``seed``.

    Returns a :class:`SimulationResult` with per-instance errors ``|beta_hat - beta_t|^2``, their
    mean and standard error, and per-phase training diagnostics. Same seed, same numbers.
    ``alpha`` and ``init`` ('random' or 'balanced') set the small initialization; ``tol`` and
    ``max_steps`` the convergence criterion (see :mod:`symtransfer.mc.gradient_flow`: an
    adaptive Runge-Kutta-Chebyshev flow with a Gauss-Newton finish; a run that does not
    converge says why in ``diagnostics[phase]["reason"]``);
    ``rank_tol`` the learned-feature threshold of ridgeless linear transfer. ``progress``: a
    tqdm bar (None: only for runs longer than 2 s; False: silent).

    ``method='scratch'`` with ``lam > 0`` is ridge regression on the target data (the
    estimator ``(X^T X/n + lam)^{-1} X^T y/n``, computed exactly), and with
    ``baseline='optimal_ridge'`` ridge at the asymptotically optimal ``lam* = sigma^2/gamma``.

    At ``gamma = 1`` (n = d) the expected risk of the interpolator is infinite
    (``E tr (X^T X)^{-1}`` diverges for a square Gaussian design): runs converge or say why, but
    their mean estimates nothing.

    ``mu > 0`` pretrains (population source, any depth) with the penalty ``mu |w - w_0|^2``
    toward the initialization (:mod:`symtransfer.mc.penalized`; convergence is stationarity).
    With the default small ``alpha`` it is weight decay; a large ``alpha`` gives the lazy end.

    ``optimizer``: how the target phase (scratch, fine-tuning) trains: ``'flow'`` (gradient
    flow, the default), ``'gd'`` (full-batch gradient descent with step ``lr`` on the loss
    ``(1/2n)|X beta - y|^2``) or ``'sgd'`` (minibatches of ``batch_size`` rows,
    ``replacement`` or not, from the instance's own stream), for at most ``epochs`` epochs
    (default: ``max_steps`` steps); see :mod:`symtransfer.mc.optimizers`. Pretraining is
    always gradient flow (on the population loss there are no minibatches); linear transfer
    and ridge keep their closed-form last step (``optimizer='flow'`` only). ``record``: an
    integer K (K log-spaced times) or increasing times at which the training state is kept in
    ``result.trajectory`` (train loss, test risk, distance to the gradient-flow endpoint,
    layer imbalances; for linear transfer with ``lam=0`` its readout's flow, in closed form).

    ``spectrum`` (a :mod:`symtransfer.spectra` spectrum): target inputs ``x ~ N(0, Sigma)``
    with Sigma's eigenvalues ``spectrum.diagonal(d)``, simulated in Sigma's eigenbasis; the
    teachers are then drawn per instance (profile ``teacher``: 'generic' or e.g.
    ``symtransfer.teachers.Aligned(power)``) and the errors are
    ``(beta_hat - beta_t)^T Sigma (beta_hat - beta_t)``; ``source_spectrum``: the source
    inputs' own spectrum (covariate shift; default: the target's). See
    :mod:`symtransfer.mc.covariance`. ``spectrum=None`` (default) is x ~ N(0, I) with the
    fixed teachers e_1, cos(theta) e_1 + sin(theta) e_2, as always.
    """
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be None, True or False, got {progress!r}")
    params = _validate(method, dict(
        gamma=gamma, theta=theta, sigma=sigma, lam=lam, depth=depth, gamma_s=gamma_s,
        sigma_s=sigma_s, d=d, instances=instances, seed=seed, alpha=alpha, init=init, tol=tol,
        max_steps=max_steps, rank_tol=rank_tol, baseline=baseline, mu=mu))
    # plain Python scalars from here on (0-d arrays and numpy scalars hash and serialize)
    gamma, theta, sigma, lam, gamma_s, sigma_s, alpha, tol, rank_tol, mu = (
        params[k] for k in _REALS)
    depth, d, instances, seed, max_steps = (params[k] for k in _INTEGERS)
    progress = None if progress is None else bool(progress)
    cov = _covariance(spectrum, source_spectrum, teacher, method, params)
    m = methods.get(method)
    closed_form = not m.trains_network(params)  # no optimizer trains its last step
    n = _samples(gamma, d, "gamma")
    opt = validate_optimizer(optimizer, lr=lr, batch_size=batch_size, epochs=epochs,
                             replacement=replacement, n=n, method=method, ridge=closed_form)
    if record is not None and not m.records(params):
        raise ValueError("record keeps a training trajectory: ridge solves its last step in "
                         "closed form (linear transfer with lam=0 records its readout's flow)")
    times = record_times(record, opt, opt.budget(n, max_steps))
    params.update(opt.settings(), record=record if times is None or isinstance(record, int)
                  else times.tolist())
    if record is not None and cov is not None:
        raise ValueError("record is not available with spectrum= or source_spectrum= (the "
                         "recorded test risk and endpoint distance are isotropic)")
    streams = instance_streams(seed, instances)
    theta = 0.0 if theta is None else float(theta)
    if cov is None:
        _, beta_t = teachers(d, theta)
    else:
        _, beta_t = cov.teachers(seed, instances, theta)
    design = target_design(seed, instances, d, _samples(gamma, d, "gamma"), cov)
    problem = design.problem(beta_t, sigma)
    beta_source = weights = None
    options = dict(tol=tol, max_steps=max_steps, progress=progress)
    fit = Trainer(opt, times, design=design, beta_t=beta_t, sigma=sigma,
                  rngs=streams["minibatch"])
    diagnostics: dict[str, dict[str, np.ndarray]] = {}
    converged = np.ones(instances, dtype=bool)
    if m.pretrains:
        weights, pre = pretrained(seed, instances, d=d, depth=depth, gamma_s=gamma_s,
                                  sigma_s=sigma_s, alpha=alpha, init=init, tol=tol,
                                  max_steps=max_steps, progress=progress, mu=float(mu),
                                  covariance=cov)
        diagnostics["pretrain"] = pre.as_dict()
        beta_source = weights.end_to_end()
        converged = pre.converged
    outcome = m.simulate_step(methods.Context(params, streams, design, problem, beta_t,
                                              options, weights, fit=fit,
                                              beta_source=beta_source))
    diagnostics.update(outcome.diagnostics)
    beta_hat, converged = outcome.beta_hat, converged & outcome.converged
    if cov is None:
        errors = np.einsum("kd,kd->k", beta_hat - beta_t, beta_hat - beta_t)
    else:
        errors = cov.error(beta_hat, beta_t)
    result = SimulationResult(method, params, errors, converged, diagnostics, beta_hat,
                              beta_source, fit.trajectory)
    if cov is not None:
        result.beta_target, result.covariance = beta_t, cov
    return result


def _covariance(spectrum, source_spectrum, teacher, method: str,
                params: dict[str, Any]) -> Covariance | None:
    """The anisotropic setup of a simulation (None: isotropic); records it in ``params`` and
    refuses combinations the simulator does not model."""
    cov = covariance_setup(spectrum, source_spectrum, teacher, params["d"])
    if cov is None:
        return None
    if params["mu"] > 0:
        raise ValueError("mu > 0 (penalized pretraining) is not simulated with spectrum= or "
                         "source_spectrum=; give mu=0")
    if params["baseline"] == "optimal_ridge" and cov.teacher.name != "generic":
        raise ValueError("baseline='optimal_ridge' uses lam* = sigma^2/gamma, the optimal "
                         "(Bayes) ridge for generic teachers only; with teacher="
                         f"{cov.teacher!r} give lam explicitly")
    params.update(spectrum=spectrum, source_spectrum=source_spectrum, teacher=cov.teacher)
    return cov


def ridge_regression(problem, lam: float) -> np.ndarray:
    """``(X^T X/n + lam)^{-1} X^T y/n`` in row-space coordinates: ``V (c/(c + lam)) z*``."""
    shrink = problem.curvature / (problem.curvature + lam)
    return np.einsum("kdr,kr->kd", problem.basis, shrink * problem.target)


@lru_cache(maxsize=8)
def target_design(seed: int, instances: int, d: int, n: int,
                  covariance: Covariance | None = None) -> Design:
    """The target design and noise of every instance (cached: a sweep over theta, sigma and the
    methods reuses one SVD per (seed, instances, d, n, covariance))."""
    scale = None if covariance is None else covariance.target
    return Design.sample(instance_streams(seed, instances)["target_data"], n, d, scale)


@lru_cache(maxsize=2)
def pretrained(seed: int, instances: int, *, d: int, depth: int, gamma_s, sigma_s: float,
               alpha: float, init: str, tol: float, max_steps: int,
               progress: bool | None = None, mu: float = 0.0,
               covariance: Covariance | None = None) -> tuple[Weights, TrainStats]:
    """Pretrained weights (cached: they do not depend on the target, so every grid point of a
    sweep with the same source and seed shares one pretraining)."""
    weights, stats = pretrain(instance_streams(seed, instances), d=d, depth=depth,
                              gamma_s=gamma_s, sigma_s=sigma_s, alpha=alpha, init=init,
                              train_options=dict(tol=tol, max_steps=max_steps,
                                                 progress=progress), mu=mu,
                              covariance=covariance, seed=seed)
    for array in weights.layers + [weights.last]:
        array.flags.writeable = False
    return weights, stats


def target_data(streams, *, d: int, gamma: float, theta: float,
                sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The target samples (X, y) of every instance: ``y = X beta_t + sigma eps`` (the same
    draws as :func:`target_design`)."""
    _, beta_t = teachers(d, theta)
    return gaussian_data(streams["target_data"], _samples(gamma, d, "gamma"), beta_t, sigma)
