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


def _flat(arrays) -> np.ndarray:
    """The arrays of K instances (leading axis) side by side: (K, total size per instance)."""
    return np.concatenate([a.reshape(a.shape[0], -1) for a in arrays], axis=1)


def _layout(arrays) -> list[tuple[int, int, tuple[int, ...]]]:
    """(start, stop, shape) of each array of one instance in the flat (K, N) layout."""
    out, start = [], 0
    for a in arrays:
        size = int(np.prod(a.shape[1:], dtype=np.int64))
        out.append((start, start + size, a.shape[1:]))
        start += size
    return out


def _unflat(flat: np.ndarray, layout) -> Student:
    """Views of ``flat`` (k, N) shaped as a Student's arrays (k,) + shape."""
    k = flat.shape[0]
    return Student(*(flat[:, a:b].reshape((k,) + shape) for a, b, shape in layout))


def _row_norms(flat: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", flat, flat))


def train(student: Student, loss_fn: LossFn, reference: np.ndarray, *, tol: float = TOL,
          max_steps: int = MAX_STEPS, label: str = "train",
          progress: bool | None = None) -> TrainStats:
    """Minimize ``loss_fn`` in place from ``student``'s parameters.

    loss_fn(student_subset, index) returns (loss (k,), gradients (dW, dv, db)) for the
    instances ``index`` (the subset holds their parameters). reference (K,): the loss that
    ``tol`` is relative to.

    The parameters and gradients of all instances are kept as one (K, N) array each, so an
    iteration costs a few array operations whatever the number of parameter arrays; while
    every instance trains, no subset is copied.
    """
    K = student.instances
    start = time.perf_counter()
    layout = _layout(student.arrays)
    everyone = np.arange(K)
    params = _flat(student.arrays)
    loss, grads = loss_fn(_unflat(params, layout), everyone)
    grads = _flat(grads)
    gnorms, pnorms = _row_norms(grads), _row_norms(params)  # kept current at each acceptance
    eta = np.full(K, ETA0)
    history = np.repeat(loss[:, None], MEMORY, axis=1)  # the last accepted losses (a ring)
    slot = np.zeros(K, dtype=np.int64)
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
            whole = active.size == K
            cur, g = (params, grads) if whole else (params[active], grads[active])
            gnorm, pnorm = gnorms[active], pnorms[active]
            step = eta[active]
            capped = step * gnorm > MAX_REL * pnorm
            step = np.where(capped, MAX_REL * pnorm / np.maximum(gnorm, 1e-300), step)
            trial = cur - step[:, None] * g
            new_loss, new_grads = loss_fn(_unflat(trial, layout), active)
            new_grads = _flat(new_grads)
            ok = np.isfinite(new_loss) & (new_loss <= history[active].max(axis=1))
            steps[active] += 1
            acc = active[ok]
            params[acc] = trial[ok]
            grads[acc] = new_grads[ok]
            pnorms[acc] = _row_norms(params[acc])
            gnorms[acc] = _row_norms(grads[acc])
            loss[acc] = new_loss[ok]
            history[acc, slot[acc]] = loss[acc]
            slot[acc] = (slot[acc] + 1) % MEMORY
            eta[acc] = np.where(capped[ok], eta[acc], eta[acc] * GROW)
            eta[active[~ok]] *= SHRINK
            flat = ((gnorms[acc] <= GTOL * np.sqrt(2 * loss[acc]))
                    & (loss[acc] <= 0.99 * reference[acc]))
            stationary[acc] = flat & (loss[acc] > tol * reference[acc])
            converged[acc] = (loss[acc] <= tol * reference[acc]) | flat
            failed |= eta < MIN_ETA
            if bar is not None:
                _update(bar, int(converged.sum() + failed.sum()))
    finally:
        if bar is not None:
            bar.close()
        for full, part in zip(student.arrays, _unflat(params, layout).arrays):
            full[...] = part
    return TrainStats(converged & ~failed, stationary & ~failed, steps, loss,
                      time.perf_counter() - start)


def _bar(progress: bool | None, label: str, total: int):
    if progress is False:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label, unit="instance", delay=0 if progress else 2.0,
                leave=False)


def _update(bar, done: int) -> None:
    if bar is not None and done != bar.n:
        bar.update(done - bar.n)
