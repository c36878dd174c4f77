"""Batches of weights that change by queued low-rank terms between dense updates.

Every gradient of a deep linear network is an outer product per layer
(``dLoss/dW_l = p_l v_{l+1}^T``), and every explicit integrator of gradient flow moves the
weights by linear combinations of such gradients. Writing each combination into a (K, m, n)
array costs passes over memory; instead the factors are queued as *terms* and the current
weights are

    M_k = base_k + sum_c coef_kc left_kc right_kc^T       (per instance k),

with the coefficients ``coef`` set freely by the integrator (a Runge-Kutta stage is just another
coefficient vector over the same terms). Products with M use one batched BLAS call on ``base``
(``np.matmul`` over the instance axis: no per-instance Python loop) plus the queued part, which
costs ``count (m + n)`` per instance. ``flush`` folds the terms into ``base`` in place by one
BLAS GEMM per instance (``base^T += (coef right)^T left``, no temporary of the weights' size).

:class:`QueuedVector` is the same for a batch of vectors (the last layer ``W_L``).
"""
from __future__ import annotations

import numpy as np
from scipy.linalg.blas import dgemm


class _Queue:
    """Shared bookkeeping: ``count`` terms with per-instance coefficients ``coef`` (K, cap)."""

    def _init_queue(self, instances: int, capacity: int) -> None:
        self.coef = np.zeros((instances, capacity))
        self.count = 0

    @property
    def capacity(self) -> int:
        return self.coef.shape[1]

    def set_coefficients(self, coef: np.ndarray) -> None:
        """Make the current value ``base + sum_c coef[:, c] term_c`` (coef: (K, count))."""
        c = coef.shape[1]
        if c != self.count:
            raise ValueError(f"{c} coefficients for {self.count} queued terms")
        self.coef[:, :c] = coef

    def coefficients(self) -> np.ndarray:
        return self.coef[:, :self.count].copy()


class LowRankUpdated(_Queue):
    """K matrices ``base + sum_c coef_c left_c right_c^T`` (see the module docstring)."""

    def __init__(self, base: np.ndarray, capacity: int = 32) -> None:
        self.base = np.array(base, dtype=np.float64, order="C")
        k, m, n = self.base.shape
        self._init_queue(k, capacity)
        self.left = np.zeros((k, capacity, m))
        self.right = np.zeros((k, capacity, n))
        self.term_norm = np.zeros((k, capacity))  # |left_c| |right_c|
        self.base_norm = np.sqrt(np.einsum("kij,kij->k", self.base, self.base))

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.base.shape

    def _grow(self, capacity: int) -> None:
        k, m, n = self.base.shape
        extra = capacity - self.capacity
        self.left = np.concatenate([self.left, np.zeros((k, extra, m))], axis=1)
        self.right = np.concatenate([self.right, np.zeros((k, extra, n))], axis=1)
        self.coef = np.concatenate([self.coef, np.zeros((k, extra))], axis=1)
        self.term_norm = np.concatenate([self.term_norm, np.zeros((k, extra))], axis=1)

    def push(self, a: np.ndarray, b: np.ndarray, coef: np.ndarray | float = 0.0) -> int:
        """Queue the term ``a_k b_k^T`` (a: (K, m), b: (K, n)) with coefficient ``coef``;
        returns its index. The capacity grows if needed (callers flush before that)."""
        if self.count == self.capacity:
            self._grow(2 * self.capacity)
        c = self.count
        self.left[:, c] = a
        self.right[:, c] = b
        self.coef[:, c] = coef
        self.term_norm[:, c] = np.sqrt(np.einsum("km,km->k", a, a) * np.einsum("kn,kn->k", b, b))
        self.count += 1
        return c

    def add_outer(self, a: np.ndarray, b: np.ndarray) -> None:
        """``M_k += a_k b_k^T`` (a term with coefficient 1; flushed when the queue is full)."""
        self.push(a, b, 1.0)
        if self.count == self.capacity:
            self.flush()

    def matvec(self, x: np.ndarray) -> np.ndarray:
        """``M_k @ x_k`` for every k; x is (K, n)."""
        out = np.matmul(self.base, x[:, :, None])[:, :, 0]
        c = self.count
        if c:
            t = np.matmul(self.right[:, :c], x[:, :, None])[:, :, 0] * self.coef[:, :c]
            out += np.matmul(t[:, None, :], self.left[:, :c])[:, 0, :]
        return out

    def rmatvec(self, y: np.ndarray) -> np.ndarray:
        """``M_k^T @ y_k`` for every k; y is (K, m)."""
        out = np.matmul(y[:, None, :], self.base)[:, 0, :]
        c = self.count
        if c:
            t = np.matmul(self.left[:, :c], y[:, :, None])[:, :, 0] * self.coef[:, :c]
            out += np.matmul(t[:, None, :], self.right[:, :c])[:, 0, :]
        return out

    def term_grams(self, index: np.ndarray) -> np.ndarray:
        """``(a_i . a_j)(b_i . b_j)`` for the queued terms ``index`` (K, t, t): the Gram matrix
        of the terms in the Frobenius inner product."""
        a, b = self.left[:, index], self.right[:, index]
        return np.matmul(a, a.transpose(0, 2, 1)) * np.matmul(b, b.transpose(0, 2, 1))

    def norm_bound(self) -> np.ndarray:
        """An upper bound of ``|M_k|_F``: ``|base|_F + sum_c |coef_c| |left_c| |right_c|``
        (triangle inequality; exact after a flush)."""
        c = self.count
        return self.base_norm + np.einsum("kc,kc->k", np.abs(self.coef[:, :c]),
                                          self.term_norm[:, :c])

    def flush(self, keep: np.ndarray | None = None) -> np.ndarray:
        """Fold the queued terms (with their coefficients) into ``base`` by one batched GEMM.

        ``keep``: indices of terms to keep queued afterwards with coefficient 0 (their factors
        are still needed, e.g. a gradient reused by the next step). Returns the new indices of
        the kept terms.
        """
        c = self.count
        keep = np.zeros(0, dtype=int) if keep is None else np.asarray(keep, dtype=int)
        if c:
            scaled = self.right[:, :c] * self.coef[:, :c, None]
            for k in range(self.base.shape[0]):  # one GEMM per instance, in place
                dgemm(1.0, scaled[k].T, self.left[k, :c], beta=1.0, c=self.base[k].T,
                      overwrite_c=True)
            kept_left, kept_right = self.left[:, keep].copy(), self.right[:, keep].copy()
            kept_norm = self.term_norm[:, keep].copy()
            self.left[:, :c] = 0.0
            self.right[:, :c] = 0.0
            self.coef[:, :c] = 0.0
            self.count = len(keep)
            self.left[:, :self.count] = kept_left
            self.right[:, :self.count] = kept_right
            self.term_norm[:, :self.count] = kept_norm
        self.base_norm = np.sqrt(np.einsum("kij,kij->k", self.base, self.base))
        return np.arange(len(keep))

    def dense(self) -> np.ndarray:
        """The current matrices as a (K, m, n) array (folds the queue in)."""
        self.flush()
        return self.base.copy()


class QueuedVector(_Queue):
    """K vectors ``base + sum_c coef_c term_c`` (the last layer of a deep linear network)."""

    def __init__(self, base: np.ndarray, capacity: int = 32) -> None:
        self.base = np.array(base, dtype=np.float64, order="C")
        k, n = self.base.shape
        self._init_queue(k, capacity)
        self.terms = np.zeros((k, capacity, n))

    def push(self, t: np.ndarray, coef: np.ndarray | float = 0.0) -> int:
        if self.count == self.capacity:
            extra = self.capacity
            self.terms = np.concatenate([self.terms, np.zeros_like(self.terms[:, :extra])], 1)
            self.coef = np.concatenate([self.coef, np.zeros_like(self.coef[:, :extra])], 1)
        c = self.count
        self.terms[:, c] = t
        self.coef[:, c] = coef
        self.count += 1
        return c

    def value(self) -> np.ndarray:
        """The current vectors (K, n)."""
        c = self.count
        if not c:
            return self.base.copy()
        return self.base + np.matmul(self.coef[:, None, :c], self.terms[:, :c])[:, 0, :]

    def term_grams(self, index: np.ndarray) -> np.ndarray:
        t = self.terms[:, index]
        return np.matmul(t, t.transpose(0, 2, 1))

    def flush(self, keep: np.ndarray | None = None) -> np.ndarray:
        keep = np.zeros(0, dtype=int) if keep is None else np.asarray(keep, dtype=int)
        if self.count:
            self.base = self.value()
            kept = self.terms[:, keep].copy()
            self.terms[:, :self.count] = 0.0
            self.coef[:, :self.count] = 0.0
            self.count = len(keep)
            self.terms[:, :self.count] = kept
        return np.arange(len(keep))
