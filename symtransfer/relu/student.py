"""The two-layer ReLU student, batched over instances, with explicit gradients.

``f(x) = v . relu(W x) + b``: first layer W (K, m, d), readout v (K, m), output bias b (K,),
one network per instance k < K. The output bias lets the student match the mean of a
function without spending a neuron on it (ReLU features have mean ``|w|/sqrt(2 pi)``).

Two losses, both ``1/2`` mean squared error, with analytic gradients (no autodiff):

* :func:`sample_loss` on data ``(X, y)`` (K, n, d), (K, n): ``1/(2n) sum_i (f(x_i) - y_i)^2``;
* :func:`population_loss` against a teacher, ``1/2 E_x (f(x) - f_t(x))^2`` for
  x ~ N(0, I_d), in closed form (:mod:`symtransfer.relu.gaussian`); twice it is the test error.

Small initialization (:func:`small_init`): rows of W i.i.d. ``N(0, alpha^2/d I)`` (norm about
alpha), readout i.i.d. ``N(0, alpha^2)``, b = 0; the scales match, so each neuron starts
nearly balanced (gradient flow conserves ``|w_j|^2 - v_j^2``). With alpha small (default
1e-4) the network starts near the saddle at 0 and learns features (the rich regime): neurons
first align with the teacher's directions, then grow.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gaussian import relu_kernel, relu_kernel_grad, relu_mean, relu_mean_grad
from .teachers import Teacher


@dataclass
class Student:
    """Parameters of K two-layer ReLU networks: W (K, m, d), v (K, m), b (K,)."""

    W: np.ndarray
    v: np.ndarray
    b: np.ndarray

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.W, self.v, self.b

    @property
    def instances(self) -> int:
        return int(self.W.shape[0])

    def copy(self) -> "Student":
        return Student(self.W.copy(), self.v.copy(), self.b.copy())

    def take(self, index) -> "Student":
        return Student(self.W[index], self.v[index], self.b[index])

    def hidden(self, X: np.ndarray) -> np.ndarray:
        """Hidden activations ``relu(W x)`` at the rows of X (K, n, d): (K, n, m)."""
        return np.maximum(np.matmul(X, np.swapaxes(self.W, 1, 2)), 0.0)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """The outputs at the rows of X (K, n, d): (K, n)."""
        return np.einsum("knm,km->kn", self.hidden(X), self.v) + self.b[:, None]


def small_init(rngs: list[np.random.Generator], *, d: int, width: int,
               alpha: float) -> Student:
    """W rows ~ N(0, alpha^2/d I), v ~ N(0, alpha^2), b = 0; one generator per instance."""
    W = np.stack([rng.standard_normal((width, d)) for rng in rngs]) * (alpha / np.sqrt(d))
    v = np.stack([rng.standard_normal(width) for rng in rngs]) * alpha
    return Student(W, v, np.zeros(len(rngs)))


def sample_loss(s: Student, X: np.ndarray, y: np.ndarray):
    """``1/(2n) sum (f(x_i) - y_i)^2`` per instance, and its gradient (dW, dv, db).

    dW[k, j] = v_kj sum_i 1[w_kj . x_ki > 0] r_ki x_ki / n: the activation mask (as floats)
    times the residual-weighted inputs, one batched product (no (K, n, m) outer product)."""
    n = X.shape[1]
    pre = np.matmul(X, np.swapaxes(s.W, 1, 2))               # (K, n, m)
    h = np.maximum(pre, 0.0)
    r = np.matmul(h, s.v[:, :, None])[:, :, 0] + s.b[:, None] - y   # residuals (K, n)
    loss = 0.5 * np.einsum("kn,kn->k", r, r) / n
    dv = np.matmul(r[:, None, :], h)[:, 0, :] / n
    db = r.sum(axis=1) / n
    active = np.swapaxes((pre > 0).astype(np.float64), 1, 2)  # (K, m, n)
    dW = s.v[:, :, None] * np.matmul(active, r[:, :, None] * X) / n
    return loss, (dW, dv, db)


def population_loss(s: Student, t: Teacher):
    """``1/2 E (f(x) - f_t(x))^2`` over x ~ N(0, I_d) per instance, and its gradient."""
    U = t.U[None]
    mu = relu_mean(s.W)                                        # (K, m)
    G = relu_kernel(s.W, s.W)                                  # (K, m, m)
    C = relu_kernel(s.W, U)                                    # (K, m, k)
    mean_t = t.mean()
    ff = np.einsum("ki,kij,kj->k", s.v, G, s.v) + 2 * s.b * np.einsum("km,km->k", mu, s.v) \
        + s.b ** 2
    mu_v = np.einsum("km,km->k", mu, s.v)
    ft = np.einsum("ki,kij,j->k", s.v, C, t.a) + t.offset * mu_v + s.b * mean_t
    loss = 0.5 * (ff - 2 * ft + t.second_moment())
    dv = np.einsum("kij,kj->ki", G, s.v) + (s.b - t.offset)[:, None] * mu - C @ t.a
    db = s.b + mu_v - mean_t
    dW = (relu_kernel_grad(s.W, s.W, s.v[:, :, None] * s.v[:, None, :])
          - relu_kernel_grad(s.W, U, s.v[:, :, None] * t.a[None, None, :])
          + ((s.b - t.offset)[:, None] * s.v)[..., None] * relu_mean_grad(s.W))
    return loss, (dW, dv, db)


def generalization_error(s: Student, t: Teacher) -> np.ndarray:
    """Exact test error ``E_x (f(x) - f_t(x))^2`` against the noiseless teacher, per instance
    (the limit of an infinitely large fresh Gaussian test sample)."""
    return 2.0 * population_loss(s, t)[0]
