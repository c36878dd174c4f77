"""Full-batch gradient descent with a per-instance adaptive step, batched over instances.

Each iteration proposes ``p - eta g`` for every instance still training and accepts it where
the loss does not exceed the largest of the last ``MEMORY`` accepted losses (then ``eta``
grows by ``GROW``), else rejects it and halves ``eta``: a discretization of gradient flow
that needs no hand-tuned step size and is as fast as the local curvature allows. The
acceptance is non-monotone (Grippo, Lampariello & Lucidi 1986) because the ReLU loss has
kinks (a sample on a neuron's activation boundary): there every small step can raise the
loss a little, a monotone rule would stall, and a non-monotone one zig-zags along the kink
as gradient flow slides along it. A step is also capped at ``MAX_REL`` (5%) of the
parameters' norm, so the escape from the small-initialization saddle -- where the gradient
is tiny -- is a gradual growth, not a jump that would leave the feature-learning regime; eta
grows only while that cap does not bind.

Convergence: an instance stops, converged, when either

* its loss is at most ``tol`` times its reference loss, the loss of the zero predictor
  (``1/2 E y^2`` on the data, or ``1/2 E f_t^2`` on the population). Every loss minimized
  here has minimum 0: the student is wider than the teacher (realizable pretraining) and
  the target sets have ``n`` far below the number of parameters (interpolation); or
* it has reached a stationary point away from the initial saddle: gradient norm at most
  ``GTOL`` times ``sqrt(2 loss)`` (the residual's size) with the loss below 99% of the
  reference. ReLU networks on a few samples do get stuck in such non-interpolating minima
  (a neuron cannot flip the sign of its readout without passing through zero); they are
  genuine endpoints of gradient descent, reported as such (``stationary=True`` in the
  statistics). At the small initialization the relative gradient is ~alpha, far above
  GTOL, so the start is never mistaken for one.

An instance that reaches ``max_steps`` iterations, whose step collapses below ``MIN_ETA``,
or whose loss is not finite, is flagged ``converged=False`` and never silently reported as a
number (:class:`symtransfer.mc.result.SimulationResult` refuses to average it).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .student import Student

TOL = 1e-4           # relative loss at which training stops
MAX_STEPS = 20_000   # iterations (accepted or rejected proposals) per instance
ETA0 = 0.05          # first step size
GROW, SHRINK = 1.2, 0.5
MAX_REL = 0.05       # largest step, relative to the parameters' norm
MIN_ETA = 1e-12
MEMORY = 8          # non-monotone acceptance window
GTOL = 1e-6          # relative gradient norm of a stationary point

LossFn = Callable[[Student, np.ndarray], tuple[np.ndarray, tuple[np.ndarray, ...]]]


@dataclass
class TrainStats:
    """Per-instance outcome of one training phase."""

    converged: np.ndarray
    stationary: np.ndarray
    steps: np.ndarray
    loss: np.ndarray
    seconds: float

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"converged": self.converged, "stationary": self.stationary,
                "steps": self.steps, "loss": self.loss,
                "seconds": np.full(self.converged.shape, self.seconds)}


def _norms(arrays) -> np.ndarray:
    return np.sqrt(sum(np.square(a).reshape(a.shape[0], -1).sum(axis=1) for a in arrays))


def train(student: Student, loss_fn: LossFn, reference: np.ndarray, *, tol: float = TOL,
          max_steps: int = MAX_STEPS, label: str = "train",
          progress: bool | None = None) -> TrainStats:
    """Minimize ``loss_fn`` in place from ``student``'s parameters.

    loss_fn(student_subset, index) returns (loss (k,), gradients (dW, dv, db)) for the
    instances ``index`` (the subset holds their parameters). reference (K,): the loss that
    ``tol`` is relative to.
    """
    K = student.instances
    start = time.perf_counter()
    everyone = np.arange(K)
    loss, grads = loss_fn(student, everyone)
    grads = list(grads)
    eta = np.full(K, ETA0)
    history = np.repeat(loss[:, None], MEMORY, axis=1)
    steps = np.zeros(K, dtype=np.int64)
    stationary = np.zeros(K, dtype=bool)
    converged = loss <= tol * reference
    failed = ~np.isfinite(loss)
    bar = _bar(progress, label, K)
    try:
        while True:
            active = np.flatnonzero(~converged & ~failed & (steps < max_steps))
            if active.size == 0:
                break
            cur = student.take(active)
            g = [gr[active] for gr in grads]
            gnorm = _norms(g)
            pnorm = _norms(cur.arrays)
            step = eta[active]
            capped = step * gnorm > MAX_REL * pnorm
            step = np.where(capped, MAX_REL * pnorm / np.maximum(gnorm, 1e-300), step)
            trial = Student(*(p - _bcast(step, p) * gr for p, gr in zip(cur.arrays, g)))
            new_loss, new_grads = loss_fn(trial, active)
            ok = np.isfinite(new_loss) & (new_loss <= history[active].max(axis=1))
            steps[active] += 1
            acc = active[ok]
            for full, part in zip(student.arrays, trial.arrays):
                full[acc] = part[ok]
            for full, part in zip(grads, new_grads):
                full[acc] = part[ok]
            loss[acc] = new_loss[ok]
            history[acc] = np.roll(history[acc], 1, axis=1)
            history[acc, 0] = loss[acc]
            eta[acc] = np.where(capped[ok], eta[acc], eta[acc] * GROW)
            eta[active[~ok]] *= SHRINK
            flat = ((_norms(new_grads)[ok] <= GTOL * np.sqrt(2 * loss[acc]))
                    & (loss[acc] <= 0.99 * reference[acc]))
            stationary[acc] = flat & (loss[acc] > tol * reference[acc])
            converged[acc] = (loss[acc] <= tol * reference[acc]) | flat
            failed |= eta < MIN_ETA
            _update(bar, int(converged.sum() + failed.sum()))
    finally:
        if bar is not None:
            bar.close()
    return TrainStats(converged & ~failed, stationary & ~failed, steps, loss,
                      time.perf_counter() - start)


def _bcast(x: np.ndarray, like: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape + (1,) * (like.ndim - 1))


def _bar(progress: bool | None, label: str, total: int):
    if progress is False:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label, unit="instance", delay=0 if progress else 2.0,
                leave=False)


def _update(bar, done: int) -> None:
    if bar is not None and done != bar.n:
        bar.update(done - bar.n)
