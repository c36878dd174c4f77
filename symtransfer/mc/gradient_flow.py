"""Gradient flow on a deep linear network: explicit integrators with per-instance steps.

Two integrators, both explicit and both using nothing but gradients of the training loss and
the data's curvatures (the simulator is the theory's independent check: nothing it computes
comes from a prediction):

* ``scheme="rkc"`` (default): the second-order Runge-Kutta-Chebyshev method
  (:mod:`symtransfer.mc.rkc`) with adaptive steps under local error control. Gradient flow's
  Jacobian is minus the loss Hessian, a real spectrum in ``[-rho, |lambda_-|]``; RKC with s
  stages is stable for ``h rho <= 0.64 (s^2 - 1)``, so a step costs ~ ``sqrt(h rho)`` gradients
  and the cost to converge grows like ``sqrt(kappa)`` (kappa: the data's condition number)
  instead of ``kappa``. The step h of every instance is set by its own error estimate
  ``|est| <= rtol |w| + atol`` (Frobenius norms over all layers; ``rtol = atol = accuracy``,
  default 3e-6) with the elementary controller ``h <- h min(4, max(0.2, 0.8 err^(-1/3)))``;
  rejected steps are retried from the same point. Every instance has its own step and stage
  count (the batch runs the most stages any instance needs; the others stand still after
  theirs), so an instance's result does not depend on the instances beside it.
  **Finish.** Once ``|z - z*| <= finish`` (default 1e-2) the flow is in its linear regime and
  the rest is done by Gauss-Newton steps ``W <- W - J^T (J J^T)^{-1} (z - z*)``: gradient flow on
  the linearized loss ends exactly at this minimum-norm correction in weight space, whatever
  the curvatures, so the finish is independent of the condition number and its distance to
  the flow's endpoint is second order in the residual (``J J^T`` is solved by conjugate
  gradients; it is well conditioned even where the data are not). Both the error control and
  the finish use only the loss and its Jacobian, nothing from the theory.
  **Early finish** (depth 2, per instance; :class:`_EarlyFinish`): that second-order term is
  computed (the null-space displacement ``n`` by which the curved flow path differs from the
  straight Gauss-Newton one, exact at second order from one r x r eigendecomposition) and
  added before the Gauss-Newton steps, which leaves a fourth-order remainder
  (tests/test_integrator.py measures both against tightly integrated continuations of the
  flow). An instance finishes early, from ``|z - z*| <= 0.3`` down, once the remainder's
  estimate (from the measured n: on the weights, or on beta_hat with ``read="end_to_end"``,
  which the target phases use) is below ``accuracy (1 + |z*|)``, and where a trial is worth
  its eigendecomposition (ill-conditioned runs; well-conditioned ones keep the plain finish);
  where n >= d and only beta_hat is read the finish cannot move beta_hat off the flow's
  endpoint (z = z* fixes it: no null space) and needs no estimate. The plain finish at
  ``finish`` stays the fallback (and ``early_finish=False`` restores it alone); it is biased by its second-order term (~2.5e-5 on beta_hat at
  gamma = 0.5, d = 100, seen when the integration is tightened: at the default accuracy it
  happens to cancel part of RKC's own error).
* ``scheme="heun"``: Heun's method with the fixed rule ``eta = step_scale / H``,
  ``H = lam_max sum_l prod_{k != l} |W_k|_F^2`` (lam_max the data's largest curvature), kept
  for comparison (tests/test_integrator.py compares the two instance by instance);
  ``scheme="euler"`` is plain gradient descent, which breaks the conservation laws by O(eta).

**Spectral radius.** RKC's stage count comes from an upper bound of the loss Hessian's
spectral radius (never an estimate that could fall short): the Gauss-Newton part ``J^T Lam J``
bounded layer by layer, with the first layer's rows weighted by the data's curvatures,

    rho <= lam_max |v_2|^2 + |Lam^(1/2) W_1|_F^2 sum_{l>=2} |v_{l+1}|^2 prod_{1<k<l} |W_k|_F^2
           + (L-1) |g| max_l |W_l|_F^(L-2)

(``v_l = W_l ... W_L``, ``g = dLoss/dz``; the last term bounds the residual part), and the
first two terms sharpened by splitting ``W_1`` along ``v_2`` (its rank-1 part ``z v_2^T/|v_2|^2``
is known from ``z = W_1 v_2``): ``lambda_max(|v_2|^2 Lam + |v_3|^2 a a^T)`` by a secular
equation, plus the trace of the rest (:func:`_hessian_bound`). Near the threshold the
weights lie along small-curvature directions; there ``lam_max sum_l prod_{k != l} |W_k|_F^2``
(Heun's H) is ~2x the true radius, the weighted bound ~1.2x, the split one ~1.0x: 30% fewer
stages. ``|Lam^(1/2) W_1|_F`` is exact from the low-rank queue
(:meth:`LowRankUpdated.frobenius2`) and ``|W_l|_F^2`` from gradient flow's conservation of
``|W_l|_F^2 - |W_{l+1}|_F^2``, so no decision depends on when queues are flushed. Where the
plain bound already asks for only 2 stages it is used as it is (same stage count, less
work). Both integrators cap the first steps at ``max_relative_step`` of the weights' norm
(the escape from the small-initialization saddle, where H is tiny).

**Shrinking batch.** The batch runs the most stages any of its instances needs (the others
stand still after theirs), and every instance until it stops. When the instances still
training are at most 75% of the batch, they continue as a batch of their own (weights and
queues copied; written back at the end), so the cost near the threshold follows the
instances that need it rather than the slowest one. The arithmetic is per instance, so no
instance's result depends on the instances beside it (tests/test_integrator.py).

**Convergence criterion.** The end-to-end vector's row-space coordinates z are compared with
the exact minimizer z* of the data's loss (known from the SVD): converged when
``|z - z*| <= tol`` (default 1e-6, far below the Monte-Carlo error of any risk). Instances that
reach ``max_steps`` steps or ``max_evaluations`` gradient evaluations (default 4 max_steps), or
diverge, are reported as not converged with the reason in ``TrainStats.reason``; they are
never silently averaged.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import rkc
from .network import Trainable

TOL = 1e-6
MAX_STEPS = 100_000
EVALUATIONS_PER_STEP = 4  # default budget of gradient evaluations: 4 max_steps
ACCURACY = 3e-6
FINISH = 1e-2
SCHEMES = ("rkc", "heun", "euler")
READS = ("weights", "end_to_end")


@dataclass
class TrainStats:
    """Per-instance diagnostics of one training phase.

    ``steps``: integrator steps taken while the instance was training (rejected RKC steps
    included); ``evaluations``: gradient evaluations (Jacobian products of the Gauss-Newton
    finish included); ``reason``: why training stopped ('converged', 'max_steps',
    'max_evaluations', 'diverged', 'gauss_newton' (the finish did not reach tol) or
    'horizon'); ``time``: the flow time reached.
    """

    steps: np.ndarray
    error: np.ndarray
    loss: np.ndarray
    converged: np.ndarray
    evaluations: np.ndarray | None = None
    reason: np.ndarray | None = None
    time: np.ndarray | None = None

    def as_dict(self) -> dict[str, np.ndarray]:
        out = {"steps": self.steps, "error": self.error, "loss": self.loss,
               "converged": self.converged}
        if self.evaluations is not None:
            out["evaluations"] = self.evaluations
        if self.reason is not None:
            out["reason"] = self.reason
        if self.time is not None:
            out["time"] = self.time
        return out


def _curvature_bound(norms: list[np.ndarray]) -> np.ndarray:
    """sum_l prod_{k != l} N_k, by prefix and suffix products (no division by N_l)."""
    L = len(norms)
    prefix = [np.ones_like(norms[0])]
    for N in norms[:-1]:
        prefix.append(prefix[-1] * N)
    total = np.zeros_like(norms[0])
    suffix = np.ones_like(norms[0])
    for l in range(L - 1, -1, -1):
        total += prefix[l] * suffix
        suffix = suffix * norms[l]
    return total


@dataclass
class _Gradient:
    """Gradient of the loss at the current weights, as rank-1 factors per layer."""

    z: np.ndarray               # V^T beta_hat, (K, r)
    lefts: list[np.ndarray]     # p_l: (K, r) for layer 1, (K, d) for the others and the last
    rights: list[np.ndarray]    # v_{l+1} = W_{l+1} ... W_L for layers 1 .. L-1
    _norm2: np.ndarray | None = None

    @property
    def norm2(self) -> np.ndarray:
        """|grad|^2 over all layers (computed when first asked for)."""
        if self._norm2 is None:
            self._norm2 = sum(_sq(a) * _sq(b) for a, b in zip(self.lefts[:-1], self.rights)) \
                + _sq(self.lefts[-1])
        return self._norm2


def _gradient(net: Trainable) -> _Gradient:
    """dLoss/dW_l = p_l v_{l+1}^T with p_1 = dLoss/dz and p_{l+1} = W_l^T p_l."""
    z, vs = net.forward()
    return _pullback(net, z, vs, net.problem.curvature * (z - net.problem.target))


def _pullback(net: Trainable, z: np.ndarray, vs: list[np.ndarray], u: np.ndarray) -> _Gradient:
    """``J^T u`` (J = dz/dweights at the current point) as rank-1 factors per layer:
    ``p_1 v_2^T, ..., p_{L-1} v_L^T, p_L`` with p_1 = u, p_{l+1} = W_l^T p_l. With
    ``u = dLoss/dz`` it is the gradient."""
    lefts = [u]
    q = net.first.rmatvec(u)
    for layer in net.middle:
        lefts.append(q)
        q = layer.rmatvec(q)
    lefts.append(q)
    return _Gradient(z, lefts, vs)


def _sq(x: np.ndarray) -> np.ndarray:
    return np.einsum("ki,ki->k", x, x)


class _Flow:
    """The weights of ``net`` as ``base + sum_c coef[:, c] grad_c``: every gradient evaluated
    is queued (as rank-1 factors) in all layers at once, and a point of the integrator (a
    stage, a trial, the next step) is a coefficient vector over the queued gradients."""

    def __init__(self, net: Trainable) -> None:
        self.net = net
        self.layers = net.matrices
        for layer in self.layers:
            layer.flush()
        net.last_layer.flush()
        self.coef = np.zeros((net.problem.instances, 0))
        last2 = _sq(net.last)
        self.offsets = [layer.base_norm ** 2 - last2 for layer in self.layers]

    @property
    def count(self) -> int:
        return self.coef.shape[1]

    def take(self, rows: np.ndarray, net: Trainable) -> "_Flow":
        """The flow of the instances ``rows``, on ``net = self.net.take(rows)`` (queues kept)."""
        new = object.__new__(_Flow)
        new.net, new.layers = net, net.matrices
        new.coef = self.coef[rows]
        new.offsets = [o[rows] for o in self.offsets]
        return new

    def first_weighted2(self) -> np.ndarray:
        """``|Lam^(1/2) W_1|_F^2`` exactly (rows weighted by the data's curvatures)."""
        return self.net.first.frobenius2(weighted=True)

    def push(self, grad: _Gradient) -> int:
        """Queue a gradient (coefficient 0 at the current point); returns its index."""
        for layer, a, b in zip(self.layers, grad.lefts, grad.rights):
            layer.push(a, b)
        index = self.net.last_layer.push(grad.lefts[-1])
        self.coef = np.concatenate([self.coef, np.zeros((self.coef.shape[0], 1))], axis=1)
        return index

    def set(self, coef: np.ndarray) -> None:
        """Move to the point ``base + sum_c coef[:, c] grad_c`` (coef may be wider)."""
        self.coef = np.array(coef[:, :self.count])
        for layer in self.layers:
            layer.set_coefficients(self.coef)
        self.net.last_layer.set_coefficients(self.coef)

    def flush(self, keep: np.ndarray) -> None:
        """Fold the current point into the bases; keep the gradients ``keep`` queued."""
        for layer in self.layers:
            layer.flush(keep)
        self.net.last_layer.flush(keep)
        self.coef = np.zeros((self.coef.shape[0], len(keep)))

    def gram(self, index: np.ndarray) -> np.ndarray:
        """(K, t, t): Frobenius inner products of the queued gradients ``index``, all layers."""
        G = self.net.last_layer.term_grams(index)
        for layer in self.layers:
            G = G + layer.term_grams(index)
        return G

    def norms2(self) -> list[np.ndarray]:
        """Upper bounds of |W_l|_F^2 per layer (exact for the last layer)."""
        return [layer.norm_bound() ** 2 for layer in self.layers] + [_sq(self.net.last)]

    def flow_norms2(self) -> list[np.ndarray]:
        """|W_l|_F^2 per layer from the last layer's norm and gradient flow's conservation of
        ``|W_l|_F^2 - |W_{l+1}|_F^2`` (the trace of ``W_l^T W_l - W_{l+1} W_{l+1}^T``; the
        frozen null-space part of W_1 is constant by itself). Exact along the flow, and
        unlike :meth:`norms2` independent of when the queues are flushed, so the integrator's
        decisions for an instance do not depend on the instances beside it."""
        last2 = _sq(self.net.last)
        return [np.maximum(last2 + offset, 0.0) for offset in self.offsets] + [last2]


def _spectral_radius(norms2: list[np.ndarray], g: np.ndarray, lam_max: np.ndarray) -> np.ndarray:
    """Upper bound of the loss Hessian's spectral radius by Frobenius norms: cheap, and
    above :func:`_hessian_bound`; where it asks for only 2 RKC stages, so does the other."""
    L = len(norms2)
    biggest = np.sqrt(np.max(norms2, axis=0))
    return lam_max * _curvature_bound(norms2) + (L - 1) * np.sqrt(_sq(g)) * biggest ** (L - 2)


def _hessian_bound(norms2: list[np.ndarray], v2: np.ndarray, first_weighted2: np.ndarray,
                   g: np.ndarray, lam_max: np.ndarray, z: np.ndarray | None = None,
                   curvature: np.ndarray | None = None) -> np.ndarray:
    """Upper bound of the loss Hessian's spectral radius (module docstring):

        rho <= lam_max |v_2|^2 + |Lam^(1/2) W_1|_F^2 sum_{l=2}^{L} |v_{l+1}|^2 prod_{k=2}^{l-1}
               |W_k|_F^2  +  (L-1) |g| max_l |W_l|_F^(L-2),

    the sum over layers of the largest eigenvalues of ``Lam^(1/2) J_l J_l^T Lam^(1/2)`` (the
    Gauss-Newton part J^T Lam J, J_l = dz/dW_l: ``J_1 J_1^T = |v_2|^2 I``, ``J_l J_l^T =
    |v_{l+1}|^2 M_l M_l^T`` with ``M_l = W_1 ... W_{l-1}``), then the residual part. Weighting
    W_1's rows by the curvatures lam_i (instead of lam_max) matters where the weights lie
    along small-curvature directions, as they do near the threshold. ``v2`` (K, L-1): |v_l|^2
    for l = 2..L at the current point (v_{L+1} = 1).

    With ``z = W_1 v_2`` and the curvatures given, the first two blocks are bounded together:
    ``W_1 = (z/|v_2|) u^T + R`` (u = v_2/|v_2|, R u = 0) splits ``Lam^(1/2) W_1 W_1^T Lam^(1/2)``
    into the rank-1 ``a a^T`` (``a = Lam^(1/2) z/|v_2|``) plus a psd rest of trace
    ``|Lam^(1/2) W_1|_F^2 - |a|^2``, and ``lambda_max(|v_2|^2 Lam + |v_3|^2 a a^T)`` is the root
    of a secular equation (:func:`_rank_one_top`): where W_1 is aligned with v_2 (as gradient
    flow from a small initialization makes it) this is the Gauss-Newton part's exact radius
    instead of ~1.2x it."""
    L = len(norms2)
    tail3 = v2[:, 1] if L > 2 else np.ones_like(v2[:, 0])
    if z is None:
        rho = lam_max * v2[:, 0] + first_weighted2 * tail3
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            a2 = np.where(v2[:, :1] > 0, curvature * z * z / v2[:, :1], 0.0)
        rest = np.maximum(first_weighted2 - a2.sum(axis=1), 0.0)
        rho = _rank_one_top(curvature * v2[:, :1], tail3[:, None] * a2) + tail3 * rest
    prefix = norms2[1] if L > 2 else None
    for l in range(3, L + 1):
        tail = v2[:, l - 1] if l < L else 1.0
        rho = rho + first_weighted2 * prefix * tail
        prefix = prefix * norms2[l - 1]
    biggest = np.sqrt(np.max(norms2, axis=0))
    return rho + (L - 1) * np.sqrt(_sq(g)) * biggest ** (L - 2)


def _rank_one_top(diag: np.ndarray, a2: np.ndarray, iterations: int = 4) -> np.ndarray:
    """An upper bound of ``lambda_max(diag(d) + a a^T)`` per row (d = ``diag``, ``a2 = a^2``).

    Above ``max d`` the eigenvalue is the root of the secular function ``f(mu) = sum_i a2_i /
    (mu - d_i) - 1``, convex and decreasing there. It is bracketed by ``lo`` (a Rayleigh
    quotient, below it) and ``hi = max d + |a|^2`` (above it); Newton steps from ``lo`` stay
    below the root and chords through ``(lo, f(lo))`` and ``(hi, f(hi))`` stay above it (a
    convex function lies below its chords and above its tangents), so ``hi`` is an upper
    bound at every iteration. Where f has no root above ``max d``, the eigenvalue is ``max d``
    and ``hi`` stays above it."""
    top = diag.max(axis=1)
    norm2 = a2.sum(axis=1)
    hi = top + norm2

    def f(mu):
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = mu[:, None] - diag
            return (a2 / gap).sum(axis=1) - 1.0, (a2 / (gap * gap)).sum(axis=1)

    with np.errstate(divide="ignore", invalid="ignore"):
        rayleigh = np.where(norm2 > 0, (a2 * diag).sum(axis=1) / norm2 + norm2, top)
    lo = np.fmax(rayleigh, (diag + a2).max(axis=1))
    lo = np.minimum(np.where(lo > top, lo, top + 1e-9 * np.maximum(norm2, 1e-300)), hi)
    f_lo, df_lo = f(lo)
    f_hi, _ = f(hi)
    for _ in range(iterations):
        done = ~(f_lo > 0) | ~(f_hi < 0) | ~(hi > lo)
        with np.errstate(divide="ignore", invalid="ignore"):
            chord = hi - f_hi * (hi - lo) / (f_hi - f_lo)
            newton = lo + f_lo / df_lo
        hi = np.where(done | ~np.isfinite(chord), hi, np.minimum(chord, hi))
        lo = np.where(done | ~np.isfinite(newton), lo, np.clip(newton, lo, hi))
        f_lo, df_lo = f(lo)
        f_hi, _ = f(hi)
    # f(lo) <= 0 means the root (if any) is below lo: lo bounds the eigenvalue too
    return np.where(f_lo <= 0, np.minimum(lo, hi), hi) * (1.0 + 1e-12)


def _v_norms2(grad: _Gradient) -> np.ndarray:
    """|v_l|^2 (K, L-1) for l = 2..L from a gradient's right factors."""
    return np.stack([_sq(v) for v in grad.rights], axis=1)


def _relative_cap(norms2: list[np.ndarray], grad_norm2: np.ndarray, fraction: float):
    with np.errstate(divide="ignore", invalid="ignore"):
        return fraction * np.sqrt(sum(norms2) / grad_norm2)


def train(net: Trainable, *, tol: float = TOL, max_steps: int = MAX_STEPS,
          max_evaluations: int | None = None, scheme: str = "rkc",
          accuracy: float = ACCURACY, step_scale: float = 1.5, max_relative_step: float = 0.05,
          max_stages: int = 400, finish: float = FINISH, early_finish: bool | str = True,
          read: str = "weights", horizon: float | None = None,
          progress: bool | None = None, label: str = "training") -> TrainStats:
    """Integrate gradient flow on ``net`` until every instance converges, or a budget ends.

    ``scheme``: 'rkc' (default; ``accuracy`` sets its error control, ``max_stages`` caps the
    stages per step, ``finish`` the residual below which Gauss-Newton steps end the run, 0 for
    none; ``early_finish`` lets instances finish earlier where the finish's measured error
    allows, judged on what the caller ``read``s: 'weights' or 'end_to_end' (beta_hat only),
    and where a trial is worth its cost; ``"always"``: whatever the cost, for tests),
    'heun' (``step_scale``/H steps) or 'euler'; see the module docstring.
    ``max_evaluations``: budget of gradient evaluations per instance (default
    ``4 max_steps``: a Heun step costs 2, an RKC step its stage count).
    ``horizon``: stop every instance at this time of the flow instead (for comparing
    integrators at equal times; no Gauss-Newton finish then); ``TrainStats.time`` says where
    each instance stopped.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if read not in READS:
        raise ValueError(f"read must be one of {READS}, got {read!r}")
    if not (isinstance(early_finish, (bool, np.bool_)) or early_finish == "always"):
        raise ValueError(f"early_finish must be True, False or 'always', got {early_finish!r}")
    bar = _progress_bar(progress, tol, label)
    horizon = np.inf if horizon is None else float(horizon)
    if max_evaluations is None:
        max_evaluations = EVALUATIONS_PER_STEP * max_steps
    try:
        if scheme == "rkc":
            stats = _rkc(net, tol=tol, max_steps=max_steps, max_evaluations=max_evaluations,
                         max_relative_step=max_relative_step, bar=bar, accuracy=accuracy,
                         max_stages=max_stages, finish=finish if np.isinf(horizon) else 0.0,
                         horizon=horizon, early_finish=early_finish, read=read)
        else:
            stats = _fixed_step(net, tol=tol, max_steps=max_steps,
                                max_evaluations=max_evaluations,
                                max_relative_step=max_relative_step, bar=bar,
                                step_scale=step_scale, heun=scheme == "heun", horizon=horizon)
        if bar is not None and bool(np.all(stats.converged)):
            bar.n = 100  # every instance reached tol (the last steps may skip ticks)
            bar.refresh()
        return stats
    finally:
        if bar is not None:
            bar.close()


def _finish(net: Trainable, grad: _Gradient, error: np.ndarray, steps: np.ndarray,
            evaluations: np.ndarray, reason: np.ndarray, tol: float,
            time: np.ndarray) -> TrainStats:
    converged = np.isfinite(error) & (error <= tol)
    reason = np.where(converged, "converged", reason)
    return TrainStats(steps, error, net.problem.loss(grad.z), converged, evaluations, reason,
                      time)


def _fixed_step(net: Trainable, *, tol: float, max_steps: int, max_evaluations: int,
                max_relative_step: float, bar, step_scale: float, heun: bool,
                horizon: float) -> TrainStats:
    """Heun (``W <- W - eta/2 (g(W) + g(W - eta g(W)))``) or Euler, ``eta = step_scale/H``."""
    problem = net.problem
    lam_max = problem.curvature.max(axis=1)
    K = problem.instances
    flow = _Flow(net)
    steps = np.zeros(K, dtype=int)
    evaluations = np.zeros(K, dtype=int)
    active = np.ones(K, dtype=bool)
    reason = np.full(K, "max_steps", dtype="<U16")
    per_step = 2 if heun else 1
    time = np.zeros(K)
    for step in range(max_steps + 1):
        grad = _gradient(net)
        error = np.sqrt(_sq(grad.z - problem.target))
        reason[active & ~np.isfinite(error)] = "diverged"
        arrived = time >= horizon * (1 - 1e-12)
        reason[active & arrived] = "horizon"
        active &= np.isfinite(error) & (error > tol) & ~arrived
        if evaluations.max(initial=0) + per_step > max_evaluations:
            reason[active] = "max_evaluations"
            break
        if not active.any() or step == max_steps:
            break
        if flow.count + 2 > 32:
            flow.flush(np.zeros(0, dtype=int))
        norms2 = flow.norms2()
        eta = step_scale / (lam_max * _curvature_bound(norms2))
        eta = np.fmin(eta, _relative_cap(norms2, grad.norm2, max_relative_step))
        eta = np.where(active, np.fmin(eta, horizon - time), 0.0)
        time += eta
        start = flow.coef
        i0 = flow.push(grad)
        point = np.concatenate([start, np.zeros((K, 1))], axis=1)
        point[:, i0] = -eta
        flow.set(point)
        if heun:
            predicted = _gradient(net)  # at W' = W - eta g(W)
            flow.push(predicted)
            point = np.concatenate([start, -eta[:, None] / 2, -eta[:, None] / 2], axis=1)
            flow.set(point)
        steps += active
        evaluations += per_step * active
        _tick(bar, step, active, error)
    return _finish(net, grad, error, steps, evaluations, reason, tol, time)


COMPACT = 0.75  # the batch shrinks to the instances still training when <= 75% of it


def _rkc(net: Trainable, *, tol: float, max_steps: int, max_evaluations: int,
         max_relative_step: float, bar, accuracy: float, max_stages: int,
         finish: float, horizon: float, early_finish: bool | str = True,
         read: str = "weights") -> TrainStats:
    """Adaptive second-order Runge-Kutta-Chebyshev integration (module docstring), finished
    by Gauss-Newton steps once ``|z - z*| <= finish`` (0: no finish), or earlier per instance
    where the measured error of the finish allows it (:class:`_EarlyFinish`)."""
    final_tol = tol
    tol = max(tol, finish)
    K = net.problem.instances
    early = _EarlyFinish(net, final_tol, accuracy, read, early_finish == "always") if (
        early_finish and finish > 0 and final_tol < tol and not net.middle) else None
    flow = _Flow(net)
    grad = _gradient(net)
    f0 = np.full(K, flow.push(grad))       # index of each instance's gradient at its point
    state = dict(
        f0=f0, error=np.sqrt(_sq(grad.z - net.problem.target)),
        g=grad.lefts[0],  # dLoss/dz per instance, at its current point
        z=grad.z, v2=_v_norms2(grad),
        steps=np.zeros(K, dtype=int), evaluations=np.ones(K, dtype=int),
        active=np.ones(K, dtype=bool), reason=np.full(K, "max_steps", dtype="<U16"),
        time=np.zeros(K), ids=np.arange(K),
        rung=early.first_rungs() if early is not None else np.full(K, -np.inf))
    norms2 = flow.flow_norms2()
    lam_max = net.problem.curvature.max(axis=1)
    rho = _hessian_bound(norms2, state["v2"], flow.first_weighted2(), state["g"], lam_max,
                         state["z"], net.problem.curvature)
    state["h"] = np.fmin(1.0 / rho, _relative_cap(norms2, grad.norm2, max_relative_step))
    state["h_floor"] = 1e-12 * state["h"]
    _rkc_steps(net, flow, state, 0, tol=tol, max_steps=max_steps,
               max_evaluations=max_evaluations, bar=bar, accuracy=accuracy,
               max_stages=max_stages, horizon=horizon, early=early)
    if early is not None:
        early.write_back(net)
    error, evaluations, reason = state["error"], state["evaluations"], state["reason"]
    grad = _Gradient(state["z"], [], [])
    if final_tol < tol:
        flow = _Flow(net)
        ready = np.isfinite(error) & (error <= tol)
        error = np.where(ready, _gauss_newton(net, flow, ready, final_tol, evaluations), error)
        reason[ready & (error > final_tol)] = "gauss_newton"
        grad = _select(ready, _gradient(net), grad)
    return _finish(net, grad, error, state["steps"], evaluations, reason, final_tol,
                   state["time"])


def _rkc_steps(net: Trainable, flow: _Flow, state: dict, first_step: int, *, tol: float,
               max_steps: int, max_evaluations: int, bar, accuracy: float, max_stages: int,
               horizon: float, early: "_EarlyFinish | None" = None) -> None:
    """RKC steps on the batch ``net`` until every instance stops (updates ``state``, the
    per-instance arrays, in place). When the instances still training are at most COMPACT of
    the batch, they continue as a batch of their own (:meth:`Trainable.take`, the queues
    copied along) and are written back at the end: the cost per stage follows the instances
    that need it, and no instance's numbers change (the arithmetic is per instance)."""
    problem = net.problem
    lam_max = problem.curvature.max(axis=1)
    K = problem.instances
    rows = np.arange(K)
    h, f0, error, g = state["h"], state["f0"], state["error"], state["g"]
    steps, evaluations, active = state["steps"], state["evaluations"], state["active"]
    reason, time, h_floor, v2 = state["reason"], state["time"], state["h_floor"], state["v2"]
    z = state["z"]
    norms2 = flow.flow_norms2()
    step = first_step
    for step in range(first_step, max_steps + 1):
        bad = active & ~(np.isfinite(error) & np.isfinite(h) & (h > h_floor))
        reason[bad] = "diverged"
        arrived = time >= horizon * (1 - 1e-12)
        reason[active & arrived] = "horizon"
        active &= ~bad & (error > tol) & ~arrived
        if not active.any() or step == max_steps:
            break
        if K > 1 and active.sum() <= COMPACT * K:
            break  # continue with the instances still training (below)
        # the weighted bound (a pass over the queue) only where the plain Frobenius bound,
        # which is larger, asks for more than the minimum of 2 stages: elsewhere both give 2
        rho = _spectral_radius(norms2, g, lam_max)
        need = active & (h * rho > rkc.stability_bound(2))
        if need.any():
            rho = np.where(need, _hessian_bound(norms2, v2, flow.first_weighted2(), g, lam_max,
                                                z, problem.curvature),
                           rho)
        h = np.fmin(h, rkc.stability_bound(max_stages) / rho)
        # the last step lands on the horizon (the controller's h is kept for nothing after it)
        h = np.where(active, np.where(time + h >= horizon * (1 - 1e-12), horizon - time, h), 0.0)
        stages = np.where(active, rkc.stages_for(h * rho), 0)
        over = active & (evaluations + stages > max_evaluations)
        reason[over] = "max_evaluations"
        active &= ~over
        h = np.where(active, h, 0.0)
        if not active.any():
            break
        s = int(stages.max())
        if flow.count + s > 48:
            keep = np.unique(f0[active])
            remap = np.full(flow.count, -1)
            remap[keep] = np.arange(len(keep))
            flow.flush(keep)
            f0 = np.where(remap[f0] >= 0, remap[f0], 0)
        mu, nu, mu_t, gamma_t = _stage_table(np.maximum(stages, 2), s)
        width = flow.count + s
        start = np.zeros((K, width))
        start[:, :flow.count] = flow.coef
        F0 = np.zeros((K, width))
        F0[rows, f0] = -1.0  # F = -grad
        prev2, prev = start, start + (mu_t[:, 1] * h)[:, None] * F0
        for j in range(2, s + 1):
            flow.set(prev)
            i = flow.push(_gradient(net))
            cur = ((1 - mu[:, j] - nu[:, j])[:, None] * start + mu[:, j, None] * prev
                   + nu[:, j, None] * prev2)
            cur[:, i] -= mu_t[:, j] * h
            cur += (gamma_t[:, j] * h)[:, None] * F0
            prev2, prev = prev, cur
        flow.set(prev)
        new = _gradient(net)
        i_new = flow.push(new)
        # error estimate 0.8 (y_n - y_{n+1}) + 0.4 h (F(y_n) + F(y_{n+1})) as coefficients
        est = 0.8 * (start - prev) + 0.4 * h[:, None] * F0
        est[:, i_new] -= 0.4 * h
        used = np.flatnonzero(np.any(est != 0.0, axis=0))
        est = est[:, used]
        gram = flow.gram(used)
        est_norm = np.sqrt(np.maximum(np.einsum("ki,kij,kj->k", est, gram, est), 0.0))
        weights_norm = np.sqrt(sum(norms2))
        err = est_norm / (accuracy * weights_norm + accuracy)
        new_error = np.sqrt(_sq(new.z - problem.target))
        ok = active & np.isfinite(err) & (err <= 1.0) & np.isfinite(new_error)
        with np.errstate(divide="ignore"):
            factor = np.clip(0.8 * err ** (-1.0 / 3.0), 0.2, 4.0)
        factor = np.where(np.isfinite(err), factor, 0.1)
        point = np.where(ok[:, None], prev, start)
        flow.set(point)
        time = np.where(ok, time + h, time)
        f0 = np.where(ok, i_new, f0)
        before, error = error, np.where(ok, new_error, error)
        g = np.where(ok[:, None], new.lefts[0], g)
        z = np.where(ok[:, None], new.z, z)
        v2 = np.where(ok[:, None], _v_norms2(new), v2)
        norms2 = flow.flow_norms2()
        h = np.where(active, h * np.where(ok, factor, np.fmin(factor, 0.5)), h)
        steps += active
        evaluations += stages
        if early is not None:
            due = ok & (error <= state["rung"]) & (error > tol)
            if due.any():
                # the evaluations left to the plain finish at the last step's pace
                with np.errstate(divide="ignore", invalid="ignore"):
                    left = stages * np.log(error / tol) / np.log(before / error)
                error = early.attempt(net, np.flatnonzero(due), state, error, z,
                                      np.where(before > error, left, np.inf))
                active &= error > tol
        _tick(bar, step, active, error)
    state.update(h=h, f0=f0, error=error, g=g, time=time, z=z, v2=v2)
    if active.any() and K > 1 and active.sum() <= COMPACT * K and step < max_steps:
        live = np.flatnonzero(active)
        keep = np.unique(f0[live])
        remap = np.full(flow.count, -1)
        remap[keep] = np.arange(len(keep))
        flow.flush(keep)
        state["f0"] = np.where(remap[f0] >= 0, remap[f0], 0)
        sub = net.take(live)
        sub_state = {key: value[live] for key, value in state.items()}
        _rkc_steps(sub, flow.take(live, sub), sub_state, step, tol=tol, max_steps=max_steps,
                   max_evaluations=max_evaluations, bar=bar, accuracy=accuracy,
                   max_stages=max_stages, horizon=horizon, early=early)
        net.put(live, sub)
        for key, value in sub_state.items():
            state[key][live] = value


EARLY_START = 0.3   # the first residual at which an instance tries the early finish
EARLY_SAFETY = 8.0  # over the measured constant of the remainder's estimate (~2.5)
EARLY_REGIME = 0.1  # the second-order term must be below this fraction of the weights' norm
EARLY_N = 0.3  # |n| ~ 0.3 e_0^2 |theta| / 1.4 (measured, d = 60 - 200): where to try first


class _EarlyFinish:
    """The Gauss-Newton finish before ``|z - z*| <= FINISH``, where its measured error allows
    it (depth 2; per instance; module docstring).

    At a residual e_0 = ``|z - z*|`` the flow's endpoint differs from the Gauss-Newton
    endpoint by ``n + O(e_0^3)``: linearized gradient flow from ``theta_0`` moves along
    ``-J_0^T c(t)``, ``c(t) = int_0^t Lam r(s) ds``, ``r(t) = exp(-A Lam t) e_0``
    (``A = J_0 J_0^T``), and the flow's curvature adds the null-space part (``J_0 n = 0``)

        n = P_N (M W_1, m w),   M = int_0^inf c'(t) c(t)^T dt,   m = |c(inf)|^2 / 2,

    which the straight Gauss-Newton path misses (W_1 in row-space coordinates, w = W_2). In
    the eigenbasis ``B = Lam^(1/2) A Lam^(1/2) = U diag(b) U^T`` it is exact:
    ``M = P S P^T`` with ``P = Lam^(1/2) U``, ``f = U^T Lam^(1/2) e_0``,
    ``S_ij = f_i f_j / (b_i (b_i + b_j))`` (one symmetric eigendecomposition, r x r). The
    finish adds n, then runs Gauss-Newton; what is left is of higher order (measured: ~e_0^4,
    tests/test_integrator.py). On beta_hat only
    the null-space part of the frozen first layer sees the last layer's error
    (``beta = V z + P_perp W_1 w`` and Gauss-Newton fixes z = z*): the plain finish misses
    ``P_perp W_1 n_w`` and the corrected one, measured on runs against tightly integrated
    references, ~2.5 ``|P_perp W_1 n_w| |n| / |theta|`` (on the weights, ``read="weights"``,
    ~1.9 ``|n|^2 / |theta|``, and the same safety). An instance finishes early when
    ``EARLY_SAFETY`` times that is below ``accuracy (1 + |z*|)`` (where the data leave no null
    space, n = d, the estimate is 0 and no eigendecomposition is needed), ``|n| <=
    EARLY_REGIME |theta|``, and the finish, run on a copy of the instance, reaches ``tol``;
    otherwise it keeps flowing and tries again at the residual where the estimate (fourth
    order in e_0) is predicted to pass, or ends at FINISH with the plain finish as before.
    Where it first tries (:meth:`first_rungs`) and whether a trial is worth its
    eigendecomposition (the flow left to FINISH, at the last step's pace, against two
    trials) only set the cost: the decision to finish rests on the measured n.
    Everything is per instance: no instance's finish depends on the instances beside it."""

    def __init__(self, net: Trainable, tol: float, accuracy: float, read: str,
                 always: bool = False) -> None:
        problem = net.problem
        self.tol, self.accuracy, self.read = tol, accuracy, read
        self.frozen = net.frozen if problem.basis is not None and problem.rank < \
            problem.basis.shape[1] else None
        # where only beta_hat is read and the data leave no null space, the finish's error is 0
        self.exact = read == "end_to_end" and self.frozen is None
        self.basis = problem.basis
        self.curvature, self.target = problem.curvature, problem.target
        self.done: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        # a trial (an eigendecomposition, r^3 flops, compute-bound, and a Gauss-Newton finish
        # on a copy, ~1.5 ms of fixed overhead) costs ~0.35 r^2/d + 1.2e6/(r d) gradients (r d
        # each, memory-bound; measured 74 at d = 200, r = 100, 90 at r = 190, 64 - 135 at
        # d = 500, r = 250 - 450): tried where the flow to the plain finish would cost more
        # than two trials (the cost, not the result, depends on it)
        r, d = problem.rank, net.first.shape[2]
        self.trial_cost = 0.0 if always else 0.35 * r * r / d + 1.2e6 / (r * d)
        self.last = net.last

    def first_rungs(self) -> np.ndarray:
        """The residual of each instance's first try: EARLY_START, or lower where the frozen
        null-space part ``P_perp W_1`` (its gain on the last layer at the start, ``|P_perp W_1
        w| / |w|``) is large enough that the estimate would fail there (``|n| ~ EARLY_N
        e_0^2`` for weights of norm ~1): only where to look first; whether to finish is
        decided on the measured n."""
        K = len(self.target)
        if self.exact:
            return np.full(K, EARLY_START)
        scale = self.accuracy * (1.0 + np.sqrt(_sq(self.target)))
        if self.read == "weights":
            null = np.ones(K)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                null = np.sqrt(_sq(self._null_part(np.arange(K), self.last)) / _sq(self.last))
        with np.errstate(divide="ignore"):
            guess = (scale / (EARLY_SAFETY * EARLY_N ** 2 * null)) ** 0.25
        return np.clip(guess, FINISH, EARLY_START)

    def attempt(self, net: Trainable, rows: np.ndarray, state: dict, error: np.ndarray,
                z: np.ndarray, left: np.ndarray) -> np.ndarray:
        """Try the finish for the instances ``rows`` of the batch ``net`` (indices into it);
        returns the batch's errors, updated where an instance finished (its weights are kept
        for :meth:`write_back`; the flow leaves it standing still). ``left``: the batch's
        predicted evaluations to the plain finish (a trial is not worth more)."""
        ids = state["ids"][rows]
        evaluations = state["evaluations"]
        if not self.exact:  # a trial costs an eigendecomposition: not where it saves less
            rows = rows[left[rows] >= 2 * self.trial_cost]
            ids = state["ids"][rows]
            if not rows.size:
                return error
        sub = net.take(rows)
        W, w = sub.first.dense(), sub.last
        theta = np.sqrt(_sq(W.reshape(len(rows), -1)) + _sq(w))
        scale = self.accuracy * (1.0 + np.sqrt(_sq(self.target[ids])))
        if self.exact:
            estimate, regime = np.zeros(len(rows)), np.ones(len(rows), dtype=bool)
        else:
            dW, dw = _second_order(W, w, self.curvature[ids], z[rows] - self.target[ids])
            n = np.sqrt(_sq(dW.reshape(len(rows), -1)) + _sq(dw))
            missed = n if self.read == "weights" else np.sqrt(_sq(self._null_part(ids, dw)))
            estimate = EARLY_SAFETY * missed * n / theta
            regime = n <= EARLY_REGIME * theta
            sub.first.base += dW
            sub.first._base_norms()
            sub.last_layer.base = sub.last_layer.base + dw
            sub.last_layer._value = None
        ready = regime & (estimate <= scale)
        if ready.any():
            spent = np.zeros(len(rows), dtype=int)
            finished = _gauss_newton(sub, _Flow(sub), ready, self.tol, spent)
            evaluations[rows] += spent
            ready &= np.isfinite(finished) & (finished <= self.tol)
            W, w = sub.first.dense(), sub.last
            for j in np.flatnonzero(ready):
                self.done[int(ids[j])] = (W[j].copy(), w[j].copy())
            error = error.copy()
            error[rows[ready]] = finished[ready]
        # the next try: where the estimate (fourth order in the residual) would pass
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(regime & (estimate > 0), 0.8 * (scale / estimate) ** 0.25, 0.5)
        rung = state["rung"]
        rung[rows] = np.where(ready, -np.inf, error[rows] * np.clip(factor, 0.05, 0.5))
        return error

    def _null_part(self, ids: np.ndarray, x: np.ndarray) -> np.ndarray:
        """``P_perp W_1 x`` (the frozen null-space part of the first layer) per instance."""
        Fx = np.einsum("kij,kj->ki", self.frozen[ids], x)
        V = self.basis[ids]
        return Fx - np.einsum("kdr,kr->kd", V, np.einsum("kdr,kd->kr", V, Fx))

    def write_back(self, net: Trainable) -> None:
        """Put the finished instances' weights into ``net`` (the top-level batch)."""
        if not self.done:
            return
        ids = np.array(sorted(self.done))
        net.first.flush()
        net.last_layer.flush()
        net.first.base[ids] = np.stack([self.done[i][0] for i in ids])
        net.first._base_norms()
        net.last_layer.base[ids] = np.stack([self.done[i][1] for i in ids])
        net.last_layer._value = None
        self.done.clear()


def _second_order(W: np.ndarray, w: np.ndarray, curvature: np.ndarray,
                  e0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The null-space term ``n = (dW, dw)`` by which gradient flow's endpoint differs from the
    Gauss-Newton endpoint at second order (:class:`_EarlyFinish`), depth 2: W (k, r, d) in
    row-space coordinates, w (k, d), the curvatures and the residual e_0 (k, r)."""
    r = W.shape[1]
    A = np.matmul(W, W.transpose(0, 2, 1))
    A[:, np.arange(r), np.arange(r)] += _sq(w)[:, None]
    root = np.sqrt(curvature)
    b, U = np.linalg.eigh(root[:, :, None] * A * root[:, None, :])
    f = np.einsum("kri,kr->ki", U, root * e0)
    S = f[:, :, None] * f[:, None, :] / (b[:, :, None] * (b[:, :, None] + b[:, None, :]))
    P = root[:, :, None] * U
    z = np.einsum("krd,kd->kr", W, w)
    MW = np.matmul(P, np.matmul(S, np.matmul(P.transpose(0, 2, 1), W)))
    Mz = np.einsum("kri,ki->kr", P, np.einsum("kij,kj->ki", S, np.einsum("kri,kr->ki", P, z)))
    c = np.einsum("kri,ki->kr", P, f / b)  # c(inf) = A^-1 e_0
    m = 0.5 * _sq(c)
    q = np.linalg.solve(A, (Mz + m[:, None] * z)[:, :, None])[:, :, 0]
    dW = MW - q[:, :, None] * w[:, None, :]
    dw = m[:, None] * w - np.einsum("krd,kr->kd", W, q)
    return dW, dw


def _jjt(net: Trainable, vs: list[np.ndarray], u: np.ndarray) -> np.ndarray:
    """``J J^T u = |v_2|^2 u + sum_{l=2}^{L-1} |v_{l+1}|^2 M_l M_l^T u + M_L M_L^T u`` with
    ``M_l = W_1 W_2 ... W_{l-1}`` (W_1 in row-space coordinates): Jacobian products only."""
    back = _pullback(net, None, vs, u)
    out = _sq(vs[0])[:, None] * u
    L = len(net.middle) + 2
    for l in range(2, L + 1):
        x = back.lefts[l - 1]  # M_l^T u
        for layer in reversed(net.middle[:l - 2]):
            x = layer.matvec(x)
        Mx = net.first.matvec(x)
        out += (_sq(vs[l - 1])[:, None] * Mx) if l < L else Mx
    return out


def _conjugate_gradient(apply, b: np.ndarray, rtol: float,
                        max_iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Batched CG for SPD systems ``apply(x) = b`` (one system per row); returns x and the
    iterations each row took (a row stands still once it has converged, so its result and
    its count do not depend on the rows beside it)."""
    x = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    rs = _sq(r)
    goal = (rtol ** 2) * rs
    iterations = np.zeros(b.shape[0], dtype=int)
    for _ in range(max_iterations):
        moving = rs > goal
        if not moving.any():
            break
        iterations += moving
        Ap = apply(p)
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = np.where(moving, rs / _sq_dot(p, Ap), 0.0)
        x += alpha[:, None] * p
        r -= alpha[:, None] * Ap
        rs_new = _sq(r)
        with np.errstate(divide="ignore", invalid="ignore"):
            beta = np.where(moving, rs_new / rs, 0.0)
        p = np.where(moving[:, None], r + beta[:, None] * p, p)
        rs = np.where(moving, rs_new, rs)
    return x, iterations


def _sq_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ki,ki->k", a, b)


def _gauss_newton(net: Trainable, flow: _Flow, todo: np.ndarray, tol: float,
                  evaluations: np.ndarray, max_iterations: int = 8) -> np.ndarray:
    """Finish in the linear regime: ``W <- W - J^T (J J^T)^{-1} (z - z*)`` for the instances
    ``todo``, repeated until ``|z - z*| <= tol``. Gradient flow on the linearized loss ends at
    exactly this minimum-norm correction in weight space (whatever the curvatures), so the
    step's distance to gradient flow's endpoint is second order in the residual. J J^T is
    solved by conjugate gradients (its spectrum lies in [|v_2|^2, |v_2|^2 + sum ...]:
    well conditioned even where the data are not). Returns the final |z - z*|."""
    target = net.problem.target
    for _ in range(max_iterations + 1):
        z, vs = net.forward()
        e = z - target
        error = np.sqrt(_sq(e))
        todo = todo & np.isfinite(error) & (error > tol)
        if not todo.any():
            break
        b = np.where(todo[:, None], e, 0.0)
        u, used = _conjugate_gradient(lambda p: _jjt(net, vs, p), b, 1e-10, 500)
        if flow.count + 1 > 48:
            flow.flush(np.zeros(0, dtype=int))
        i = flow.push(_pullback(net, z, vs, u))
        coef = flow.coef.copy()
        coef[:, i] = np.where(todo, -1.0, 0.0)
        flow.set(coef)
        evaluations += (used + 1) * todo
    return error


def _stage_table(stages: np.ndarray, width: int) -> tuple[np.ndarray, ...]:
    """Per-instance RKC coefficients (K, width + 1) for each instance's own stage count; past
    its last stage an instance stands still (mu = 1, nu = mu~ = gamma~ = 0), so its result does
    not depend on the stage counts of the instances beside it."""
    counts = set(stages.tolist())
    if len(counts) == 1:  # every instance runs the same stages: one row, broadcast
        table = np.broadcast_to(_padded_coefficients(counts.pop(), width),
                                (len(stages), 4, width + 1))
    else:
        table = np.empty((len(stages), 4, width + 1))
        for s in counts:
            table[stages == s] = _padded_coefficients(s, width)
    return table[:, 0], table[:, 1], table[:, 2], table[:, 3]


@lru_cache(maxsize=4096)
def _padded_coefficients(s: int, width: int) -> np.ndarray:
    """(4, width + 1): mu, nu, mu~, gamma~ of s stages, padded to ``width`` stages by standing
    still (mu = 1, the others 0); read-only, shared by the steps that use it."""
    c = rkc.coefficients(s)
    out = np.zeros((4, width + 1))
    out[0, :s + 1], out[1, :s + 1], out[2, :s + 1], out[3, :s + 1] = \
        c.mu, c.nu, c.mu_tilde, c.gamma_tilde
    out[0, s + 1:] = 1.0
    out.flags.writeable = False
    return out


def _select(mask: np.ndarray, a: _Gradient, b: _Gradient) -> _Gradient:
    """Per instance: a where mask, else b (only z is read afterwards)."""
    return _Gradient(np.where(mask[:, None], a.z, b.z), [], [])


def _tick(bar, step: int, active: np.ndarray, error: np.ndarray) -> None:
    """Every 20 steps, move the bar to the progress of the slowest active instance towards
    the tolerance, in log distance: 0% at its first error, 100% at ``tol``; the postfix shows
    how many instances are done and the worst error."""
    if bar is None or step % 20:
        return
    live = error[active] if active.any() else error
    worst = float(np.max(live)) if live.size else 0.0
    if not np.isfinite(worst):
        return
    if getattr(bar, "start_error", None) is None:
        bar.start_error = max(worst, bar.tol * 10)
    span = np.log(bar.start_error / bar.tol)
    done = np.clip(np.log(bar.start_error / max(worst, bar.tol)) / span, 0.0, 1.0)
    bar.n = max(bar.n, int(100 * done))
    bar.set_postfix(done=f"{int((~active).sum())}/{active.size}", error=f"{worst:.1e}",
                    step=step, refresh=False)
    bar.refresh()


def _progress_bar(progress: bool | None, tol: float, label: str):
    """tqdm bar (None when ``progress`` is False): shown at once if True, after 2 s if None.
    Its total is 100%: the log-distance of the slowest instance's error to ``tol``
    (:func:`_tick`), so it means the same for 100 steps as for 100000."""
    if progress is False:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    bar = tqdm(total=100, desc=label, unit="%", delay=0 if progress else 2.0, leave=False,
               bar_format="{desc}: {percentage:3.0f}% to tol |{bar}| {elapsed}{postfix}")
    bar.tol, bar.start_error = float(tol) if tol > 0 else 1e-300, None
    return bar
