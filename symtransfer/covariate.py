"""Covariate shift: dataset distances when source and target inputs have different covariances.

A task is now ``(beta, sigma, Sigma)``: ``x ~ N(0, Sigma)``, ``y = beta.x + eps``,
``eps ~ N(0, sigma^2)``; the joint law of ``(x, y)`` is the zero-mean Gaussian with covariance

    S = [[Sigma, Sigma beta], [beta^T Sigma, beta^T Sigma beta + sigma^2]].

Source and target covariances share their eigenvectors (as in the simulator,
:mod:`symtransfer.mc.covariance`), so both are diagonal in one basis, given by their
eigenvalues ``l_s``, ``l_t`` (d each) and the teachers in that basis.

**KL divergence** (the chain rule,
``KL(p_xy || q_xy) = KL(p_x || q_x) + E_p KL(p_y|x || q_y|x)``)::

    KL = 1/2 sum_i (l_s,i/l_t,i - 1 - ln(l_s,i/l_t,i))
         + [(beta_s - beta_t)^T Sigma_s (beta_s - beta_t) + sigma_s^2]/(2 sigma_t^2)
         + ln(sigma_t/sigma_s) - 1/2.

With ``Sigma_s = Sigma_t = I`` it is :func:`symtransfer.distances.kl`. **W2** (Bures) between
the joint Gaussians has no comparably short form here; :func:`wasserstein2` computes it from
the dense (d+1) x (d+1) covariances (numeric, for moderate d).

**A counterexample of a new kind** (:func:`shift_counterexample`). Take the same teacher and
noise for both tasks and scale the source inputs, ``Sigma_s = c Sigma_t``: the conditional law
of y given x is the same, only the inputs moved, and ``KL = d/2 (c - 1 - ln c)`` grows without
bound as c -> infinity (or c -> 0). With population pretraining gradient flow still reaches
``beta_s = beta_t`` with balanced rank-1 weights for every full-rank Sigma_s, so linear
transfer and fine-tuning have the risks of ``theta = 0`` for every c: arbitrarily distant data
sets, perfect transfer. (Thm 2.2's counterexample moved the teacher, ``beta_t = k beta_s``;
this one moves only the inputs.)
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import distances as _distances


def _vector(name: str, value: Any, d: int | None = None, positive: bool = False) -> np.ndarray:
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of numbers, got a string")
    arr = np.asarray(value)
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}")
    arr = arr.astype(float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d array, got shape {arr.shape}")
    if d is not None and arr.size != d:
        raise ValueError(f"{name} must have length d = {d}, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must be positive (a full-rank covariance)")
    return arr


def _noise(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not math.isfinite(float(value)) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _inputs(beta_s, beta_t, source_eigenvalues, target_eigenvalues):
    bs = _vector("beta_s", beta_s)
    bt = _vector("beta_t", beta_t, bs.size)
    ls = _vector("source_eigenvalues", source_eigenvalues, bs.size, positive=True)
    lt = _vector("target_eigenvalues", target_eigenvalues, bs.size, positive=True)
    return bs, bt, ls, lt


def joint_covariance(beta: Any, sigma: float, eigenvalues: Any) -> np.ndarray:
    """The dense (d+1) x (d+1) covariance of ``(x, y)`` for ``x ~ N(0, diag(eigenvalues))``,
    ``y = beta.x + N(0, sigma^2)``."""
    b = _vector("beta", beta)
    lam = _vector("eigenvalues", eigenvalues, b.size, positive=True)
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(sigma)) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    S = np.zeros((b.size + 1, b.size + 1))
    S[:-1, :-1] = np.diag(lam)
    S[:-1, -1] = S[-1, :-1] = lam * b
    S[-1, -1] = float(b @ (lam * b)) + float(sigma) ** 2
    return S


def kl(beta_s: Any, beta_t: Any, *, sigma_s: float, sigma_t: float, source_eigenvalues: Any,
       target_eigenvalues: Any) -> float:
    """KL(source || target) between the joint laws of (x, y); closed form (module docstring)."""
    bs, bt, ls, lt = _inputs(beta_s, beta_t, source_eigenvalues, target_eigenvalues)
    ss, st_ = _noise("sigma_s", sigma_s), _noise("sigma_t", sigma_t)
    ratio = ls / lt
    inputs = 0.5 * float(np.sum(ratio - 1 - np.log(ratio)))
    diff = bs - bt
    conditional = ((diff @ (ls * diff)) + ss ** 2) / (2 * st_ ** 2) - 0.5 + math.log(st_ / ss)
    return inputs + float(conditional)


def wasserstein2(beta_s: Any, beta_t: Any, *, sigma_s: float, sigma_t: float,
                 source_eigenvalues: Any, target_eigenvalues: Any) -> float:
    """W2 between the joint Gaussian laws of (x, y) (Bures distance of the dense covariances;
    numeric, cost O(d^3))."""
    bs, bt, ls, lt = _inputs(beta_s, beta_t, source_eigenvalues, target_eigenvalues)
    return _distances._dense_w2(joint_covariance(bs, sigma_s, ls),
                                joint_covariance(bt, sigma_t, lt))


def shift_counterexample(target_eigenvalues: Any, beta: Any, value: float, *,
                         sigma: float) -> float:
    """The input scale ``c >= 1`` with ``KL = value`` between the source task
    ``(beta, sigma, c Sigma_t)`` and the target task ``(beta, sigma, Sigma_t)``: the solution
    of ``d/2 (c - 1 - ln c) = value`` (the conditional laws are equal, so only the inputs
    contribute). Transfer from population pretraining is the same for every c."""
    lt = _vector("target_eigenvalues", target_eigenvalues, positive=True)
    _vector("beta", beta, lt.size)
    _noise("sigma", sigma)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(value)) or value < 0:
        raise ValueError(f"value must be a finite number >= 0, got {value!r}")
    target = 2 * float(value) / lt.size  # c - 1 - ln c, increasing for c >= 1
    lo, hi = 1.0, 2.0
    while hi - 1 - math.log(hi) < target:
        hi *= 2
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid - 1 - math.log(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
