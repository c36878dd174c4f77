"""Deep-network L2-SP and weight-decayed scratch training, simulated at finite d.

``simulate_network`` fine-tunes the pretrained network by gradient flow on the target's
empirical loss plus ``lam/2 sum_l |W_l - W_l^pre|^2`` (that is ``|y - X beta|^2/n + lam sum_l
|W_l - W_l^pre|^2``, halved: the normalization of end-to-end L2-SP), with the integrator of
:mod:`symtransfer.mc.penalized` (dense weights, Heun steps, convergence = relative
stationarity). ``simulate_weight_decay`` trains a scratch network from the small
initialization with ``lam/2 sum_l |W_l|^2``. Runs that do not reach ``tol`` are flagged in
``converged`` and excluded from the mean (``SimulationResult``), never returned as numbers.

Per run, the depth-2 stationary point is checked against its derived structure
(``derivations/l2sp.py``): ``w_2 = t v`` and ``beta_hat`` equal to end-to-end L2-SP toward
``t s u`` (the pretrained ``W_1 = s u v^T``, ``w_2 = s v``) with penalty ``lam/t^2``.
"""
from __future__ import annotations

import numpy as np

from .data import teachers
from .network import Weights, small_init
from .penalized import train_penalized
from .pipeline import _samples, instance_streams, pretrained, target_design
from .result import SimulationResult


def _check(d: int, instances: int, lam: float, depth: int) -> None:
    if not (np.isfinite(lam) and lam > 0):
        raise ValueError(f"lam must be a finite number > 0, got {lam!r}")
    if not isinstance(depth, (int, np.integer)) or depth < 2:
        raise ValueError(f"depth must be an integer >= 2, got {depth!r}")
    if d < 2 or instances < 1:
        raise ValueError(f"d must be >= 2 and instances >= 1, got d={d}, instances={instances}")


def simulate_network(*, gamma: float, theta: float, sigma: float = 0.0, lam: float,
                     depth: int = 2, d: int = 60, instances: int = 8, seed: int = 0,
                     alpha: float = 1e-5, tol: float = 1e-6, max_steps: int = 50_000,
                     progress: bool | None = False) -> SimulationResult:
    """Deep L2-SP: gradient flow on all layers from the pretrained weights (population
    pretraining, as :func:`symtransfer.simulate`) with the penalty toward them.

    ``diagnostics['l2sp_net']`` holds the training stats and, per run, ``t`` (the readout's
    component along its pretrained direction over the pretrained scale) and ``endpoint``
    (depth 2: the distance of beta_hat to end-to-end L2-SP toward ``t beta_hat_s`` with penalty
    lam/t^2 on that run's data; NaN deeper)."""
    _check(d, instances, lam, depth)
    n = _samples(gamma, d, "gamma")
    weights, pre = pretrained(seed, instances, d=d, depth=depth, gamma_s=None, sigma_s=0.0,
                              alpha=alpha, init="random", tol=tol, max_steps=100_000,
                              progress=progress)
    _, beta_t = teachers(d, theta)
    problem = target_design(seed, instances, d, n).problem(beta_t, sigma)
    start = Weights([W.copy() for W in weights.layers], weights.last.copy())
    net, stats = train_penalized(start, beta_t, lam, tol=tol, max_steps=max_steps,
                                 progress=progress, label="l2sp (network)", problem=problem,
                                 anchor=weights)
    beta_hat = net.end_to_end()
    scale = np.linalg.norm(weights.last, axis=1)  # s = |w_2^pre|
    direction = weights.last / scale[:, None]
    t = np.einsum("kd,kd->k", net.last, direction) / scale
    endpoint = np.full(instances, np.nan)
    if depth == 2:
        from ..methods.l2sp import toward

        beta_s = weights.end_to_end()
        for k in range(instances):
            one = _single(problem, k)
            anchor = (t[k] * beta_s[k])[None, :]
            endpoint[k] = np.linalg.norm(toward(one, anchor, lam / t[k] ** 2)[0] - beta_hat[k])
    errors = np.einsum("kd,kd->k", beta_hat - beta_t, beta_hat - beta_t)
    params = dict(gamma=gamma, theta=theta, sigma=sigma, lam=lam, depth=depth, d=d,
                  instances=instances, seed=seed, alpha=alpha, tol=tol, max_steps=max_steps)
    diagnostics = {"pretrain": pre.as_dict(),
                   "l2sp_net": dict(stats.as_dict(), t=t, endpoint=endpoint)}
    return SimulationResult("l2sp_network", params, errors, pre.converged & stats.converged,
                            diagnostics, beta_hat, weights.end_to_end())


def _single(problem, k: int):
    """Instance k of a Problem, as a one-instance Problem."""
    from .data import Problem

    return Problem(problem.basis[k:k + 1], problem.curvature[k:k + 1], problem.target[k:k + 1])


def simulate_weight_decay(*, gamma: float, sigma: float = 0.0, lam: float, depth: int = 2,
                          d: int = 60, instances: int = 8, seed: int = 0, alpha: float = 1e-2,
                          tol: float = 1e-6, max_steps: int = 50_000,
                          progress: bool | None = False) -> SimulationResult:
    """Scratch training with weight decay ``lam/2 sum_l |W_l|^2`` from a small random
    initialization (scale ``alpha``), on the same target data as :func:`symtransfer.simulate`
    (teacher e_1: the scratch risk does not depend on theta). ``diagnostics['weight_decay']``
    holds the training stats and ``lam_eff`` per run, ``lam |beta_hat|^(2/L - 2)``: the ridge
    penalty whose estimator the stationary point is (``derivations/l2sp.py``)."""
    _check(d, instances, lam, depth)
    n = _samples(gamma, d, "gamma")
    beta_t, _ = teachers(d, 0.0)
    problem = target_design(seed, instances, d, n).problem(beta_t, sigma)
    streams = instance_streams(seed, instances)
    init = small_init(streams["scratch_init"], d, depth, alpha, "random")
    zero = Weights([np.zeros_like(W) for W in init.layers], np.zeros_like(init.last))
    net, stats = train_penalized(init, beta_t, lam, tol=tol, max_steps=max_steps,
                                 progress=progress, label="scratch (weight decay)",
                                 problem=problem, anchor=zero)
    beta_hat = net.end_to_end()
    norm = np.linalg.norm(beta_hat, axis=1)
    with np.errstate(divide="ignore"):
        lam_eff = lam * norm ** (2.0 / depth - 2)
    errors = np.einsum("kd,kd->k", beta_hat - beta_t, beta_hat - beta_t)
    params = dict(gamma=gamma, sigma=sigma, lam=lam, depth=depth, d=d, instances=instances,
                  seed=seed, alpha=alpha, tol=tol, max_steps=max_steps)
    diagnostics = {"weight_decay": dict(stats.as_dict(), lam_eff=lam_eff, norm=norm)}
    return SimulationResult("scratch_weight_decay", params, errors, stats.converged,
                            diagnostics, beta_hat, None)
