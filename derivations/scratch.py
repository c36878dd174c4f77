"""Training from scratch on the target data (the baseline).

From small initialization gradient flow reaches the min-norm interpolator (gamma < 1) or the
least-squares solution (gamma > 1):

* gamma < 1: beta_hat = X^+ y = P beta_t + X^+ eps, so beta_hat - beta_t = -P_perp beta_t + X^+ eps.
  X^+ eps lies in the row space, so the cross term vanishes identically and
  E R = E|P_perp beta_t|^2 + E|X^+ eps|^2 = (1 - n/d) + sigma^2 n/(d-n-1)   (primitives a, b).
* gamma > 1: beta_hat - beta_t = (X^T X)^{-1} X^T eps, E R = sigma^2 d/(n-d-1)   (primitive b).

The finite-size expectation is exact for n <= d-2 / n >= d+2; at n = gamma d, d -> oo, the
condition n <= d - 2 becomes gamma < 1 and each branch tends to its limit.
"""
from __future__ import annotations

import sympy as sp

from symtransfer import formulas
from symtransfer.symbols import d, gamma, n

from . import Result, same
from .primitives import asymptotic, least_squares_noise, min_norm_noise, null_form


def finite_branches() -> tuple[sp.Expr, sp.Expr]:
    """(min-norm, least-squares) exact expected risk at finite n, d, unit |beta_t|."""
    bias = null_form([1], [1])  # E|P_perp beta_t|^2 with |beta_t| = 1
    return bias + min_norm_noise(), least_squares_noise()


def derive() -> dict[str, sp.Expr]:
    """Finite-size (n = gamma d substituted) and asymptotic scratch risk."""
    below, above = finite_branches()
    finite = sp.Piecewise((below, n <= d - 2), (above, True))
    return {
        "finite_n": finite,
        "finite": finite.subs(n, gamma * d),
        "asymptotic": sp.Piecewise((asymptotic(below), gamma < 1), (asymptotic(above), True)),
    }


def checks() -> list[Result]:
    """Derived finite and asymptotic scratch risks vs the shipped ones."""
    e = derive()
    return [
        same(e["finite"], formulas.scratch_finite(), "scratch: finite-size E R vs scratch_finite()"),
        same(e["asymptotic"], formulas.scratch(), "scratch: d -> oo limit vs scratch()"),
    ]
