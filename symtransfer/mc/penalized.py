"""Pretraining with a penalty toward the initialization: from rich to lazy.

Pretraining minimizes, per instance, the population loss plus a penalty on the distance of all
weights from their initialization w_0,

    E(f(x) - y)^2 + mu |w - w_0|^2  =  2 [ 1/2 |beta_hat - beta_s|^2 + mu/2 sum_l |W_l - W_l(0)|_F^2 ]
                                        + sigma_s^2,

so gradient flow on the bracket has the same minimizers. ``mu = 0`` is ordinary (rich)
pretraining; as mu grows the weights are held ever closer to w_0 (lazy). With the small
initialization of the feature-learning regime the penalty acts as weight decay; with a large
``alpha`` it holds the network near a random O(1) network.

The penalty's gradient ``mu (W_l - W_l(0))`` is dense, so this integrator keeps dense weights
(O(K d^2) per step and layer; pretraining on the population loss has no row-space reduction
anyway). It uses Heun's method like :mod:`symtransfer.mc.gradient_flow`, with the step
``1/H``, ``H = sum_l prod_{k != l} |W_k|_F^2 + mu + (L-1) |r| max_l |W_l|_F^(L-2)`` (a bound on the
Hessian: Gauss-Newton part, penalty, and residual part with ``r = beta_hat - beta_s``), capped
at ``max_relative_step`` of the weights' norm per step (the escape from the initialization).

**Convergence criterion.** The minimizer is no longer known in closed form, so convergence is
stationarity: ``|grad| <= tol |w|`` (Frobenius norms over all layers). The relative form
cannot be met at the initial saddle, where ``|grad| ~ |w|``; at a minimum with curvature h the
weights are within ``tol |w|/h`` of it.
"""
from __future__ import annotations

import numpy as np

from .gradient_flow import TrainStats, _curvature_bound, _progress_bar, _sq, _tick
from .network import Weights


def _flat_norm2(mats: list[np.ndarray], vec: np.ndarray) -> np.ndarray:
    return sum(np.einsum("kij,kij->k", M, M) for M in mats) + _sq(vec)


def _matvec(W: np.ndarray, x: np.ndarray) -> np.ndarray:
    """W_k x_k for every instance (batched BLAS)."""
    return np.matmul(W, x[:, :, None])[:, :, 0]


def _rmatvec(W: np.ndarray, y: np.ndarray) -> np.ndarray:
    """W_k^T y_k for every instance."""
    return np.matmul(y[:, None, :], W)[:, 0, :]


class _Workspace:
    """Preallocated (K, d, d) arrays: the gradients at the current and the trial point, the
    trial weights, and a scratch array. Fresh 40 MB temporaries per step (d = 500, K = 20) cost
    more in page faults than the arithmetic; these are reused every step."""

    def __init__(self, weights: Weights) -> None:
        def like():
            return [np.empty_like(W) for W in weights.layers]

        self.grads, self.grads_trial, self.trial, self.scratch = like(), like(), like(), like()


def _loss_gradient(beta_hat: np.ndarray, beta: np.ndarray, problem) -> np.ndarray:
    """Gradient in beta of the loss: ``beta_hat - beta`` (population, ``problem`` None) or
    ``V (lam_i (V^T beta_hat - z*))`` for the sample loss ``(1/2n)|X beta_hat - y|^2``."""
    if problem is None:
        return beta_hat - beta
    z = problem.to_coordinates(beta_hat)
    return np.einsum("kdr,kr->kd", problem.basis, problem.curvature * (z - problem.target))


def _gradient(weights: Weights, anchor: Weights, beta: np.ndarray, mu: float,
              out: list[np.ndarray], scratch: list[np.ndarray], problem=None):
    """Gradient of ``loss + mu/2 |w - w_0|^2`` (layers written into ``out``), the last layer's
    gradient, and the loss gradient r in beta (population loss: r = beta_hat - beta)."""
    layers, last = weights.layers, weights.last
    vs = [last]  # vs[j] = W_{L-j} ... W_L, built from the right
    for W in reversed(layers[1:]):
        vs.append(_matvec(W, vs[-1]))
    vs.reverse()  # vs[l] = W_{l+2} ... W_L (0-based layer l+1), vs[-1] = W_L
    r = _loss_gradient(_matvec(layers[0], vs[0]), beta, problem)
    p = r
    for l, W in enumerate(layers):
        np.subtract(W, anchor.layers[l], out=scratch[l])
        scratch[l] *= mu
        np.multiply(p[:, :, None], vs[l][:, None, :], out=out[l])
        out[l] += scratch[l]
        p = _rmatvec(W, p)
    grad_last = p + mu * (last - anchor.last)
    return out, grad_last, r


def _step_size(norms: list[np.ndarray], r: np.ndarray, grad_norm2: np.ndarray, mu: float,
               max_relative_step: float, top: np.ndarray | float = 1.0) -> np.ndarray:
    """1/H with H the Hessian bound of the module docstring (the Gauss-Newton part times the
    loss's largest curvature ``top``: 1 for the population loss), capped at max_relative_step."""
    L = len(norms)
    biggest = np.sqrt(np.max(norms, axis=0))
    H = top * _curvature_bound(norms) + mu + (L - 1) * np.sqrt(_sq(r)) * biggest ** (L - 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        cap = max_relative_step * np.sqrt(sum(norms) / grad_norm2)
    return np.fmin(1.0 / H, cap)


def _trial(weights: Weights, grads, grad_last, eta: np.ndarray,
           out: list[np.ndarray]) -> Weights:
    """W - eta grad, the layers written into ``out``."""
    for W, G, T in zip(weights.layers, grads, out):
        np.multiply(G, eta[:, None, None], out=T)
        np.subtract(W, T, out=T)
    return Weights(out, weights.last - eta[:, None] * grad_last)


def train_penalized(init: Weights, beta: np.ndarray, mu: float, *, tol: float = 1e-6,
                    max_steps: int = 100_000, max_relative_step: float = 0.05,
                    progress: bool | None = None,
                    label: str = "pretrain (penalized)", problem=None,
                    anchor: Weights | None = None) -> tuple[Weights, TrainStats]:
    """Gradient flow on ``1/2 |beta_hat - beta|^2 + mu/2 |w - anchor|^2`` from ``init``.

    ``beta`` (d,) is the source teacher. With ``problem`` (a :class:`~symtransfer.mc.data.Problem`
    of sample data) the loss is instead its empirical loss ``(1/2n)|X beta_hat - y|^2`` (``beta``
    unused): L2-SP fine-tuning when ``init`` is the pretrained network. ``anchor`` defaults to
    ``init``. Returns the final weights and per-instance diagnostics; ``error`` holds the
    relative stationarity ``|grad|/|w|`` and ``converged`` whether it reached ``tol`` within
    ``max_steps`` (never a silent number otherwise).
    """
    anchor = Weights([W.copy() for W in (anchor or init).layers], (anchor or init).last.copy())
    top = 1.0 if problem is None else problem.curvature.max(axis=1)
    w = Weights([W.copy() for W in init.layers], init.last.copy())
    space = _Workspace(w)
    K = w.last.shape[0]
    steps = np.zeros(K, dtype=int)
    active = np.ones(K, dtype=bool)
    bar = _progress_bar(progress, tol, label)
    try:
        for step in range(max_steps + 1):
            grads, grad_last, r = _gradient(w, anchor, beta, mu, space.grads, space.scratch,
                                            problem)
            g2 = _flat_norm2(grads, grad_last)
            norms = [np.einsum("kij,kij->k", W, W) for W in w.layers] + [_sq(w.last)]
            error = np.sqrt(g2 / sum(norms))
            active &= np.isfinite(error) & (error > tol)
            if not active.any() or step == max_steps:
                break
            eta = np.where(active, _step_size(norms, r, g2, mu, max_relative_step, top), 0.0)
            trial = _trial(w, grads, grad_last, eta, space.trial)
            grads2, grad_last2, _ = _gradient(trial, anchor, beta, mu, space.grads_trial,
                                              space.scratch, problem)
            half = eta / 2  # Heun: w <- w - eta/2 (g(w) + g(w - eta g(w)))
            for W, G, G2 in zip(w.layers, grads, grads2):
                G *= half[:, None, None]
                W -= G
                G2 *= half[:, None, None]
                W -= G2
            w.last = w.last - half[:, None] * (grad_last + grad_last2)
            steps += active
            _tick(bar, step, active, error)
    finally:
        if bar is not None:
            bar.close()
    converged = np.isfinite(error) & (error <= tol)
    fit = 0.5 * _sq(r) if problem is None else problem.loss(problem.to_coordinates(
        w.end_to_end()))
    loss = fit + 0.5 * mu * _flat_norm2(
        [W - A for W, A in zip(w.layers, anchor.layers)], w.last - anchor.last)
    return w, TrainStats(steps, error, loss, converged)
