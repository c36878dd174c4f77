"""The transfer pipeline for two-layer ReLU networks, simulated (paper Sec. 4).

1. **Pretraining** on the source teacher (:func:`symtransfer.relu.teachers.source_teacher`),
   from small initialization (scale ``alpha``, the feature-learning regime), on abundant
   source data: by default the population loss (``gamma_s=None``: the limit of infinitely
   many fresh source samples, in closed form), or ``n_s = gamma_s d`` noiseless samples.
2. **Transfer** on ``n = gamma d`` target samples ``y = f_t(x) + sigma eps``:

   * ``scratch``: the same student from a fresh small initialization, trained on them;
   * ``linear``: the pretrained first layer frozen; the readout (v, b) refit by least
     squares on ``[1, relu(W x)]`` with a small ridge: penalty ``lam`` times the largest
     eigenvalue of the sample feature covariance (default ``LINEAR_LAM = 1e-3``). Why not
     ridgeless: the pretrained hidden layer spans, besides its few strong directions (one per
     teacher feature), a tail of weak ones (covariance eigenvalues from 1e-1 down to 1e-6 of
     the largest: other ReLU functions of the same few directions). With n below the number
     of features, ridgeless least squares interpolates the target samples through that tail,
     with huge coefficients: at gamma = 0.5, d = 30 an orthogonal target then has risk ~20,
     against ~2 at lam = 1e-3 and ~1.6 at 1e-2. The authors of the paper used a ridge (0.1)
     in the linear case for the same reason;
   * ``finetune``: gradient descent on all parameters from the pretrained ones.

   Training is :func:`symtransfer.relu.training.train` (adaptive full-batch gradient descent,
   stopped at ``tol`` relative loss; instances that do not get there are flagged).
3. **Test error** ``E_x (f(x) - f_t(x))^2`` against the noiseless target teacher, exactly (the
   closed-form Gaussian expectation: an infinitely large fresh test sample, so it carries no
   Monte-Carlo error of its own).

Instance k draws its initializations and data from ``SeedSequence(seed, spawn_key=(k,))``:
the same seed gives the same numbers, whatever the number of instances, and the three
methods see the same target data and the same pretrained network (paired comparisons).
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np

from .. import validation as V
from ..mc.result import SimulationResult
from .overlap import feature_overlap, ridge_from_moments, sample_moments
from .student import Student, population_loss, sample_loss, small_init, generalization_error
from .teachers import Teacher, readout_vector, source_teacher, target_teacher, teacher_distance
from .training import MAX_STEPS, TOL, TrainStats, train

METHODS = ("scratch", "linear", "finetune")
LINEAR_LAM = 1e-3
_STREAMS = ("pretrain_init", "source_data", "target_data", "scratch_init")

#: defaults, chosen so that a 16-instance run at d = 30 takes about a second per method
DEFAULTS: dict[str, Any] = dict(
    sigma=0.0, shared=0, readout="same", readout_scale=1.0, d=30, teacher_width=3, width=32,
    instances=16, seed=0, alpha=1e-4, lam=LINEAR_LAM, tol=TOL, max_steps=MAX_STEPS, gamma_s=None)


def instance_streams(seed: int, instances: int) -> dict[str, list[np.random.Generator]]:
    """One generator per (purpose, instance), from ``SeedSequence(seed, spawn_key=(k,))``."""
    children = [np.random.SeedSequence(seed, spawn_key=(k,)).spawn(len(_STREAMS))
                for k in range(instances)]
    return {name: [np.random.default_rng(c[i]) for c in children]
            for i, name in enumerate(_STREAMS)}


def n_samples(gamma: float, d: int, name: str = "gamma") -> int:
    """``gamma * d`` as a whole number of samples >= 1 (else ValueError naming ``name``)."""
    n = gamma * d
    if abs(n - round(n)) > 1e-9 * max(n, 1.0) or round(n) < 1:
        raise ValueError(f"{name}*d must be a whole number of samples >= 1, got {name}*d = {n}")
    return int(round(n))


def gaussian_inputs(rngs: list[np.random.Generator], n: int, d: int) -> np.ndarray:
    """(K, n, d) standard Gaussian inputs, instance k from ``rngs[k]``."""
    return np.stack([rng.standard_normal((n, d)) for rng in rngs])


def target_data(seed: int, instances: int, *, gamma: float, d: int, teacher: Teacher,
                sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The target samples of every instance: X (K, n, d), ``y = f_t(X) + sigma eps``.

    X and eps are drawn from the 'target_data' streams whatever the teacher and sigma
    (common random numbers across a sweep)."""
    n = n_samples(gamma, d)
    rngs = instance_streams(seed, instances)["target_data"]
    X = gaussian_inputs(rngs, n, d)
    eps = np.stack([rng.standard_normal(n) for rng in rngs])
    return X, teacher(X) + sigma * eps


def fit(student: Student, loss, reference: np.ndarray, *, tol: float, max_steps: int,
        label: str, progress: bool | None) -> TrainStats:
    """Train ``student`` in place on ``loss(student_subset, index)``."""
    return train(student, loss, reference, tol=tol, max_steps=max_steps, label=label,
                 progress=progress)


def _on_data(X: np.ndarray, y: np.ndarray):
    return lambda s, idx: sample_loss(s, X[idx], y[idx])


_PRETRAINED: dict[tuple, tuple[Student, TrainStats]] = {}
_CACHE_SIZE = 4


def pretrained(seed: int, instances: int, *, d: int, teacher_width: int, width: int,
               alpha: float, tol: float, max_steps: int, gamma_s: float | None,
               progress: bool | None = None) -> tuple[Student, TrainStats]:
    """The pretrained students (read-only arrays) and their training statistics.

    Cached (the last few, keyed by every argument but ``progress``): pretraining does not
    depend on the target, so every method and grid point with the same source and seed
    shares one pretraining."""
    key = (seed, instances, d, teacher_width, width, alpha, tol, max_steps, gamma_s)
    if key not in _PRETRAINED:
        if len(_PRETRAINED) >= _CACHE_SIZE:
            _PRETRAINED.pop(next(iter(_PRETRAINED)))
        _PRETRAINED[key] = _pretrain(seed, instances, d=d, teacher_width=teacher_width,
                                     width=width, alpha=alpha, tol=tol, max_steps=max_steps,
                                     gamma_s=gamma_s, progress=progress)
    return _PRETRAINED[key]


def _pretrain(seed: int, instances: int, *, d: int, teacher_width: int, width: int,
              alpha: float, tol: float, max_steps: int, gamma_s: float | None,
              progress: bool | None) -> tuple[Student, TrainStats]:
    streams = instance_streams(seed, instances)
    teacher = source_teacher(d, teacher_width)
    student = small_init(streams["pretrain_init"], d=d, width=width, alpha=alpha)
    if gamma_s is None:
        loss = lambda s, idx: population_loss(s, teacher)  # noqa: E731
        reference = np.full(instances, 0.5 * teacher.second_moment())
    else:
        X = gaussian_inputs(streams["source_data"], n_samples(gamma_s, d, "gamma_s"), d)
        y = teacher(X)
        loss, reference = _on_data(X, y), 0.5 * np.mean(y ** 2, axis=1)
    stats = fit(student, loss, reference, tol=tol, max_steps=max_steps, label="pretrain",
                progress=progress)
    for array in student.arrays:
        array.flags.writeable = False
    return student, stats


def refit_readout(student: Student, X: np.ndarray, y: np.ndarray,
                  lam: float = LINEAR_LAM) -> Student:
    """Linear transfer: W frozen, (v, b) refit by ridge-regularized least squares of y on
    ``[1, relu(W x)]`` (penalty lam * largest feature-covariance eigenvalue on v only)."""
    v, b, _ = ridge_from_moments(*sample_moments(student.hidden(X), y), lam=lam)
    return Student(np.array(student.W), v, b)


def _check(method: str, kw: dict[str, Any]) -> dict[str, Any]:
    V.choice("method", method, METHODS)
    for name in ("d", "teacher_width", "width", "instances", "seed", "max_steps", "shared"):
        V.integer(name, kw[name], minimum=0 if name in ("seed", "shared") else 1)
    for name in ("gamma", "theta", "sigma", "readout_scale", "alpha", "lam", "tol"):
        value = kw[name]
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number (a scalar: sweep over grids "
                            f"instead), got {value!r}")
    V.real("gamma", kw["gamma"], lower=0, lower_open=True)
    V.real("theta", kw["theta"], lower=0, upper=math.pi)
    V.real("sigma", kw["sigma"], lower=0)
    V.real("lam", kw["lam"], lower=0)
    for name in ("readout_scale", "alpha", "tol"):
        V.real(name, kw[name], lower=0, lower_open=True)
    if kw["shared"] > kw["teacher_width"]:
        raise ValueError(f"shared must be <= teacher_width = {kw['teacher_width']}, got "
                         f"{kw['shared']}")
    if kw["d"] < 2 * kw["teacher_width"]:
        raise ValueError(f"d must be >= 2 * teacher_width = {2 * kw['teacher_width']} (the "
                         f"rotated features need fresh directions), got {kw['d']}")
    n_samples(kw["gamma"], kw["d"])
    readout_vector(kw["readout"], kw["teacher_width"])
    if not isinstance(kw["readout"], str):
        kw["readout"] = [float(x) for x in kw["readout"]]
    if kw["gamma_s"] is not None:
        if isinstance(kw["gamma_s"], bool) or not isinstance(kw["gamma_s"], numbers.Real):
            raise TypeError(f"gamma_s must be None (population) or a real number, got "
                            f"{kw['gamma_s']!r}")
        V.real("gamma_s", kw["gamma_s"], lower=0, lower_open=True)
        n_samples(kw["gamma_s"], kw["d"], "gamma_s")
    return kw


def simulate_relu(method: str, *, gamma: float, theta: float = 0.0, sigma: float = 0.0,
                  shared: int = 0, readout: str | Sequence[float] = "same",
                  readout_scale: float = 1.0,
                  d: int = 30, teacher_width: int = 3, width: int = 32, instances: int = 16,
                  seed: int = 0, alpha: float = 1e-4, lam: float = LINEAR_LAM, tol: float = TOL,
                  max_steps: int = MAX_STEPS, gamma_s: float | None = None,
                  progress: bool | None = None) -> SimulationResult:
    """Test error of ``method`` ('scratch', 'linear', 'finetune') for two-layer ReLU networks.

    Target: :func:`symtransfer.relu.teachers.target_teacher` (``theta``, ``shared``,
    ``readout``, ``readout_scale``; ``teacher_width`` hidden units, centred, unit second
    moment times readout_scale^2) with ``n = gamma d`` samples of label noise ``sigma``.
    Student: ``width`` ReLU units and an output bias, small init ``alpha``. ``lam``: relative
    ridge of the linear-transfer readout; ``tol``, ``max_steps``: the convergence criterion
    (:mod:`symtransfer.relu.training`); ``gamma_s``: None for population pretraining, else
    ``gamma_s d`` source samples. ``progress``: tqdm bars (None: for phases over 2 s).

    Returns a :class:`symtransfer.mc.result.SimulationResult`: ``errors[k]`` the exact test
    error of instance k, ``converged[k]``, ``diagnostics`` per phase ('pretrain', 'train',
    'finetune': steps, loss, converged; 'overlap': the residual fraction of the target
    outside the pretrained feature space, per instance; 'target': the source-target distance
    ``E (f_s - f_t)^2``). ``.mean`` / ``.sem`` raise ConvergenceError unless every instance
    converged.
    """
    params = _check(method, dict(
        gamma=gamma, theta=theta, sigma=sigma, shared=shared, readout=readout,
        readout_scale=readout_scale, d=d, teacher_width=teacher_width, width=width,
        instances=instances, seed=seed, alpha=alpha, lam=lam, tol=tol, max_steps=max_steps,
        gamma_s=gamma_s))
    teacher = target_teacher(d, theta, teacher_width=teacher_width, shared=shared,
                             readout=readout, readout_scale=readout_scale)
    X, y = target_data(seed, instances, gamma=gamma, d=d, teacher=teacher, sigma=sigma)
    reference = 0.5 * np.mean(y ** 2, axis=1)
    options = dict(tol=tol, max_steps=max_steps, progress=progress)
    diagnostics: dict[str, dict[str, np.ndarray]] = {"target": {
        "distance": np.full(instances, teacher_distance(source_teacher(d, teacher_width),
                                                        teacher))}}
    if method == "scratch":
        streams = instance_streams(seed, instances)
        student = small_init(streams["scratch_init"], d=d, width=width, alpha=alpha)
        stats = fit(student, _on_data(X, y), reference, label="scratch", **options)
        diagnostics["train"] = stats.as_dict()
        converged = stats.converged
    else:
        source, pre = pretrained(seed, instances, d=d, teacher_width=teacher_width,
                                 width=width, alpha=alpha, tol=tol, max_steps=max_steps,
                                 gamma_s=gamma_s, progress=progress)
        diagnostics["pretrain"] = pre.as_dict()
        diagnostics["overlap"] = {"residual": feature_overlap(source, teacher)}
        if method == "linear":
            student = refit_readout(source, X, y, lam)
            converged = pre.converged.copy()
        else:
            student = source.copy()
            stats = fit(student, _on_data(X, y), reference, label="finetune", **options)
            diagnostics["finetune"] = stats.as_dict()
            converged = pre.converged & stats.converged
    errors = generalization_error(student, teacher)
    return SimulationResult(method, params, errors, converged, diagnostics)


#: parameters that must agree for two results to be paired (same target data and test law)
PAIRED = ("gamma", "theta", "sigma", "shared", "readout", "readout_scale", "d",
          "teacher_width", "width", "instances", "seed", "alpha", "tol")


def transferability(scratch: SimulationResult, transfer: SimulationResult) -> tuple[float, float]:
    """``T = R_scratch - R_transfer`` and its paired standard error.

    The two results must come from the same seed and target (same ``PAIRED`` parameters):
    instance k of both trained on the same target data, so the per-instance differences
    ``errors_scratch[k] - errors_transfer[k]`` are independent draws of T and the sem is
    theirs (std(ddof=1)/sqrt(instances)). Raises ConvergenceError if an instance of either
    did not converge.
    """
    if scratch.method != "scratch":
        raise ValueError(f"scratch must be a 'scratch' result, got {scratch.method!r}")
    if transfer.method not in ("linear", "finetune"):
        raise ValueError(f"transfer must be a 'linear' or 'finetune' result, got "
                         f"{transfer.method!r}")
    differ = [k for k in PAIRED if scratch.params.get(k) != transfer.params.get(k)]
    if differ:
        raise ValueError(f"results are not paired: they differ in {differ}")
    scratch._require_converged()
    transfer._require_converged()
    diff = scratch.errors - transfer.errors
    sem = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else float("nan")
    return float(diff.mean()), sem
