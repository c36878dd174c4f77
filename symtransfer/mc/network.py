"""Batched deep linear networks ``f(x) = x^T W_1 W_2 ... W_L`` in full parametrization.

``W_1, ..., W_{L-1}`` are d x d and ``W_L`` is a d-vector, for K independent instances. While a
network trains on a :class:`~symtransfer.mc.data.Problem` with row-space basis V, its first
layer is held as ``V^T W_1`` (r x d): the gradient of W_1 has columns in the row space, so
``P_perp W_1`` stays exactly at its value when training started (``frozen``). Every layer is
held as a queue of low-rank terms (:mod:`symtransfer.mc.lowrank`) so that an integrator moves
the weights by setting coefficients, not by rewriting (K, d, d) arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .data import Problem
from .lowrank import LowRankUpdated, QueuedVector


@dataclass
class Weights:
    """Dense weights of K networks: ``layers`` are (K, d, d) arrays, ``last`` is (K, d)."""

    layers: list[np.ndarray]
    last: np.ndarray

    @property
    def depth(self) -> int:
        return len(self.layers) + 1

    def end_to_end(self) -> np.ndarray:
        """beta_hat = W_1 ... W_L, (K, d)."""
        v = self.last
        for W in reversed(self.layers):
            v = np.einsum("kij,kj->ki", W, v)
        return v

    def features(self) -> np.ndarray:
        """The hidden-feature map ``W_1 ... W_{L-1}`` (K, d, d): h(x) = (W_1...W_{L-1})^T x."""
        F = self.layers[0]
        for W in self.layers[1:]:
            F = np.matmul(F, W)
        return F


def small_init(rngs: list[np.random.Generator], d: int, depth: int, alpha: float,
               kind: str = "random") -> Weights:
    """Small initialization of scale alpha.

    ``kind="random"``: i.i.d. N(0, alpha^2/d) entries (each layer's singular values ~ alpha).
    ``kind="balanced"``: the balanced rank-1 point ``W_l = alpha u_l u_{l+1}^T``,
    ``W_L = alpha u_L`` with random unit vectors; it satisfies
    ``W_l^T W_l = W_{l+1} W_{l+1}^T`` exactly (which, with a d x 1 last layer, forces rank 1).
    """
    if kind == "random":
        layers = [np.stack([rng.standard_normal((d, d)) for rng in rngs]) * (alpha / np.sqrt(d))
                  for _ in range(depth - 1)]
        last = np.stack([rng.standard_normal(d) for rng in rngs]) * (alpha / np.sqrt(d))
        return Weights(layers, last)
    if kind == "balanced":
        units = [np.stack([_unit(rng, d) for rng in rngs]) for _ in range(depth)]
        layers = [alpha * np.einsum("ki,kj->kij", units[l], units[l + 1])
                  for l in range(depth - 1)]
        return Weights(layers, alpha * units[-1])
    raise ValueError(f"init must be 'random' or 'balanced', got {kind!r}")


def _unit(rng: np.random.Generator, d: int) -> np.ndarray:
    v = rng.standard_normal(d)
    return v / np.linalg.norm(v)


class Trainable:
    """A network being trained on one problem: first layer in row-space coordinates."""

    def __init__(self, weights: Weights, problem: Problem) -> None:
        self.problem = problem
        W1 = weights.layers[0]
        V = problem.basis
        self.frozen = None if V is None else W1
        first = W1 if V is None else np.matmul(V.transpose(0, 2, 1), W1)
        # rows weighted by the data's curvatures lam_i: |Lam^(1/2) W_1|_F bounds the Hessian
        self.first = LowRankUpdated(first, row_weights=problem.curvature)
        self.middle = [LowRankUpdated(W) for W in weights.layers[1:]]
        self.last_layer = QueuedVector(weights.last)

    def take(self, rows: np.ndarray) -> "Trainable":
        """The instances ``rows`` as a network of their own, for training only (copies of the
        weights and queues; the sub-problem has no basis, so :meth:`weights` and
        :meth:`end_to_end` are for the original network after :meth:`put`)."""
        new = object.__new__(Trainable)
        p = self.problem
        new.problem = replace(p, basis=None, curvature=p.curvature[rows], target=p.target[rows])
        new.frozen = None
        new.first = self.first.take(rows)
        new.middle = [layer.take(rows) for layer in self.middle]
        new.last_layer = self.last_layer.take(rows)
        return new

    def put(self, rows: np.ndarray, sub: "Trainable") -> None:
        """Write the weights of ``sub`` (from :meth:`take`) back into the instances ``rows``."""
        for mine, theirs in zip(self.matrices, sub.matrices):
            mine.put(rows, theirs)
        self.last_layer.put(rows, sub.last_layer)

    @property
    def matrices(self) -> list[LowRankUpdated]:
        """W_1 (row-space coordinates), W_2, ..., W_{L-1}."""
        return [self.first] + self.middle

    @property
    def last(self) -> np.ndarray:
        """The current last layer W_L (K, d)."""
        return self.last_layer.value()

    def forward(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """``z = V^T beta_hat`` and the partial products ``v_l = W_l ... W_L`` (l = 2..L)."""
        vs = [self.last]
        for layer in reversed(self.middle):
            vs.append(layer.matvec(vs[-1]))
        vs.reverse()  # vs[0] = W_2 ... W_L, vs[-1] = W_L
        return self.first.matvec(vs[0]), vs

    def weights(self) -> Weights:
        """Dense weights, with the frozen null-space part of W_1 restored."""
        last = self.last
        first = self.first.dense()
        V = self.problem.basis
        if V is None:
            W1 = first
        else:
            W1 = self.frozen - np.matmul(V, np.matmul(V.transpose(0, 2, 1), self.frozen)) \
                + np.matmul(V, first)
        return Weights([W1] + [m.dense() for m in self.middle], last)

    def end_to_end(self) -> np.ndarray:
        """beta_hat (K, d) without forming dense weights."""
        z, vs = self.forward()
        V = self.problem.basis
        if V is None:
            return z
        frozen_v = np.einsum("kij,kj->ki", self.frozen, vs[0])
        perp = frozen_v - np.einsum("kdr,kr->kd", V, np.einsum("kdr,kd->kr", V, frozen_v))
        return perp + np.einsum("kdr,kr->kd", V, z)
