"""Closed-form Gaussian expectations of ReLU features (the arc-cosine kernel of degree 1).

For x ~ N(0, I_d) and vectors w, u at angle phi (Cho & Saul 2009):

* ``E relu(w.x) = |w| / sqrt(2 pi)``;
* ``E relu(w.x) relu(u.x) = |w| |u| (sin phi + (pi - phi) cos phi) / (2 pi)``;
* its gradient in w: ``E[1(w.x > 0) x relu(u.x)] = ((pi - phi) u + |u| sin(phi) w/|w|) / (2 pi)``.

These give the population loss of a two-layer ReLU network against a ReLU teacher, its exact
gradient and the exact test error (an infinitely large fresh test sample), so pretraining on
"abundant" source data is gradient descent on the population loss, and no test error carries
Monte-Carlo noise of its own. Arrays carry a leading instance axis: rows of ``A`` (..., m, d)
against rows of ``B`` (..., p, d) give (..., m, p).
"""
from __future__ import annotations

import math

import numpy as np

INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TINY = 1e-300


def _angles(A: np.ndarray, B: np.ndarray):
    na = np.linalg.norm(A, axis=-1)
    nb = np.linalg.norm(B, axis=-1)
    dots = np.matmul(A, np.swapaxes(B, -1, -2))
    cos = np.clip(dots / np.maximum(na[..., :, None] * nb[..., None, :], _TINY), -1.0, 1.0)
    return na, nb, np.arccos(cos), cos


def relu_mean(A: np.ndarray) -> np.ndarray:
    """``E relu(a.x)`` for every row a of A: ``|a| / sqrt(2 pi)``."""
    return np.linalg.norm(A, axis=-1) * INV_SQRT_2PI


def relu_kernel(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``E relu(a_i.x) relu(b_j.x)`` for rows a_i of A and b_j of B."""
    na, nb, phi, cos = _angles(A, B)
    return (na[..., :, None] * nb[..., None, :] / (2.0 * math.pi)
            * (np.sin(phi) + (math.pi - phi) * cos))


def relu_kernel_grad(A: np.ndarray, B: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sum_j weights_ij d/da_i E relu(a_i.x) relu(b_j.x)``, shape of A.

    Uses ``d/da E relu(a.x) relu(b.x) = ((pi - phi) b + |b| sin(phi) a/|a|) / (2 pi)``; at
    ``b = a`` it is ``a / 2``, the derivative of ``|a|^2 / 2`` in one slot.
    """
    na, nb, phi, _ = _angles(A, B)
    along_b = np.matmul((math.pi - phi) * weights, B)
    along_a = (np.sin(phi) * nb[..., None, :] * weights).sum(axis=-1)
    unit_a = A / np.maximum(na, _TINY)[..., None]
    return (along_b + along_a[..., None] * unit_a) / (2.0 * math.pi)


def relu_mean_grad(A: np.ndarray) -> np.ndarray:
    """``d/da E relu(a.x) = (a/|a|) / sqrt(2 pi)`` for every row a of A."""
    return A / np.maximum(np.linalg.norm(A, axis=-1), _TINY)[..., None] * INV_SQRT_2PI
