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

Beside the factors, the queue keeps what makes norms exact without passes over ``base``: the
Gram matrices of the left and right factors (updated as terms are pushed, ``count (m + n)``
per term), and ``base right_c`` per term (taken from the matvec that computed the gradient the
term belongs to, so it costs nothing extra). Then ``|M_k|_F^2`` and, with row weights w,
``|diag(w)^(1/2) M_k|_F^2`` are exact for any coefficients, whenever the queue was last
flushed (:meth:`LowRankUpdated.frobenius2`). :meth:`LowRankUpdated.take` copies a subset of
the instances (with their queues) into a new object, so a batch can shrink to the instances
still training.

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
    """K matrices ``base + sum_c coef_c left_c right_c^T`` (see the module docstring).

    ``row_weights`` (K, m), optional: weights w of the rows, for :meth:`frobenius2`
    (``|diag(w)^(1/2) M|_F^2``)."""

    def __init__(self, base: np.ndarray, capacity: int = 32,
                 row_weights: np.ndarray | None = None) -> None:
        self.base = np.array(base, dtype=np.float64, order="C")
        k, m, n = self.base.shape
        self._init_queue(k, capacity)
        self.row_weights = None if row_weights is None else np.array(row_weights, dtype=float)
        self.left = np.zeros((k, capacity, m))
        self.right = np.zeros((k, capacity, n))
        self.base_right = np.zeros((k, capacity, m))  # base @ right_c
        self.gram_left = np.zeros((k, capacity, capacity))
        self.gram_right = np.zeros((k, capacity, capacity))
        self.gram_wleft = None if self.row_weights is None else np.zeros((k, capacity, capacity))
        self.term_norm = np.zeros((k, capacity))  # |left_c| |right_c|
        self._probe = None  # (x, base @ x) of the last matvec
        self._synced = 0  # terms whose Gram rows are computed
        self._base_norms()

    def _base_norms(self) -> None:
        rows = np.einsum("kij,kij->ki", self.base, self.base)
        self.base_norm = np.sqrt(rows.sum(axis=1))
        self.base_wnorm2 = None if self.row_weights is None else \
            np.einsum("ki,ki->k", self.row_weights, rows)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.base.shape

    def _grow(self, capacity: int) -> None:
        extra = capacity - self.capacity

        def wider(a, axes):
            pad = [(0, 0)] * a.ndim
            for ax in axes:
                pad[ax] = (0, extra)
            return np.pad(a, pad)

        self.left, self.right = wider(self.left, [1]), wider(self.right, [1])
        self.base_right = wider(self.base_right, [1])
        self.coef, self.term_norm = wider(self.coef, [1]), wider(self.term_norm, [1])
        self.gram_left, self.gram_right = wider(self.gram_left, [1, 2]), \
            wider(self.gram_right, [1, 2])
        if self.gram_wleft is not None:
            self.gram_wleft = wider(self.gram_wleft, [1, 2])

    def push(self, a: np.ndarray, b: np.ndarray, coef: np.ndarray | float = 0.0) -> int:
        """Queue the term ``a_k b_k^T`` (a: (K, m), b: (K, n)) with coefficient ``coef``;
        returns its index. The capacity grows if needed (callers flush before that)."""
        if self.count == self.capacity:
            self._sync()
            self._grow(2 * self.capacity)
        c = self.count
        self.left[:, c] = a
        self.right[:, c] = b
        self.coef[:, c] = coef
        if self._probe is not None and self._probe[0] is b:
            self.base_right[:, c] = self._probe[1]
        else:
            self.base_right[:, c] = np.matmul(self.base, b[:, :, None])[:, :, 0]
        self.count += 1
        return c

    def _sync(self) -> None:
        """Bring the Gram matrices up to the queued terms: the rows of the terms pushed since
        the last call, by one batched GEMM per factor (not one call per term)."""
        c, u = self.count, self._synced
        if u >= c:
            return
        new = self.left[:, u:c]
        if self.gram_wleft is not None:
            new = np.concatenate([new, new * self.row_weights[:, None, :]], axis=1)
        G = np.matmul(self.left[:, :c], new.transpose(0, 2, 1))
        grams = [(self.gram_left, G[:, :, :c - u]), (self.gram_right, np.matmul(
            self.right[:, :c], self.right[:, u:c].transpose(0, 2, 1)))]
        if self.gram_wleft is not None:
            grams.append((self.gram_wleft, G[:, :, c - u:]))
        for gram, rows in grams:
            gram[:, :c, u:c] = rows
            gram[:, u:c, :c] = rows.transpose(0, 2, 1)
        self.term_norm[:, u:c] = np.sqrt(np.einsum("kii->ki", self.gram_left[:, u:c, u:c])
                                         * np.einsum("kii->ki", self.gram_right[:, u:c, u:c]))
        self._synced = c

    def add_outer(self, a: np.ndarray, b: np.ndarray) -> None:
        """``M_k += a_k b_k^T`` (a term with coefficient 1; flushed when the queue is full)."""
        self.push(a, b, 1.0)
        if self.count == self.capacity:
            self.flush()

    def matvec(self, x: np.ndarray) -> np.ndarray:
        """``M_k @ x_k`` for every k; x is (K, n)."""
        bx = np.matmul(self.base, x[:, :, None])[:, :, 0]
        self._probe = (x, bx)  # a term with right factor x pushed next reuses base @ x
        c = self.count
        if not c:
            return bx.copy()
        t = np.matmul(self.right[:, :c], x[:, :, None])[:, :, 0] * self.coef[:, :c]
        return bx + np.matmul(t[:, None, :], self.left[:, :c])[:, 0, :]

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
        self._sync()
        ix = (slice(None), index[:, None], index[None, :])
        return self.gram_left[ix] * self.gram_right[ix]

    def norm_bound(self) -> np.ndarray:
        """An upper bound of ``|M_k|_F``: ``|base|_F + sum_c |coef_c| |left_c| |right_c|``
        (triangle inequality; exact after a flush)."""
        self._sync()
        c = self.count
        return self.base_norm + np.einsum("kc,kc->k", np.abs(self.coef[:, :c]),
                                          self.term_norm[:, :c])

    def frobenius2(self, weighted: bool = False) -> np.ndarray:
        """Exactly ``|M_k|_F^2`` (or ``|diag(w_k)^(1/2) M_k|_F^2`` with the row weights):
        ``|base|^2 + 2 sum_c coef_c left_c^T W base right_c + coef^T (G_left^W o G_right)
        coef`` from the kept Grams and base products, no pass over ``base``."""
        c = self.count
        if weighted and self.row_weights is None:
            raise ValueError("no row weights were given")
        head = self.base_wnorm2 if weighted else self.base_norm ** 2
        self._sync()
        if not c:
            return head.copy()
        coef = self.coef[:, :c]
        left = self.left[:, :c] * self.row_weights[:, None, :] if weighted else self.left[:, :c]
        cross = np.einsum("kc,kcm,kcm->k", coef, left, self.base_right[:, :c])
        gl = (self.gram_wleft if weighted else self.gram_left)[:, :c, :c]
        quad = np.einsum("kc,kcd,kd->k", coef, gl * self.gram_right[:, :c, :c], coef)
        return np.maximum(head + 2.0 * cross + quad, 0.0)

    def flush(self, keep: np.ndarray | None = None) -> np.ndarray:
        """Fold the queued terms (with their coefficients) into ``base`` by one batched GEMM.

        ``keep``: indices of terms to keep queued afterwards with coefficient 0 (their factors
        are still needed, e.g. a gradient reused by the next step). Returns the new indices of
        the kept terms.
        """
        c = self.count
        keep = np.zeros(0, dtype=int) if keep is None else np.asarray(keep, dtype=int)
        self._probe = None
        self._sync()
        if c:
            coef = self.coef[:, :c]
            scaled = self.right[:, :c] * coef[:, :, None]
            for k in range(self.base.shape[0]):  # one GEMM per instance, in place
                dgemm(1.0, scaled[k].T, self.left[k, :c], beta=1.0, c=self.base[k].T,
                      overwrite_c=True)
            # the kept terms' base products on the new base: + sum_c coef_c a_c (b_c . b_j)
            base_right = self.base_right[:, keep] + np.matmul(
                coef[:, None, :] * self.gram_right[:, keep, :c], self.left[:, :c])
            ix = (slice(None), keep[:, None], keep[None, :])
            grams = [g[ix] for g in (self.gram_left, self.gram_right, self.gram_wleft)
                     if g is not None]
            kept = (self.left[:, keep], self.right[:, keep], self.term_norm[:, keep])
            nk = len(keep)
            self.count = nk
            self.coef[:, :c] = 0.0
            self.left[:, :nk], self.right[:, :nk], self.term_norm[:, :nk] = kept
            self.base_right[:, :nk] = base_right
            for g, new in zip([g for g in (self.gram_left, self.gram_right, self.gram_wleft)
                               if g is not None], grams):
                g[:, :nk, :nk] = new
            self._synced = nk
        self._base_norms()
        return np.arange(len(keep))

    def take(self, rows: np.ndarray) -> "LowRankUpdated":
        """A new object holding the instances ``rows`` (copies, queue included)."""
        new = object.__new__(LowRankUpdated)
        new.base = self.base[rows]
        for name in ("coef", "left", "right", "base_right", "gram_left", "gram_right",
                     "gram_wleft", "term_norm", "row_weights", "base_norm", "base_wnorm2"):
            value = getattr(self, name)
            setattr(new, name, None if value is None else value[rows])
        new.count, new._synced = self.count, self._synced
        new._probe = None
        return new

    def put(self, rows: np.ndarray, sub: "LowRankUpdated") -> None:
        """Write the current matrices of ``sub`` (from :meth:`take`) back into rows ``rows``;
        both queues are flushed first (this one must not hold coefficients for them)."""
        self.flush()
        sub.flush()
        self.base[rows] = sub.base
        self._base_norms()

    def dense(self) -> np.ndarray:
        """The current matrices as a (K, m, n) array (folds the queue in)."""
        self.flush()
        return self.base.copy()


class QueuedVector(_Queue):
    """K vectors ``base + sum_c coef_c term_c`` (the last layer of a deep linear network).
    The current value is cached until the coefficients or the terms change; the Gram matrix
    of the terms is kept as they are pushed."""

    def __init__(self, base: np.ndarray, capacity: int = 32) -> None:
        self.base = np.array(base, dtype=np.float64, order="C")
        k, n = self.base.shape
        self._init_queue(k, capacity)
        self.terms = np.zeros((k, capacity, n))
        self.gram = np.zeros((k, capacity, capacity))
        self._synced = 0
        self._value = None

    def push(self, t: np.ndarray, coef: np.ndarray | float = 0.0) -> int:
        if self.count == self.capacity:
            self._sync()
            extra = self.capacity
            self.terms = np.pad(self.terms, [(0, 0), (0, extra), (0, 0)])
            self.coef = np.pad(self.coef, [(0, 0), (0, extra)])
            self.gram = np.pad(self.gram, [(0, 0), (0, extra), (0, extra)])
        c = self.count
        self.terms[:, c] = t
        self.coef[:, c] = coef
        self.count += 1
        if np.any(self.coef[:, c] != 0.0):
            self._value = None
        return c

    def set_coefficients(self, coef: np.ndarray) -> None:
        super().set_coefficients(coef)
        self._value = None

    def value(self) -> np.ndarray:
        """The current vectors (K, n)."""
        if self._value is None:
            c = self.count
            self._value = self.base.copy() if not c else \
                self.base + np.matmul(self.coef[:, None, :c], self.terms[:, :c])[:, 0, :]
        return self._value.copy()

    def _sync(self) -> None:
        c, u = self.count, self._synced
        if u < c:
            rows = np.matmul(self.terms[:, :c], self.terms[:, u:c].transpose(0, 2, 1))
            self.gram[:, :c, u:c] = rows
            self.gram[:, u:c, :c] = rows.transpose(0, 2, 1)
            self._synced = c

    def term_grams(self, index: np.ndarray) -> np.ndarray:
        self._sync()
        return self.gram[:, index[:, None], index[None, :]]

    def flush(self, keep: np.ndarray | None = None) -> np.ndarray:
        keep = np.zeros(0, dtype=int) if keep is None else np.asarray(keep, dtype=int)
        if self.count:
            self._sync()
            self.base = self.value()
            nk = len(keep)
            kept, gram = self.terms[:, keep], self.gram[:, keep[:, None], keep[None, :]]
            self.coef[:, :self.count] = 0.0
            self.count = nk
            self.terms[:, :nk] = kept
            self.gram[:, :nk, :nk] = gram
            self._synced = nk
        return np.arange(len(keep))

    def take(self, rows: np.ndarray) -> "QueuedVector":
        new = object.__new__(QueuedVector)
        for name in ("base", "coef", "terms", "gram"):
            setattr(new, name, getattr(self, name)[rows])
        new.count, new._synced = self.count, self._synced
        new._value = None
        return new

    def put(self, rows: np.ndarray, sub: "QueuedVector") -> None:
        self.flush()
        sub.flush()
        self.base[rows] = sub.base
        self._value = None
