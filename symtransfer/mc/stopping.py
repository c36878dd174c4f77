"""Early stopping: the risk along training, its oracle-stopped minimum, and stopping on held-out data.

:func:`early_stopping` runs :func:`symtransfer.simulate` with the trajectory recorder and
reads three stopping rules off it, per instance:

* **converged**: the end of training (the flow's endpoint, what ``simulate`` returns);
* **oracle**: the smallest *test* risk over the recorded times and the endpoint. It needs the
  teacher, so no user can run it: it is the best any stopping time could do on this
  trajectory (an optimistic bound). By construction ``oracle <= converged`` per instance.
  The recorded grid is refined once around every instance's minimum (a second run recorded
  on ``refine`` log-spaced times in each bracket ``[t_(j-1), t_(j+1)]`` of a grid minimum),
  and what the refinement changed is reported (``refinement``), with the
  remaining resolution estimated by a parabola in log-time through the three points around
  the refined minimum (``resolution``);
* **validation** (``val_fraction=f``): a rule a user can run. The ``n`` target samples are
  split, ``n_val = round(f n)`` held out and ``n - n_val`` trained on (the same samples as the
  full run, the first rows); the stopping time is the recorded time (or the endpoint) with the
  smallest validation loss ``(1/n_val) |X_val beta(t) - y_val|^2``. Reported: the risk of the
  split run stopped there (``validation``), of the split run's oracle and endpoint, and
  ``refit``: the full-data run stopped at the chosen time (retraining on all n samples for the
  selected time, the usual practice).

What is proved (per instance, deterministic): ``oracle_split <= validation <= oracle_split +
2 max_t |e(t)|``, ``e(t) = val(t) - sigma^2 - R(t)`` the validation loss's error as an estimate of
the risk (``E val(t) = R(t) + sigma^2`` for a trajectory independent of the held-out rows):
``val(t_hat) <= val(t*)`` gives ``R(t_hat) - R(t*) <= e(t*) - e(t_hat)``. Nothing orders the
validation-stopped risk against the full-data oracle or endpoint in general (fewer samples
against a better time); tests/test_early_stopping.py measures both at a noisy point.

Non-convergence is reported: ``converged``/``reason`` per instance (any phase, either run);
the summaries raise :class:`~symtransfer.mc.result.ConvergenceError` unless every instance
converged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import methods
from .data import Design, teachers
from .optimizers import Optimizer, Trainer
from .result import ConvergenceError

#: fewest recorded times that can locate a minimum
MIN_RECORD = 8
DEFAULT_RECORD = 48
DEFAULT_REFINE = 16


@dataclass
class Summary:
    """Mean and standard error over instances of one per-instance array."""

    mean: float
    sem: float

    @classmethod
    def of(cls, values: np.ndarray) -> "Summary":
        k = values.size
        sem = float(values.std(ddof=1) / math.sqrt(k)) if k > 1 else math.nan
        return cls(float(values.mean()), sem)

    def __repr__(self) -> str:
        return f"{self.mean:.5f} +- {self.sem:.5f}"


@dataclass
class Validation:
    """The held-out-split run (see the module docstring): ``n_train``, ``n_val``, per
    instance ``risk`` (split run at the chosen time), ``time`` (inf: the endpoint), ``refit``
    (full run at that time), ``oracle`` and ``converged_risk`` of the split run, ``bound``
    (``2 max_t |e(t)|``), and the validation ``loss`` curve (K, R) on the recorded ``time``
    grid of the result."""

    n_train: int
    n_val: int
    risk: np.ndarray
    time: np.ndarray
    refit: np.ndarray
    oracle: np.ndarray
    converged_risk: np.ndarray
    bound: np.ndarray
    loss: np.ndarray
    curve: np.ndarray = field(repr=False)


@dataclass
class StoppingResult:
    """What :func:`early_stopping` returns.

    ``time`` (R,) and ``risk`` (K, R): the recorded test-risk curves of the full-data run;
    ``converged_risk`` (K,): its endpoint; ``oracle_risk``, ``oracle_time`` (K,): the oracle
    stop (time inf: the endpoint was best); ``refinement`` (K,): how much the refined grid
    lowered the oracle; ``resolution`` (K,): the parabola estimate of what a finer grid could
    still gain; ``at_first_time`` (K,): the minimum sat on the first recorded time (not
    resolved from below); ``validation``: a :class:`Validation` or None; ``converged``,
    ``reason`` (K,) over both runs. ``summary()``: means and sems (refuses unconverged runs).
    """

    method: str
    params: dict[str, Any]
    time: np.ndarray
    risk: np.ndarray
    converged_risk: np.ndarray
    oracle_risk: np.ndarray
    oracle_time: np.ndarray
    refinement: np.ndarray
    resolution: np.ndarray
    at_first_time: np.ndarray
    converged: np.ndarray
    reason: np.ndarray
    validation: Validation | None = None
    fine_time: np.ndarray | None = field(default=None, repr=False)
    fine_risk: np.ndarray | None = field(default=None, repr=False)

    @property
    def instances(self) -> int:
        return int(self.converged.size)

    def _require_converged(self) -> None:
        if not self.converged.all():
            bad = np.flatnonzero(~self.converged)
            reasons = sorted(set(self.reason[bad].tolist()))
            raise ConvergenceError(
                f"{bad.size} of {self.instances} instances did not converge (instances "
                f"{bad.tolist()[:10]}, reasons {reasons}): their recorded trajectories are not "
                "summarized; see .converged and .reason, or raise max_steps")

    def summary(self) -> dict[str, Summary]:
        """Mean +- sem over instances: 'converged', 'oracle', 'gain' (converged - oracle,
        paired) and, with a validation split, 'validation', 'refit', 'split_oracle',
        'split_converged'."""
        self._require_converged()
        out = {"converged": Summary.of(self.converged_risk),
               "oracle": Summary.of(self.oracle_risk),
               "gain": Summary.of(self.converged_risk - self.oracle_risk)}
        v = self.validation
        if v is not None:
            out.update(validation=Summary.of(v.risk), refit=Summary.of(v.refit),
                       split_oracle=Summary.of(v.oracle),
                       split_converged=Summary.of(v.converged_risk))
        return out

    def mean_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """The mean recorded risk over instances and its sem, per recorded time."""
        self._require_converged()
        k = self.instances
        return self.risk.mean(0), self.risk.std(0, ddof=1) / math.sqrt(k)

    def __repr__(self) -> str:
        if not self.converged.all():
            return (f"StoppingResult({self.method!r}, {int((~self.converged).sum())} of "
                    f"{self.instances} NOT converged)")
        s = self.summary()
        tail = f", validation={s['validation']!r}" if self.validation is not None else ""
        return (f"StoppingResult({self.method!r}, converged={s['converged']!r}, "
                f"oracle={s['oracle']!r}{tail}, instances={self.instances})")


# --------------------------------------------------------------------------- helpers


def _record_grid(record: Any) -> Any:
    """``record`` as :func:`symtransfer.simulate` takes it, at least MIN_RECORD times."""
    if isinstance(record, (int, np.integer)) and not isinstance(record, (bool, np.bool_)):
        if record < MIN_RECORD:
            raise ValueError(f"record must be >= {MIN_RECORD} recorded times to locate the "
                             f"minimum of the risk curve, got {record!r}")
        return int(record)
    try:
        times = np.asarray(record, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"record must be an integer >= {MIN_RECORD} or increasing positive "
                         f"times, got {record!r}") from None
    if times.ndim != 1 or times.size < MIN_RECORD:
        raise ValueError(f"record must hold at least {MIN_RECORD} recorded times to locate "
                         f"the minimum of the risk curve, got {record!r}")
    return times


def _fraction(val_fraction: Any, n: int) -> tuple[int, int] | None:
    """``(n_train, n_val)`` for a validation fraction in (0, 1), both at least 1."""
    if val_fraction is None:
        return None
    real = isinstance(val_fraction, (int, float, np.integer, np.floating)) \
        and not isinstance(val_fraction, (bool, np.bool_))
    if not real or not (0 < float(val_fraction) < 1):
        raise ValueError(f"val_fraction must be a number in (0, 1) (the held-out share of the "
                         f"n target samples), got {val_fraction!r}")
    n_val = int(round(float(val_fraction) * n))
    if n_val < 1 or n - n_val < 1:
        raise ValueError(f"val_fraction={val_fraction!r} of n = {n} samples leaves "
                         f"{n - n_val} to train on and {n_val} to validate on; both must be "
                         ">= 1")
    return n - n_val, n_val


def _sample_count(gamma: Any, d: Any) -> int | None:
    """n = gamma d where both are usable numbers; None otherwise (then simulate refuses them
    before any work)."""
    try:
        n = int(round(float(gamma) * int(d)))
    except (TypeError, ValueError, OverflowError):
        return None
    return n if n >= 1 else None


def _phase_reason(diagnostics: dict, K: int) -> np.ndarray:
    """The first stopping reason other than 'converged' over the phases (per instance)."""
    reason = np.full(K, "converged", dtype="<U16")
    for phase in diagnostics.values():
        if "reason" in phase:
            r = np.asarray(phase["reason"]).astype("<U16")
            reason = np.where(reason == "converged", r, reason)
    return reason


def _grid_minimum(time: np.ndarray, risk: np.ndarray, end: np.ndarray):
    """Per instance: min over the recorded risks and the endpoint, its time (inf: the
    endpoint) and grid index (-1: the endpoint)."""
    j = np.argmin(risk, axis=1)
    best = risk[np.arange(risk.shape[0]), j]
    use_end = end <= best
    return (np.where(use_end, end, best), np.where(use_end, np.inf, time[j]),
            np.where(use_end, -1, j))


def _parabola_gain(time: np.ndarray, risk: np.ndarray, j: np.ndarray) -> np.ndarray:
    """What a parabola in log-time through the three recorded points around an interior grid
    minimum says a finer grid could still gain (>= 0; 0 at the grid's ends)."""
    gain = np.zeros(risk.shape[0])
    u = np.log(time)
    for k, i in enumerate(j):
        if i <= 0 or i >= time.size - 1:
            continue
        x, y = u[i - 1:i + 2], risk[k, i - 1:i + 2]
        c2, c1, c0 = np.polyfit(x - x[1], y, 2)
        if c2 > 0:
            vertex = -c1 / (2 * c2)
            gain[k] = max(0.0, y[1] - (c0 + c1 * vertex + c2 * vertex ** 2))
    return gain


def _refined_grid(time: np.ndarray, j: np.ndarray, points: int) -> np.ndarray:
    """The union of ``points`` log-spaced times over every bracket ``[t_(j-1), t_(j+1)]`` of
    the grid minima ``j`` (``[t_0 / 100, t_1]`` for a minimum on the first time)."""
    grids = []
    for i in np.unique(j):
        lo = time[0] * 1e-2 if i == 0 else time[i - 1]
        grids.append(np.geomspace(lo, time[min(i + 1, time.size - 1)], points))
    return np.unique(np.concatenate(grids))


def _split_design(design: Design, n_train: int) -> Design:
    """The first ``n_train`` rows of a design (their own SVD)."""
    X, eps = np.ascontiguousarray(design.X[:, :n_train]), np.ascontiguousarray(
        design.eps[:, :n_train])
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    if np.any(s[:, -1] <= s[:, :1].ravel() * 1e-12):
        raise np.linalg.LinAlgError("the training split is numerically rank deficient")
    return Design(X, eps, np.ascontiguousarray(Vt.transpose(0, 2, 1)), s ** 2 / n_train,
                  np.einsum("knr,kn->kr", U, eps) / s)


def _split_run(method: str, params: dict[str, Any], times: np.ndarray, n_train: int):
    """Train ``method`` on the first ``n_train`` target rows (same data, initialization and
    pretrained weights as the full run) with the end-to-end vector recorded at ``times``.
    Returns (trajectory, endpoint beta_hat, converged, reason, design of all n rows)."""
    from .pipeline import instance_streams, pretrained, target_design

    p = params
    m = methods.get(method)
    K, d = p["instances"], p["d"]
    n = int(round(p["gamma"] * d))
    design = target_design(p["seed"], K, d, n, None)
    split = _split_design(design, n_train)
    _, beta_t = teachers(d, 0.0 if p["theta"] is None else p["theta"])
    problem = split.problem(beta_t, p["sigma"])
    streams = instance_streams(p["seed"], K)
    opt = Optimizer(p["optimizer"], p["lr"], p["batch_size"], p["epochs"], p["replacement"])
    if opt.name == "sgd" and opt.batch_size > n_train:
        raise ValueError(f"batch_size={opt.batch_size} is larger than the training split "
                         f"({n_train} rows): lower batch_size or val_fraction")
    fit = Trainer(opt, times, design=split, beta_t=beta_t, sigma=p["sigma"],
                  rngs=streams["minibatch"], keep_beta=True)
    options = dict(tol=p["tol"], max_steps=p["max_steps"], progress=p.get("progress"))
    weights = beta_source = None
    converged = np.ones(K, dtype=bool)
    diagnostics: dict = {}
    if m.pretrains:
        weights, pre = pretrained(p["seed"], K, d=d, depth=p["depth"], gamma_s=p["gamma_s"],
                                  sigma_s=p["sigma_s"], alpha=p["alpha"], init=p["init"],
                                  tol=p["tol"], max_steps=p["max_steps"],
                                  progress=p.get("progress"), mu=float(p["mu"]),
                                  covariance=None)  # the full run's key: the cached weights
        beta_source, converged = weights.end_to_end(), pre.converged
        diagnostics["pretrain"] = pre.as_dict()
    ctx = methods.Context({**p, "gamma": n_train / d}, streams, split, problem, beta_t,
                          options, weights, fit=fit, beta_source=beta_source)
    outcome = m.simulate_step(ctx)
    diagnostics.update(outcome.diagnostics)
    return (fit.trajectory, outcome.beta_hat, converged & outcome.converged,
            _phase_reason(diagnostics, K), design, beta_t)


def _validate_split(method: str, params: dict[str, Any], time: np.ndarray,
                    fractions: tuple[int, int], full_risk: np.ndarray,
                    full_end: np.ndarray) -> tuple[Validation, np.ndarray, np.ndarray]:
    n_train, n_val = fractions
    traj, beta_end, converged, reason, design, beta_t = _split_run(method, params, time,
                                                                   n_train)
    sigma = params["sigma"]
    Xv = design.X[:, n_train:]
    yv = np.einsum("knd,d->kn", Xv, beta_t) + sigma * design.eps[:, n_train:]
    beta = traj["beta"]                                                  # (K, R, d)
    loss = np.mean((np.einsum("knd,krd->krn", Xv, beta) - yv[:, None, :]) ** 2, axis=2)
    loss_end = np.mean((np.einsum("knd,kd->kn", Xv, beta_end) - yv) ** 2, axis=1)
    risk = traj["risk"]
    end = np.einsum("kd,kd->k", beta_end - beta_t, beta_end - beta_t)
    j = np.argmin(loss, axis=1)
    rows = np.arange(risk.shape[0])
    use_end = loss_end <= loss[rows, j]
    chosen = np.where(use_end, end, risk[rows, j])
    refit = np.where(use_end, full_end, full_risk[rows, j])
    oracle, _, _ = _grid_minimum(time, risk, end)
    error = np.concatenate([loss - sigma ** 2 - risk, (loss_end - sigma ** 2 - end)[:, None]],
                           axis=1)
    bound = 2 * np.abs(error).max(axis=1)
    v = Validation(n_train, n_val, chosen, np.where(use_end, np.inf, time[j]), refit, oracle,
                   end, bound, loss, risk)
    return v, converged, reason


# --------------------------------------------------------------------------- the API


def early_stopping(method: str, *, gamma: float, theta: float | None = None,
                   sigma: float = 0.0, depth: int = 2, d: int = 200, instances: int = 20,
                   seed: int = 0, record: Any = DEFAULT_RECORD, refine: int = DEFAULT_REFINE,
                   val_fraction: float | None = None, **options: Any) -> StoppingResult:
    """Risk against stopping time, the oracle-stopped risk and validation-split stopping.

    Same parameters as :func:`symtransfer.simulate` (``options``: ``gamma_s``, ``sigma_s``,
    ``alpha``, ``init``, ``tol``, ``max_steps``, ``mu``, ``optimizer``, ``lr``, ...), plus
    ``record`` (an integer K >= 8 of log-spaced times, or the times), ``refine`` (points of the
    refined grid around the minima; 0: none) and ``val_fraction`` (the held-out share of the n
    target samples for the validation rule; None: none). See the module docstring for what
    each stopping rule is. Methods: any whose simulation trains on the target with a
    trajectory ('scratch', 'finetune', 'linear' with lam=0).
    """
    from .pipeline import simulate

    if not isinstance(refine, (int, np.integer)) or isinstance(refine, (bool, np.bool_)) \
            or refine < 0 or 0 < refine < 5:
        raise ValueError(f"refine must be 0 (no refinement) or an integer >= 5, got {refine!r}")
    record = _record_grid(record)
    for name in ("record", "spectrum", "source_spectrum", "teacher"):
        if name in options:
            raise ValueError(f"{name} is not an option of early_stopping")
    kw = dict(gamma=gamma, theta=theta, sigma=sigma, depth=depth, d=d, instances=instances,
              seed=seed, **options)
    n = _sample_count(gamma, d)
    fractions = None if n is None else _fraction(val_fraction, n)  # before any work
    full = simulate(method, record=record, **kw)
    if n is None:  # simulate accepted gamma and d after all
        fractions = _fraction(val_fraction, int(round(full.params["gamma"] * full.params["d"])))
    params = dict(full.params, progress=options.get("progress"))
    time, risk = full.trajectory["time"], full.trajectory["risk"]
    end = full.errors
    converged = full.converged.copy()
    reason = _phase_reason(full.diagnostics, full.instances)
    coarse, _, j = _grid_minimum(time, risk, end)
    at_first = j == 0
    oracle, oracle_time = coarse.copy(), np.where(j < 0, np.inf, time[np.maximum(j, 0)])
    fine_time = fine_risk = None
    resolution = _parabola_gain(time, risk, j)
    if refine and np.any(j >= 0):
        inner = j >= 0
        fine_time = _refined_grid(time, j[inner], int(refine))
        again = simulate(method, record=fine_time, **kw)
        converged &= again.converged
        fine_time, fine_risk = again.trajectory["time"], again.trajectory["risk"]
        f_best, f_time, f_j = _grid_minimum(fine_time, fine_risk, np.full(end.shape, np.inf))
        better = f_best < oracle
        oracle = np.where(better, f_best, oracle)
        oracle_time = np.where(better, f_time, oracle_time)
        resolution = np.where(inner, _parabola_gain(fine_time, fine_risk, f_j), resolution)
        at_first &= ~(better & (f_j > 0))
    validation = None
    if fractions is not None:
        validation, ok, why = _validate_split(method, params, time, fractions, risk, end)
        reason = np.where(reason == "converged", why, reason)
        converged &= ok
    reason = np.where(converged, "converged", np.where(reason == "converged", "not converged",
                                                       reason))
    return StoppingResult(method, {**params, "record": record, "refine": int(refine),
                                   "val_fraction": val_fraction},
                          time, risk, end, oracle, oracle_time, coarse - oracle, resolution,
                          at_first, converged, reason, validation, fine_time, fine_risk)
