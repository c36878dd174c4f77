"""Teachers, Gaussian data, and the least-squares problem gradient flow sees.

By rotation invariance of the Gaussian design and of the random initialization, the source
teacher can be fixed to ``e_1`` and the target to ``cos(theta) e_1 + sin(theta) e_2`` without
changing the law of any risk.

A data set enters training only through its empirical loss
``(1/2n)|X beta - y|^2 = 1/2 sum_i lam_i (z_i - z*_i)^2 + const`` with ``z = V^T beta``, where
``X = U S V^T`` (thin SVD), ``lam_i = s_i^2/n`` and ``z* = U^T y / s``. Gradient flow only ever
moves the first layer inside the row space ``V``, so it is simulated in these r = min(n, d)
coordinates; nothing per step scales with n.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def teachers(d: int, theta: float) -> tuple[np.ndarray, np.ndarray]:
    """``(beta_s, beta_t)``: unit vectors at angle theta (in the plane of e_1, e_2)."""
    if d < 2:
        raise ValueError(f"d must be >= 2, got {d}")
    beta_s = np.zeros(d)
    beta_s[0] = 1.0
    beta_t = np.zeros(d)
    beta_t[0], beta_t[1] = np.cos(theta), np.sin(theta)
    return beta_s, beta_t


@dataclass
class Problem:
    """The quadratic loss of K data sets (or the population) in row-space coordinates.

    ``basis`` (K, d, r) is V, or None for the population loss ``1/2 |beta - beta*|^2``
    (V = I, all lam_i = 1). ``curvature`` (K, r) holds lam_i, ``target`` (K, r) holds z*.
    """

    basis: np.ndarray | None
    curvature: np.ndarray
    target: np.ndarray

    @property
    def instances(self) -> int:
        return self.curvature.shape[0]

    @property
    def rank(self) -> int:
        return self.curvature.shape[1]

    def to_coordinates(self, beta: np.ndarray) -> np.ndarray:
        """z = V^T beta for (K, d) vectors."""
        return beta if self.basis is None else np.einsum("kdr,kd->kr", self.basis, beta)

    def loss(self, z: np.ndarray) -> np.ndarray:
        """Excess empirical loss 1/2 sum_i lam_i (z_i - z*_i)^2 per instance."""
        return 0.5 * np.einsum("kr,kr->k", self.curvature, (z - self.target) ** 2)


def population_problem(beta: np.ndarray, instances: int) -> Problem:
    """The population loss ``E (x.beta_hat - x.beta)^2 / 2`` for x ~ N(0, I)."""
    d = beta.shape[0]
    return Problem(None, np.ones((instances, d)), np.tile(beta, (instances, 1)))


def sample_problem(X: np.ndarray, y: np.ndarray) -> Problem:
    """The empirical loss of data sets X (K, n, d), y (K, n), via a thin SVD of each X."""
    n = X.shape[1]
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    if np.any(s[:, -1] <= s[:, :1].ravel()[:, None] * 1e-12):
        raise np.linalg.LinAlgError("design matrix is numerically rank deficient")
    return Problem(np.ascontiguousarray(Vt.transpose(0, 2, 1)), s ** 2 / n,
                   np.einsum("knr,kn->kr", U, y) / s)


def gaussian_design(rngs: list[np.random.Generator], n: int,
                    d: int) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (K, n, d) standard Gaussian and unit label noise ``eps`` (K, n), one rng each."""
    X = np.stack([rng.standard_normal((n, d)) for rng in rngs])
    eps = np.stack([rng.standard_normal(n) for rng in rngs])
    return X, eps


def gaussian_data(rngs: list[np.random.Generator], n: int, beta: np.ndarray,
                  noise: float) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (K, n, d) standard Gaussian and ``y = X beta + noise * eps``, one rng per instance."""
    X, eps = gaussian_design(rngs, n, beta.shape[0])
    return X, X @ beta + noise * eps


@dataclass
class Design:
    """A Gaussian design with its noise draw, decomposed once for any teacher and noise level.

    With ``X = U S V^T``, the minimizer of ``|X beta - (X beta_t + sigma eps)|^2`` in row-space
    coordinates is ``z* = V^T beta_t + sigma U^T eps / s``: a sweep over theta and sigma reuses
    the SVD.
    """

    X: np.ndarray
    eps: np.ndarray
    basis: np.ndarray
    curvature: np.ndarray
    noise: np.ndarray

    @classmethod
    def sample(cls, rngs: list[np.random.Generator], n: int, d: int,
               scale: np.ndarray | None = None) -> "Design":
        """``scale``: None (x ~ N(0, I)) or the diagonal of Sigma (x ~ N(0, Sigma) in its
        eigenbasis: the same standard draws, column j multiplied by sqrt(scale_j))."""
        X, eps = gaussian_design(rngs, n, d)
        if scale is not None:
            X = X * np.sqrt(scale)
        U, s, Vt = np.linalg.svd(X, full_matrices=False)
        if np.any(s[:, -1] <= s[:, :1].ravel() * 1e-12):
            raise np.linalg.LinAlgError("design matrix is numerically rank deficient")
        design = cls(X, eps, np.ascontiguousarray(Vt.transpose(0, 2, 1)), s ** 2 / n,
                     np.einsum("knr,kn->kr", U, eps) / s)
        for array in (design.X, design.eps, design.basis, design.curvature, design.noise):
            array.flags.writeable = False  # shared between simulations through a cache
        return design

    def labels(self, beta: np.ndarray, sigma: float) -> np.ndarray:
        """``y = X beta + sigma eps``; ``beta`` is one teacher (d,) or one per instance (K, d)."""
        if beta.ndim == 2:
            return np.einsum("knd,kd->kn", self.X, beta) + sigma * self.eps
        return self.X @ beta + sigma * self.eps

    def problem(self, beta: np.ndarray, sigma: float) -> Problem:
        spec = "kdr,kd->kr" if beta.ndim == 2 else "kdr,d->kr"
        target = np.einsum(spec, self.basis, beta) + sigma * self.noise
        return Problem(self.basis, self.curvature, target)
