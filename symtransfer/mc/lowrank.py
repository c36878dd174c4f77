"""A batch of matrices that receive one rank-1 update per gradient step.

Gradient descent on a deep linear network updates every layer by an outer product
(``dW_l = -eta p_l v_{l+1}^T``). Writing each update into a (K, m, n) array costs a full pass
over memory per step; instead the updates are queued as factors and folded in by one matrix
product every ``capacity`` steps. Products with the matrix use ``base @ x`` plus the queued
low-rank part, so a step costs about two passes over the weights instead of four.
"""
from __future__ import annotations

import numpy as np


class LowRankUpdated:
    """K matrices ``base + left @ right^T`` with up to ``capacity`` queued rank-1 terms."""

    def __init__(self, base: np.ndarray, capacity: int = 32) -> None:
        self.base = np.array(base, dtype=float, order="C")
        k, m, n = self.base.shape
        self.left = np.zeros((k, m, capacity))
        self.right = np.zeros((k, n, capacity))
        self.count = 0
        self.capacity = capacity
        self.norm_bound = np.sqrt(np.einsum("kij,kij->k", self.base, self.base))

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.base.shape

    def matvec(self, x: np.ndarray) -> np.ndarray:
        """``M_k @ x_k`` for every k; x is (K, n)."""
        out = np.stack([b @ xi for b, xi in zip(self.base, x)])
        if self.count:
            c = self.count
            out += np.einsum("kmc,kc->km", self.left[:, :, :c],
                             np.einsum("knc,kn->kc", self.right[:, :, :c], x))
        return out

    def rmatvec(self, y: np.ndarray) -> np.ndarray:
        """``M_k^T @ y_k`` for every k; y is (K, m)."""
        out = np.stack([yi @ b for b, yi in zip(self.base, y)])
        if self.count:
            c = self.count
            out += np.einsum("knc,kc->kn", self.right[:, :, :c],
                             np.einsum("kmc,km->kc", self.left[:, :, :c], y))
        return out

    def add_outer(self, a: np.ndarray, b: np.ndarray) -> None:
        """``M_k += a_k b_k^T``. ``norm_bound`` stays an upper bound of |M_k|_F (triangle
        inequality); it is exact again after every flush."""
        self.norm_bound = self.norm_bound + np.sqrt(
            np.einsum("km,km->k", a, a) * np.einsum("kn,kn->k", b, b))
        self.left[:, :, self.count] = a
        self.right[:, :, self.count] = b
        self.count += 1
        if self.count == self.capacity:
            self.flush()

    def flush(self) -> None:
        """Fold the queued updates into ``base`` and recompute the Frobenius norms exactly."""
        if self.count:
            c = self.count
            self.base += np.matmul(self.left[:, :, :c], self.right[:, :, :c].transpose(0, 2, 1))
            self.left[:, :, :c] = 0.0
            self.right[:, :, :c] = 0.0
            self.count = 0
        self.norm_bound = np.sqrt(np.einsum("kij,kij->k", self.base, self.base))

    def dense(self) -> np.ndarray:
        """The current matrices as a (K, m, n) array."""
        self.flush()
        return self.base.copy()
