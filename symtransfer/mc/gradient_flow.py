"""Gradient flow on a deep linear network, discretized by gradient descent.

**Step-size rule** (per instance, every step). The Hessian of the loss in the weights is
bounded by ``H = lam_max * sum_l prod_{k != l} |W_k|_F^2``, with lam_max the largest curvature
of the data (``s_max^2/n``). The step is ``eta = step_scale / H`` (default 1: below the
stability limit 2/H with a margin), capped so that no step changes the weights by more than
``max_relative_step`` of their norm. The cap matters only near the small initialization, where
``H`` is tiny and gradient flow's escape from the saddle would otherwise be skipped over; it
makes that escape take ~log(1/alpha)/max_relative_step steps.

**Convergence criterion.** The end-to-end vector's row-space coordinates z are compared with
the exact minimizer z* of the data's loss (known from the SVD): converged when
``|z - z*| <= tol`` (default 1e-6, far below the Monte-Carlo error of any risk). Instances that
reach ``max_steps`` or diverge are reported as not converged; they are never silently averaged.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import Trainable

TOL = 1e-6
MAX_STEPS = 100_000


@dataclass
class TrainStats:
    """Per-instance diagnostics of one training phase."""

    steps: np.ndarray
    error: np.ndarray
    loss: np.ndarray
    converged: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"steps": self.steps, "error": self.error, "loss": self.loss,
                "converged": self.converged}


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
    norm2: np.ndarray           # |grad|^2 over all layers


def _gradient(net: Trainable) -> _Gradient:
    """dLoss/dW_l = p_l v_{l+1}^T with p_1 = dLoss/dz and p_{l+1} = W_l^T p_l."""
    z, vs = net.forward()
    g = net.problem.curvature * (z - net.problem.target)
    lefts = [g]
    q = net.first.rmatvec(g)
    for layer in net.middle:
        lefts.append(q)
        q = layer.rmatvec(q)
    lefts.append(q)
    norm2 = sum(_sq(a) * _sq(b) for a, b in zip(lefts[:-1], vs)) + _sq(lefts[-1])
    return _Gradient(z, lefts, vs, norm2)


def _sq(x: np.ndarray) -> np.ndarray:
    return np.einsum("ki,ki->k", x, x)


def _apply(net: Trainable, grad: _Gradient, eta: np.ndarray) -> None:
    """W_l -= eta p_l v_{l+1}^T for every layer (eta per instance)."""
    for layer, a, b in zip([net.first] + net.middle, grad.lefts, grad.rights):
        layer.add_outer(-eta[:, None] * a, b)
    net.last = net.last - eta[:, None] * grad.lefts[-1]


def _step_size(net: Trainable, grad: _Gradient, lam_max: np.ndarray, step_scale: float,
               max_relative_step: float) -> np.ndarray:
    norms = [m.norm_bound ** 2 for m in [net.first] + net.middle] + [_sq(net.last)]
    eta = step_scale / (lam_max * _curvature_bound(norms))
    with np.errstate(divide="ignore", invalid="ignore"):
        cap = max_relative_step * np.sqrt(sum(norms) / grad.norm2)
    return np.fmin(eta, cap)


def train(net: Trainable, *, tol: float = TOL, max_steps: int = MAX_STEPS,
          step_scale: float = 1.5, max_relative_step: float = 0.05, scheme: str = "heun",
          progress: bool | None = None, label: str = "training") -> TrainStats:
    """Integrate gradient flow on ``net`` until every instance converges or max_steps.

    ``scheme="heun"`` (default): Heun's second-order method, ``W <- W - eta/2 (g(W) + g(W'))``
    with ``W' = W - eta g(W)``. Plain gradient descent (``"euler"``) breaks gradient flow's
    conservation law ``W_l^T W_l - W_{l+1} W_{l+1}^T`` by O(eta) in total, which visibly moves the
    end point of fine-tuning; Heun's error is O(eta^2).
    """
    if scheme not in ("heun", "euler"):
        raise ValueError(f"scheme must be 'heun' or 'euler', got {scheme!r}")
    problem = net.problem
    lam_max = problem.curvature.max(axis=1)
    K = problem.instances
    steps = np.zeros(K, dtype=int)
    active = np.ones(K, dtype=bool)
    bar = _progress_bar(progress, max_steps, label)
    try:
        for step in range(max_steps + 1):
            grad = _gradient(net)
            diff = grad.z - problem.target
            error = np.sqrt(_sq(diff))
            active &= np.isfinite(error) & (error > tol)
            if not active.any() or step == max_steps:
                break
            eta = np.where(active, _step_size(net, grad, lam_max, step_scale,
                                              max_relative_step), 0.0)
            _apply(net, grad, eta)
            if scheme == "heun":
                predicted = _gradient(net)  # at W' = W - eta g(W)
                _apply(net, grad, -eta / 2)
                _apply(net, predicted, eta / 2)
            steps += active
            _tick(bar, step, active, error)
    finally:
        if bar is not None:
            bar.close()
    converged = np.isfinite(error) & (error <= tol)
    return TrainStats(steps, error, problem.loss(grad.z), converged)


def _tick(bar, step: int, active: np.ndarray, error: np.ndarray) -> None:
    """Advance the bar every 50 steps, showing the active instances and the worst error."""
    if bar is not None and step % 50 == 0:
        bar.update(50)
        bar.set_postfix(active=int(active.sum()), error=float(error[active].max()))


def _progress_bar(progress: bool | None, total: int, label: str):
    """tqdm bar: shown if progress is True, or (None) if the run lasts over 2 seconds."""
    if progress is False:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, desc=label, delay=0 if progress else 2.0, leave=False)
