"""Finite-step optimizers: full-batch gradient descent and minibatch SGD, and trajectories.

Both act on the loss gradient flow integrates (:mod:`symtransfer.mc.data`),

    Loss(W) = (1/2n) |X W_1 ... W_L - y|^2        (halved mean squared error),

so ``lr`` is the step on this normalization. The mean squared error without the 1/2
(``(1/n)|X beta - y|^2``, PyTorch's ``MSELoss``) has twice the gradient: its step ``lr'`` is
``lr = 2 lr'`` here. The authors' protocol (lr 0.01 for 5000 epochs in transfer, 0.1 for 10000
from scratch) is ``optimizer="gd", lr=..., epochs=...`` (times 2 if their loss is the plain MSE).

* ``"gd"``: ``W_l <- W_l - lr dLoss/dW_l``, all layers at once, one step per epoch.
* ``"sgd"``: the same with the loss of a minibatch B, ``(1/2|B|) |X_B beta - y_B|^2``; an epoch is
  ``ceil(n / batch_size)`` steps. Without replacement an epoch is a fresh permutation of the n
  rows cut into consecutive batches (the last one smaller when batch_size does not divide n);
  with replacement every batch is ``batch_size`` i.i.d. uniform rows. Every instance draws from
  its own stream (``"minibatch"`` of :func:`symtransfer.mc.pipeline.instance_streams`), so an
  instance's run does not depend on the instances beside it. A batch of all n rows without
  replacement is the full batch: its gradient is computed as gd's (same numbers, bit for bit).

The gradient is the network's own (:func:`symtransfer.mc.gradient_flow._pullback`: rank-1
factors ``p_l v_(l+1)^T`` per layer) and a step queues them with coefficient ``-lr``
(:mod:`symtransfer.mc.lowrank`), never forming ``X W_1``. The first layer is held in the row
space of X (:class:`~symtransfer.mc.network.Trainable`); a minibatch gradient
``X_B^T r_B p^T`` also lies there (the rows of X_B are rows of X), so ``P_perp W_1`` is frozen
under gd and sgd exactly as under the flow (``derivations/optimizers.py``).

**Stopping.** As for the flow: converged when ``|z - z*| <= tol`` (z the row-space coordinates of
beta_hat, z* the minimizer of the full training loss), checked after every step. Otherwise the
reason is ``"max_steps"`` (the budget: ``epochs`` if given, else ``max_steps`` steps) or
``"diverged"``: the error became non-finite or grew past ``DIVERGENCE`` times
``max(1, initial error)``, or ``lr`` is above the stability bound ``2 / lambda_max`` of the
(Gauss-Newton) loss Hessian (:func:`stability_bound`) at the first point (then the instance is
not run at all) or at the last one (a minimum with a larger step is unstable: the run can only
oscillate, or it escaped to a flatter region by a catapult, which is not the small-step
dynamics this module compares with the flow). Such runs are never averaged. The smaller of
the two bounds is reported per instance as ``diagnostics[phase]["lr_bound"]``.

**Trajectories** (``simulate(record=...)``): :class:`Recorder` keeps the state at given times
(gd/sgd: whole steps, time = lr x steps; the flow: :func:`flow_recorded`; linear transfer: the
readout's flow in closed form, :func:`readout_trajectory`). **Endpoints**:
:func:`imbalanced_endpoint` predicts a fine-tuning run's endpoint from the imbalance it ends
with (exact for flow, gd and sgd), :func:`shift_bound` and :func:`risk_shift_estimate` are the
first-order closed forms in lr (derived in ``derivations/optimizers.py``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .data import Problem
from .gradient_flow import TrainStats, _jjt, _pullback, _sq, train
from .network import Trainable, Weights

OPTIMIZERS = ("flow", "gd", "sgd")
#: an error above this multiple of max(1, initial error) is divergence
DIVERGENCE = 1e3
#: default time span of ``record=K`` for the flow: K log-spaced times in [T_FIRST, T_LAST]
T_FIRST, T_LAST = 1e-2, 1e4


@dataclass(frozen=True)
class Optimizer:
    """A validated optimizer choice (see the module docstring)."""

    name: str = "flow"
    lr: float | None = None
    batch_size: int | None = None
    epochs: int | None = None
    replacement: bool = False

    def steps_per_epoch(self, n: int) -> int:
        return 1 if self.name != "sgd" else math.ceil(n / self.batch_size)

    def budget(self, n: int, max_steps: int) -> int:
        """Total steps: ``epochs`` epochs if given, else ``max_steps`` steps (whole epochs)."""
        per = self.steps_per_epoch(n)
        epochs = self.epochs if self.epochs is not None else max(1, max_steps // per)
        return epochs * per

    def settings(self) -> dict[str, Any]:
        """The values a :class:`SimulationResult` records in ``params``."""
        return dict(optimizer=self.name, lr=self.lr, batch_size=self.batch_size,
                    epochs=self.epochs, replacement=self.replacement)


def validate(optimizer: Any, *, lr: Any, batch_size: Any, epochs: Any, replacement: Any,
             n: int, method: str, ridge: bool) -> Optimizer:
    """Check the optimizer arguments of :func:`symtransfer.simulate`; ValueError names the
    parameter. ``n``: target samples; ``ridge``: the scratch learner is closed-form ridge."""
    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if not isinstance(replacement, (bool, np.bool_)):
        raise ValueError(f"replacement must be True or False, got {replacement!r}")
    if optimizer == "flow":
        for name, value in (("lr", lr), ("batch_size", batch_size), ("epochs", epochs)):
            if value is not None:
                raise ValueError(f"{name} is a setting of optimizer='gd' or 'sgd'; "
                                 f"optimizer='flow' (gradient flow) takes {name}=None")
        if replacement:
            raise ValueError("replacement is a setting of optimizer='sgd'")
        return Optimizer()
    if method == "linear" or ridge:
        raise ValueError(f"optimizer={optimizer!r} trains the network; method={method!r} "
                         "solves its last step in closed form (use optimizer='flow')")
    real = isinstance(lr, (int, float, np.integer, np.floating)) \
        and not isinstance(lr, (bool, np.bool_))
    if not real or not (math.isfinite(float(lr)) and float(lr) > 0):
        raise ValueError(f"lr must be a finite number > 0 for optimizer={optimizer!r}, "
                         f"got {lr!r}")
    if epochs is not None:
        epochs = _integer("epochs", epochs, 1, None)
    if optimizer == "gd":
        if batch_size is not None:
            raise ValueError("batch_size is a setting of optimizer='sgd' (gd uses all n "
                             "samples every step)")
        if replacement:
            raise ValueError("replacement is a setting of optimizer='sgd'")
        return Optimizer("gd", float(lr), None, epochs, False)
    if batch_size is None:
        raise ValueError("optimizer='sgd' needs batch_size (1 <= batch_size <= n)")
    batch_size = _integer("batch_size", batch_size, 1, n)
    return Optimizer("sgd", float(lr), batch_size, epochs, bool(replacement))


def _integer(name: str, value: Any, lo: int, hi: int | None) -> int:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not ok or value < lo or (hi is not None and value > hi):
        span = f">= {lo}" if hi is None else f"in [{lo}, {hi}] (n = {hi} samples)"
        raise ValueError(f"{name} must be an integer {span}, got {value!r}")
    return int(value)


def record_times(record: Any, opt: Optimizer, total_steps: int) -> np.ndarray | None:
    """The times at which ``record`` asks for the state: an integer K gives K log-spaced
    times (gd/sgd: steps 1 .. budget, time = lr * steps, repeated steps dropped; flow:
    [T_FIRST, T_LAST]); an increasing 1-d array of positive times is taken as given (gd/sgd
    round them to whole steps). Flow time and gd time ``lr * steps`` are the same clock."""
    if record is None:
        return None
    if isinstance(record, (int, np.integer)) and not isinstance(record, (bool, np.bool_)):
        K = _integer("record", record, 1, None)
        if opt.name == "flow":
            return np.geomspace(T_FIRST, T_LAST, K)
        steps = np.unique(np.round(np.geomspace(1, total_steps, K)).astype(int))
        return steps * opt.lr
    try:
        times = np.asarray(record, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"record must be an integer K >= 1 or increasing positive times, "
                         f"got {record!r}") from None
    if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)) \
            or np.any(times <= 0) or np.any(np.diff(times) <= 0):
        raise ValueError("record must be an integer K >= 1 or a 1-d increasing array of "
                         f"positive finite times, got {record!r}")
    if opt.name != "flow":
        steps = np.unique(np.maximum(np.round(times / opt.lr), 1).astype(int))
        return steps * opt.lr
    return times


# --------------------------------------------------------------------------- stability


def sharpness(net: Trainable, iterations: int = 100) -> np.ndarray:
    """Largest eigenvalue of the Gauss-Newton Hessian ``J^T Lambda J`` at the current point
    (K,), by power iteration on the r x r matrix ``Lambda^(1/2) J J^T Lambda^(1/2)`` (same
    nonzero spectrum) with the flow's Jacobian products (:func:`gradient_flow._jjt`). At an
    interpolating minimum it is the Hessian's largest eigenvalue."""
    z, vs = net.forward()
    root = np.sqrt(net.problem.curvature)
    x = np.ones_like(z) / np.sqrt(z.shape[1])
    top = np.zeros(z.shape[0])
    for _ in range(iterations):
        y = root * _jjt(net, vs, root * x)
        top = np.einsum("kr,kr->k", x, y)
        x = y / np.sqrt(np.maximum(_sq(y), 1e-300))[:, None]
    return top


def stability_bound(weights: Weights, problem: Problem) -> np.ndarray:
    """``2 / sharpness``: the largest stable gd step at ``weights`` on ``problem`` (K,)."""
    return 2.0 / sharpness(Trainable(weights, problem))


# --------------------------------------------------------------------------- minibatches


class Minibatches:
    """Per-instance minibatch index streams (see the module docstring)."""

    def __init__(self, rngs: Sequence[np.random.Generator], n: int, batch_size: int,
                 replacement: bool) -> None:
        self.rngs, self.n, self.b, self.replacement = list(rngs), n, batch_size, replacement
        self.per_epoch = math.ceil(n / batch_size)
        self.step = 0
        self.order: list[np.ndarray] = []

    def next(self) -> list[np.ndarray]:
        """The row indices of the next batch, one array per instance."""
        j = self.step % self.per_epoch
        self.step += 1
        if self.replacement:
            return [rng.integers(0, self.n, self.b) for rng in self.rngs]
        if j == 0:
            self.order = [rng.permutation(self.n) for rng in self.rngs]
        return [o[j * self.b:(j + 1) * self.b] for o in self.order]


@dataclass
class _Data:
    """The target rows in row-space coordinates: ``A = X V`` (K, n, r) and labels y (K, n)."""

    A: np.ndarray
    y: np.ndarray

    @classmethod
    def of(cls, X: np.ndarray, y: np.ndarray, problem: Problem) -> "_Data":
        return cls(np.matmul(X, problem.basis), np.asarray(y))

    def gradient_z(self, z: np.ndarray, rows: list[np.ndarray]) -> np.ndarray:
        """``dLoss_B/dz = A_B^T (A_B z - y_B) / |B|`` per instance."""
        idx = np.stack(rows)  # every instance's batch has the same size
        A = np.take_along_axis(self.A, idx[:, :, None], axis=1)          # (K, b, r)
        r = np.einsum("kbr,kr->kb", A, z) - np.take_along_axis(self.y, idx, axis=1)
        return np.einsum("kbr,kb->kr", A, r) / idx.shape[1]


# --------------------------------------------------------------------------- recording


class Recorder:
    """Keeps, at given times, per instance: the excess training loss, the test risk
    ``|beta_hat - beta_t|^2``, the distance to the gradient-flow endpoint (when one is given)
    and the Frobenius norms of the imbalances ``W_l^T W_l - W_(l+1) W_(l+1)^T``
    (l = 1 .. L-1; gradient flow conserves them, :mod:`derivations.optimizers`);
    with ``keep_beta`` also the end-to-end vector itself (``beta``, (K, R, d): early stopping
    evaluates it on held-out data, :mod:`symtransfer.mc.stopping`)."""

    def __init__(self, times: np.ndarray, beta_t: np.ndarray, keep_beta: bool = False) -> None:
        self.times, self.beta_t = np.asarray(times, dtype=float), beta_t
        self.rows: list[dict[str, np.ndarray]] = []
        self.endpoint: np.ndarray | None = None
        self.keep_beta = keep_beta

    def take(self, net: Trainable) -> None:
        beta = net.end_to_end()
        z, _ = net.forward()
        row = {"loss": net.problem.loss(z),
               "risk": _sq(beta - self.beta_t),
               "imbalance": imbalance_norms(net),
               "trace_imbalance": trace_imbalances(net)}
        if self.endpoint is not None:
            row["distance"] = np.sqrt(_sq(beta - self.endpoint))
        if self.keep_beta:
            row["beta"] = beta
        self.rows.append(row)

    def result(self) -> dict[str, np.ndarray]:
        """``time`` (R,), ``loss``/``risk``/``distance`` (K, R), ``imbalance`` and
        ``trace_imbalance`` (K, R, L-1): the Frobenius norms of the imbalances and their traces
        ``|W_l|_F^2 - |W_(l+1)|_F^2`` (signed; for rank-1 weights the norm is its modulus)."""
        out = {"time": self.times[:len(self.rows)]}
        for key in self.rows[0]:
            out[key] = np.stack([row[key] for row in self.rows], axis=1)
        return out


def _current(layer) -> np.ndarray:
    """A queued layer's current value without folding the queue (so recording leaves the
    arithmetic of the run unchanged)."""
    c = layer.count
    if not c:
        return layer.base
    return layer.base + np.einsum("kc,kcm,kcn->kmn", layer.coef[:, :c], layer.left[:, :c],
                                  layer.right[:, :c])


def layer_grams(net: Trainable) -> list[np.ndarray]:
    """``W_l^T W_l`` (l = 1 .. L-1) and ``W_L W_L^T`` as (K, d, d) arrays; for W_1 from its
    frozen null-space part and its row-space coordinates: ``W_1^T W_1 = F^T F - (V^T F)^T
    (V^T F) + R^T R`` (F the frozen starting value, R = V^T W_1)."""
    first = _current(net.first)
    gram = np.matmul(first.transpose(0, 2, 1), first)
    if net.frozen is not None:
        F = net.frozen
        VF = np.matmul(net.problem.basis.transpose(0, 2, 1), F)
        gram = gram + np.matmul(F.transpose(0, 2, 1), F) - np.matmul(VF.transpose(0, 2, 1), VF)
    grams = [gram] + [np.matmul(M.transpose(0, 2, 1), M) for M in map(_current, net.middle)]
    last = net.last
    return grams + [np.einsum("ki,kj->kij", last, last)]


def outer_grams(net: Trainable) -> list[np.ndarray]:
    """``W_l W_l^T`` for l = 2 .. L (the other side of each imbalance)."""
    outs = [np.matmul(M, M.transpose(0, 2, 1)) for M in map(_current, net.middle)]
    last = net.last
    return outs + [np.einsum("ki,kj->kij", last, last)]


def trace_imbalances(net: Trainable) -> np.ndarray:
    """``tr(W_l^T W_l - W_(l+1) W_(l+1)^T) = |W_l|_F^2 - |W_(l+1)|_F^2``, (K, L-1)."""
    norms = [np.einsum("kii->k", g) for g in layer_grams(net)]
    return np.stack([a - b for a, b in zip(norms[:-1], norms[1:])], axis=1)


def imbalance_norms(net: Trainable) -> np.ndarray:
    """``|W_l^T W_l - W_(l+1) W_(l+1)^T|_F`` for l = 1 .. L-1, (K, L-1)."""
    inner, outer = layer_grams(net)[:-1], outer_grams(net)
    return np.stack([np.sqrt(np.einsum("kij,kij->k", a - b, a - b))
                     for a, b in zip(inner, outer)], axis=1)


# --------------------------------------------------------------------------- the loops


def descend(net: Trainable, opt: Optimizer, *, tol: float, max_steps: int,
            data: _Data | None = None, rngs: Sequence[np.random.Generator] | None = None,
            recorder: Recorder | None = None) -> TrainStats:
    """Run gd or sgd on ``net`` until every instance converges or the budget ends."""
    problem = net.problem
    K, n = problem.instances, (data.A.shape[1] if data is not None else 0)
    total = opt.budget(n, max_steps)
    full = opt.name == "gd" or (opt.batch_size == n and not opt.replacement)
    batches = None if full else Minibatches(rngs, n, opt.batch_size, opt.replacement)
    record_at = [] if recorder is None else list(np.round(recorder.times / opt.lr).astype(int))
    steps = np.zeros(K, dtype=int)
    with np.errstate(all="ignore"):
        start_bound = 2.0 / sharpness(net)
    active = ~(opt.lr > start_bound)  # unstable from the first step: not run at all
    reason = np.where(active, "max_steps", "diverged").astype("<U16")
    first_error = None
    for step in range(total + 1):
        z, vs = net.forward()
        error = np.sqrt(_sq(z - problem.target))
        if first_error is None:
            first_error = np.maximum(error, 1.0)
        blown = active & ~(np.isfinite(error) & (error <= DIVERGENCE * first_error))
        reason[blown] = "diverged"
        done = active & ~blown & (error <= tol)
        reason[done] = "converged"
        active &= ~blown & ~done
        # a stopped instance stands still: later records of it are its endpoint
        while record_at and (record_at[0] <= step or not active.any()):
            record_at.pop(0)
            recorder.take(net)
        if step == total or not active.any():
            break
        if full:
            u = problem.curvature * (z - problem.target)
        else:
            u = data.gradient_z(z, batches.next())
        _step(net, _pullback(net, z, vs, u), np.where(active, -opt.lr, 0.0))
        steps += active
    return _stats(net, steps, error, reason, tol, opt, start_bound)


def _step(net: Trainable, grad, coef: np.ndarray) -> None:
    """``W_l += coef grad_l`` in every layer (queued; folded in when the queues fill)."""
    for layer, a, b in zip(net.matrices, grad.lefts, grad.rights):
        layer.push(a, b, coef)
    net.last_layer.push(grad.lefts[-1], coef)
    if net.last_layer.count == net.last_layer.capacity:
        for layer in net.matrices:
            layer.flush()
        net.last_layer.flush()


def _stats(net: Trainable, steps: np.ndarray, error: np.ndarray, reason: np.ndarray,
           tol: float, opt: Optimizer, start_bound: np.ndarray) -> TrainStats:
    """Stopping reasons; ``lr_bound``: the smaller of the stability bounds at the first and
    the last point. An instance with ``lr`` above it is 'diverged' and not converged."""
    finite = np.isfinite(error)
    end_bound = np.full(error.shape, np.nan)
    if finite.any():
        with np.errstate(all="ignore"):
            end_bound = np.where(finite, 2.0 / sharpness(net), np.nan)
    bound = np.fmin(start_bound, end_bound)
    unstable = ~finite | (opt.lr > bound) | (reason == "diverged")
    converged = ~unstable & (error <= tol)
    reason = np.where(unstable, "diverged", np.where(converged, "converged", reason))
    z, _ = net.forward()
    stats = TrainStats(steps, error, net.problem.loss(z), converged, steps.copy(), reason,
                       steps * opt.lr)
    stats.lr_bound = bound
    return stats


def flow_recorded(net: Trainable, recorder: Recorder, options: dict[str, Any]) -> TrainStats:
    """Gradient flow with the state taken at ``recorder.times``: the flow is run to each time
    (``train(horizon=...)``), then to convergence. The integrator restarts its step control
    at every recorded time, so the endpoint agrees with an unrecorded run to the integrator's
    accuracy, not bit for bit."""
    quiet = {**options, "progress": False}
    now, steps, evaluations = 0.0, 0, 0
    for t in recorder.times:
        part = train(net, horizon=float(t - now), **quiet)
        steps, evaluations, now = steps + part.steps, evaluations + part.evaluations, t
        recorder.take(net)
    stats = train(net, **options)
    stats.steps, stats.evaluations = stats.steps + steps, stats.evaluations + evaluations
    return stats


class Trainer:
    """What :func:`symtransfer.simulate` calls to train a phase on the target: the flow
    (``train``), gd or sgd, with or without a recorder. ``reference``: the pretrained
    beta_hat_s for fine-tuning (its gradient-flow endpoint is
    :func:`~symtransfer.mc.mechanism.finetune_endpoint`), None for scratch (endpoint: the
    minimum-norm least-squares solution, gradient flow's limit from vanishing initialization).
    """

    def __init__(self, opt: Optimizer, times: np.ndarray | None, *, design, beta_t: np.ndarray,
                 sigma: float, rngs: Sequence[np.random.Generator],
                 keep_beta: bool = False) -> None:
        self.opt, self.times, self.design, self.sigma = opt, times, design, sigma
        self.beta_t, self.rngs, self.keep_beta = beta_t, rngs, keep_beta
        self.trajectory: dict[str, np.ndarray] | None = None

    def __call__(self, net: Trainable, *, label: str, reference: np.ndarray | None = None,
                 depth: int = 2, endpoint: np.ndarray | None = None,
                 **options: Any) -> TrainStats:
        """Train ``net``; ``endpoint`` (K, d), if given, is the flow's endpoint the recorder
        measures distances to (default: fine-tuning's from ``reference``, or least squares)."""
        recorder = None
        if self.times is not None:
            recorder = Recorder(self.times, self.beta_t, self.keep_beta)
            recorder.endpoint = (_flow_endpoint(net.problem, reference, depth)
                                 if endpoint is None else endpoint)
        if self.opt.name == "flow":
            # a target phase is read through beta_hat only: the early finish is held to it
            options = {"read": "end_to_end", **options}
            stats = (train(net, label=label, **options) if recorder is None
                     else flow_recorded(net, recorder, {"label": label, **options}))
        else:
            data = None if self.opt.name == "gd" else _Data.of(
                self.design.X, self.design.labels(self.beta_t, self.sigma), net.problem)
            stats = descend(net, self.opt, tol=options["tol"], max_steps=options["max_steps"],
                            data=data, rngs=self.rngs, recorder=recorder)
        if recorder is not None:
            self.trajectory = recorder.result()
        return stats


def readout_trajectory(weights: Weights, design, beta_t: np.ndarray, sigma: float,
                       times: np.ndarray, rank_tol: float,
                       rngs: Sequence[np.random.Generator],
                       keep_beta: bool = False) -> dict[str, np.ndarray]:
    """Linear transfer's trajectory, exactly: gradient flow of the readout W_L on the frozen
    features from its pretrained value. With ``beta = F W_L`` and the learned basis ``B``
    (``F F^T = B B^T`` on the learned directions, :func:`~.pipeline.learned_features`),
    ``beta = B w`` and ``dw/dt = -(G w - h)``, ``G = (XB)^T (XB)/n``, ``h = (XB)^T y/n``: so
    ``w(t) = w* + Q exp(-Lambda t) Q^T (w(0) - w*)`` (``G = Q Lambda Q^T``), ending at the
    least-squares readout that ``simulate`` fits. ``rngs``: the readout streams, fresh, so
    the basis is the one ``simulate`` used. Keys as :meth:`Recorder.result` without
    ``imbalance`` (the features do not train), with ``beta`` (K, R, d) if ``keep_beta``."""
    from .pipeline import learned_features

    X, y = design.X, design.labels(beta_t, sigma)
    n = X.shape[1]
    beta_s = weights.end_to_end()
    rows: dict[str, list[np.ndarray]] = {"loss": [], "risk": [], "distance": []}
    if keep_beta:
        rows["beta"] = []
    for k, B in enumerate(learned_features(weights.features(), rank_tol, rngs)):
        XB = X[k] @ B
        w_star = np.linalg.lstsq(XB, y[k], rcond=None)[0]
        w0 = np.linalg.lstsq(B, beta_s[k], rcond=None)[0]
        lam, Q = np.linalg.eigh(XB.T @ XB / n)
        w = w_star + (np.exp(-np.outer(times, lam)) * (Q.T @ (w0 - w_star))) @ Q.T  # (R, k)
        beta = w @ B.T
        res = w @ XB.T - y[k]
        res_star = XB @ w_star - y[k]
        rows["loss"].append(0.5 * (np.sum(res ** 2, axis=1) - res_star @ res_star) / n)
        rows["risk"].append(np.sum((beta - beta_t) ** 2, axis=1))
        rows["distance"].append(np.linalg.norm(beta - B @ w_star, axis=1))
        if keep_beta:
            rows["beta"].append(beta)
    return {"time": np.asarray(times, dtype=float),
            **{key: np.stack(value) for key, value in rows.items()}}


def _flow_endpoint(problem: Problem, reference: np.ndarray | None, depth: int) -> np.ndarray:
    from .mechanism import finetune_endpoint

    if reference is None or problem.rank >= reference.shape[1]:
        return np.einsum("kdr,kr->kd", problem.basis, problem.target)
    return finetune_endpoint(reference, problem, depth, "exact")


def diagnostics(stats: TrainStats) -> dict[str, np.ndarray]:
    """``stats.as_dict()`` plus ``lr_bound`` for gd/sgd phases."""
    out = stats.as_dict()
    if getattr(stats, "lr_bound", None) is not None:
        out["lr_bound"] = stats.lr_bound
    return out


# --------------------------------------------------------------------------- the endpoint


def imbalanced_endpoint(beta_s: np.ndarray, problem: Problem, depth: int,
                        imbalance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fine-tuning's endpoint when the run ends with trace imbalances ``imbalance`` (K, L-1)
    instead of the flow's (zero, from balanced pretrained weights): ``(beta_hat, c)``.

    Exact for any optimizer that keeps the rank-1 alignment and freezes ``P_perp W_1`` (the
    flow, gd and sgd: ``derivations/optimizers.py``). With ``W_1 = w u_2^T``,
    ``W_l = s_l u_l u_(l+1)^T``: ``s_l^2 = x + sum_(j=l)^(L-1) delta_j`` (``x = s_L^2``) and
    ``|w|^2 = s_2^2 + delta_1``; interpolation ``prod s_l P w = b`` and the frozen
    ``|P_perp w|^2 = m^2`` give ``s_2^2 + delta_1 - m^2 - |b|^2 / prod_l s_l^2 = 0``, increasing
    in x (solved by bisection; for L = 2 the root of ``q^2 + (delta - m^2) q - |b|^2``), and
    ``c = prod_l s_l / s0^(L-1)``. Zero imbalance gives
    :func:`~symtransfer.mc.mechanism.finetune_endpoint`'s exact form.
    """
    from .mechanism import _split

    b, perp = _split(problem, beta_s)
    norm_s = np.linalg.norm(beta_s, axis=1)
    s0_sq = norm_s ** (2.0 / depth)
    m_sq = s0_sq * _sq(perp) / norm_s ** 2
    b_sq = _sq(b)
    delta = np.asarray(imbalance, dtype=float).reshape(len(b_sq), depth - 1)
    c = np.array([_scale(depth, m, bb, dl, s0) for m, bb, dl, s0 in
                  zip(m_sq, b_sq, delta, s0_sq)])
    return b + c[:, None] * perp, c


def _scale(depth: int, m_sq: float, b_sq: float, delta: np.ndarray, s0_sq: float) -> float:
    """c for one instance (see :func:`imbalanced_endpoint`)."""
    tails = np.concatenate([np.cumsum(delta[1:][::-1])[::-1], [0.0]])  # sum_(j>=l) delta_j

    def excess(x: float) -> float:
        sq = x + tails  # s_2^2 .. s_L^2
        return sq[0] + delta[0] - m_sq - b_sq / np.prod(sq)

    lo = max(1e-300, -float(tails.min()) * (1 + 1e-12) + 1e-300)
    hi = max(1.0, 2 * lo)
    while excess(hi) < 0:
        hi *= 2
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if excess(mid) < 0 else (lo, mid)
    sq = 0.5 * (lo + hi) + tails
    return float(np.sqrt(np.prod(sq)) / s0_sq ** ((depth - 1) / 2))


def shift_bound(gamma: float, theta: float, sigma: float, depth: int = 2) -> float:
    """Closed-form bound, to first order in lr, of the gd fine-tuning endpoint's shift per
    unit step ``|beta_gd - beta_flow| / lr`` (population pretraining, ``|beta_s| = 1``,
    gamma < 1, asymptotic in d): ``L0 c (L-1) sqrt(1-gamma) / (2 (L kappa - (L-1)(1-gamma)))``
    with ``L0 = (2 - 2 cos(theta) + sigma^2)/2`` the initial loss, ``kappa`` the positive root of
    ``kappa^L - (1-gamma) kappa^(L-1) - B`` and ``c = kappa^((L-1)/2)``.

    From ``derivations/optimizers.py``: gd changes only the first imbalance
    ``delta_1 = |W_1|^2 - |W_2|^2``, by ``lr^2 (|G_1|^2 - |G_2|^2) >= 0`` per step, so to first
    order ``0 <= delta_1 <= lr (L0 - L_end)`` (the flow dissipates ``sum_l |G_l|^2``), and
    ``dc/d delta_1 = -c (L-1) / (2 (L kappa - (L-1) m^2))``. The shift is along
    ``P_perp beta_s`` (norm ``sqrt(1-gamma)``). A bound, not the value: the part
    ``lr int |G_2|^2 dt`` of the loss dissipated through the other layers does not drift. In
    runs it is nearly attained: at d = 100 (gamma = 0.5, theta = pi/4, sigma = 0.2, lr = 0.01)
    the measured ``Delta / (lr L0)`` is 0.95 .. 1.01 per run (L0 that run's initial loss).
    """
    from .._roots import positive_root

    B = gamma + sigma ** 2 * gamma / (1 - gamma)
    a = 1 - gamma
    kappa = float(positive_root(depth, a, B))
    c = kappa ** ((depth - 1) / 2)
    loss0 = (2 - 2 * math.cos(theta) + sigma ** 2) / 2
    return loss0 * c * (depth - 1) * math.sqrt(a) / (2 * (depth * kappa - (depth - 1) * a))


def risk_shift_estimate(gamma: float, theta: float, sigma: float, depth: int = 2) -> float:
    """First-order closed-form estimate of ``d(risk)/d lr`` of gd fine-tuning (same setting as
    :func:`shift_bound`): the risk's null-space part ``(1-gamma)(c^2 - 2 c cos(theta) + 1)``
    (derivations/finetune.py with ``N_s = 1, O_s = cos(theta)``) changes by
    ``(1-gamma) 2 (c - cos(theta)) dc`` with ``dc = -lr L0 c (L-1)/(2 (L kappa - (L-1)(1-gamma)))``
    at the estimate ``Delta = lr L0`` of the drift (an upper bound on |Delta| at first order)."""
    from .._roots import positive_root

    a = 1 - gamma
    B = gamma + sigma ** 2 * gamma / a
    kappa = float(positive_root(depth, a, B))
    c = kappa ** ((depth - 1) / 2)
    loss0 = (2 - 2 * math.cos(theta) + sigma ** 2) / 2
    dc = -loss0 * c * (depth - 1) / (2 * (depth * kappa - (depth - 1) * a))
    return a * 2 * (c - math.cos(theta)) * dc
