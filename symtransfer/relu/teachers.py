"""Two-layer ReLU teachers on Gaussian inputs, with a controlled feature overlap.

A teacher is ``f(x) = sum_k a_k relu(u_k.x) + c`` with x ~ N(0, I_d). Every teacher here is
**centred and normalized**: ``E f = 0`` and ``E f^2 = readout_scale^2`` (1 by default), so a
predictor that knows nothing about the task (the constant 0) has risk 1, as in the linear
model where ``|beta_t| = 1``; errors of the two models are on the same scale. The constant c
is the centring offset ``-sum_k a_k E relu(u_k.x)``.

* Source: features ``u_k = e_k`` (k < teacher_width), readout ``a_k`` all equal (positive).
* Target: the first ``shared`` features are the source's; every other one is rotated by the
  angle ``theta`` into a fresh direction, ``u_k = cos(theta) e_k + sin(theta) e_{k+teacher_width}``
  (theta = 0: the same features, pi/2: orthogonal ones, as ``beta_t`` in the linear model).
  ``readout='flip'`` negates the readout of every other neuron (k = 1, 3, ...), and a
  sequence of teacher_width numbers sets the readout outright (before normalization): a
  different function of the *same* features; ``readout_scale`` multiplies the target, the
  analog of ``beta_t = k beta_s`` in the paper's Thm 2.2. Together they make targets that lie
  in the source's feature space yet are far from the source in distribution
  (:func:`teacher_distance`).

Teachers are the same for every instance (as ``beta_s = e_1`` in ``symtransfer.mc``);
instances differ in initialization and data. ``d >= 2 teacher_width`` is required.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .gaussian import relu_kernel, relu_mean

READOUTS = ("same", "flip")


@dataclass(frozen=True)
class Teacher:
    """``f(x) = a . relu(U x) + offset``: features U (k, d), readout a (k,), offset scalar."""

    U: np.ndarray
    a: np.ndarray
    offset: float

    @property
    def d(self) -> int:
        return int(self.U.shape[1])

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """f at the rows of X (..., n, d)."""
        return np.maximum(X @ self.U.T, 0.0) @ self.a + self.offset

    def mean(self) -> float:
        """``E f`` (0 for the teachers built here)."""
        return float(self.a @ relu_mean(self.U) + self.offset)

    def second_moment(self) -> float:
        """``E f^2`` (readout_scale^2 for the teachers built here)."""
        m = self.a @ relu_mean(self.U)
        return float(self.a @ relu_kernel(self.U, self.U) @ self.a + 2 * self.offset * m
                     + self.offset ** 2)


def _normalized(U: np.ndarray, a: np.ndarray, scale: float) -> Teacher:
    """Rescale the readout and add the offset so that E f = 0 and E f^2 = scale^2."""
    mean = float(a @ relu_mean(U))
    var = float(a @ relu_kernel(U, U) @ a) - mean ** 2
    c = scale / math.sqrt(var)
    return Teacher(U, a * c, -mean * c)


def source_teacher(d: int, teacher_width: int = 3) -> Teacher:
    """Features e_1..e_k, equal positive readouts; centred, unit second moment."""
    return _normalized(np.eye(teacher_width, d), np.ones(teacher_width), 1.0)


def target_teacher(d: int, theta: float, *, teacher_width: int = 3, shared: int = 0,
                   readout: str = "same", readout_scale: float = 1.0) -> Teacher:
    """The target teacher: ``shared`` source features kept, the others rotated by ``theta``.

    ``readout``: 'same' (all ones, the source's), 'flip' (a_1, a_3, ... negated) or a
    sequence of teacher_width numbers; the result is centred with ``E f^2 = readout_scale^2``.
    """
    U = np.eye(teacher_width, d)
    rotated = np.arange(teacher_width) >= shared
    fresh = np.eye(teacher_width, d, k=teacher_width)
    U[rotated] = math.cos(theta) * U[rotated] + math.sin(theta) * fresh[rotated]
    a = readout_vector(readout, teacher_width)
    return _normalized(U, a, readout_scale)


def readout_vector(readout, teacher_width: int) -> np.ndarray:
    """The target's readout before normalization (ValueError/TypeError naming 'readout')."""
    if isinstance(readout, str):
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS} or a sequence of "
                             f"{teacher_width} numbers, got {readout!r}")
        a = np.ones(teacher_width)
        if readout == "flip":
            a[1::2] = -1.0
        return a
    try:
        a = np.array(readout, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"readout must be 'same', 'flip' or a sequence of numbers, got "
                        f"{readout!r}") from None
    if a.shape != (teacher_width,) or not np.isfinite(a).all() or not np.any(a):
        raise ValueError(f"readout must hold {teacher_width} finite numbers, not all 0, got "
                         f"{readout!r}")
    return a


def teacher_cross(f: Teacher, g: Teacher) -> float:
    """``E f(x) g(x)`` in closed form."""
    mf, mg = f.a @ relu_mean(f.U), g.a @ relu_mean(g.U)
    return float(f.a @ relu_kernel(f.U, g.U) @ g.a + f.offset * mg + g.offset * mf
                 + f.offset * g.offset)


def teacher_distance(f: Teacher, g: Teacher) -> float:
    """Squared L2 distance ``E (f(x) - g(x))^2`` between two teachers, in closed form.

    With the same Gaussian input law and Gaussian label noise of the same std sigma on both
    tasks, ``KL(p_f || p_g) = E (f - g)^2 / (2 sigma^2)``: the distance between the source and
    target *distributions* is this number over 2 sigma^2.
    """
    return teacher_cross(f, f) + teacher_cross(g, g) - 2.0 * teacher_cross(f, g)
