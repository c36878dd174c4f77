"""The shipped expressions of LP-FT: linear probing (refit the readout), then fine-tuning.

Derived in ``derivations/lp_ft.py`` from gradient flow's conservation laws. Pretraining leaves
balanced rank-1 weights, ``beta_hat_s = s0^L u`` (``N_s = s0^(2L)``). The probe refits the
readout W_L on the frozen features: its least-squares coefficient on the feature direction u
is ``t -> O_s / sqrt(N_s)``, so ``W_L = (t / s0^(L-1)) u_L`` and the last imbalance
``W_(L-1)^T W_(L-1) - W_L W_L^T`` becomes ``s0^2 (1 - r) u_L u_L^T`` with

    r = t^2 / N_s -> O_s^2 / N_s^2        (population: cos^2 theta)

(zero when the probe keeps the pretrained coefficient, r = 1). Fine-tuning from there conserves
it, keeps the rank-1 family and freezes ``P_perp W_1``; with ``q = |w|^2 = s0^2 kappa``
(W_1 = w u_2^T) the endpoint ``X^+ y + c P_perp beta_hat_s`` has

    kappa^(L-2) (kappa - (1 - r)) (kappa - (1 - gamma)) = B / N_s,
    c^2 = kappa^(L-2) (kappa - (1 - r)),    sign(c) = sign(t),

kappa the root above ``max(1 - r, 1 - gamma, 0)`` (:class:`ProbedRoot`); at r = 1 this is
fine-tuning's ``kappa^L - (1-gamma) kappa^(L-1) = B/N_s``. Since ``c O_s = |c| |O_s|``, the
risk below gamma = 1 is ``(1-gamma)(c^2 N_s - 2 |c| |O_s| + 1) + sigma^2 gamma/(1-gamma)``; above,
the target data pin it to least squares (scratch).
"""
from __future__ import annotations

import mpmath
import sympy as sp

from ._roots import boundary_root_mpmath, probed_root_mpmath
from .formulas import (
    _noise_least_squares,
    _noise_min_norm,
    min_norm_squared_norm,
    source_statistics,
)
from .symbols import depth, gamma, sigma, theta

#: the pretraining sources LP-FT has a theory for
SOURCES = ("population", "finite")


class ProbedRoot(sp.Function):
    """``ProbedRoot(L, alpha, beta, b)``: the root x of ``x^(L-2) (x - alpha) (x - beta) = b``
    above ``max(alpha, beta)`` (and above 0 for L >= 3), for an integer L >= 2 and b > 0.

    Unique: on that half-line the left side increases from 0 to infinity. It is LP-FT's kappa,
    the squared norm of W_1's left vector after fine-tuning relative to pretraining.
    ``doit()`` gives the quadratic formula for L = 2; ``evalf`` works at any precision
    (:func:`symtransfer._roots.probed_root_mpmath`).
    """

    nargs = 4

    @classmethod
    def eval(cls, L, alpha, beta, b):  # noqa: D102 - sympy hook; stays unevaluated
        return None

    def doit(self, deep: bool = True, **hints):
        args = [arg.doit(deep=deep, **hints) if deep else arg for arg in self.args]
        L, alpha, beta, b = args
        if L == 2:
            return (alpha + beta + sp.sqrt((alpha - beta) ** 2 + 4 * b)) / 2
        return self.func(*args)

    def _eval_evalf(self, prec):
        values = [arg._to_mpmath(prec) if arg.is_number else None for arg in self.args]
        if any(v is None for v in values):
            return None
        L, alpha, beta, b = values
        if not b > 0:  # no root (a branch that is not taken, e.g. gamma > 1)
            return sp.nan
        with mpmath.workprec(prec):
            return sp.Float(probed_root_mpmath(int(L), alpha, beta, b), precision=prec)

    def fdiff(self, argindex: int = 1):
        """Implicit differentiation of ``x^(L-2)(x - alpha)(x - beta) - b = 0``."""
        L, alpha, beta, b = self.args
        x, xs = self, sp.Dummy("x")
        fx = xs ** (L - 2) * (xs - alpha) * (xs - beta)
        dfdx = sp.diff(fx, xs).subs(xs, x)
        if argindex == 2:
            return x ** (L - 2) * (x - beta) / dfdx
        if argindex == 3:
            return x ** (L - 2) * (x - alpha) / dfdx
        if argindex == 4:
            return 1 / dfdx
        raise sp.ArgumentIndexError(self, argindex)

    def _latex(self, printer, exp=None):
        L, alpha, beta, b = self.args
        power = {0: "", 1: "x"}.get(L - 2, "x^{%s}" % printer._print(L - 2))
        tex = (r"\operatorname{root}_{>}\left[%s\left(x - %s\right)\left(x - %s\right) = %s"
               r"\right]" % (power, printer.parenthesize(alpha, 50),
                             printer.parenthesize(beta, 50), printer.parenthesize(b, 50)))
        return tex if exp is None else r"\left(%s\right)^{%s}" % (tex, exp)


class BoundaryRoot(sp.Function):
    """``BoundaryRoot(L, beta, b)``: the root x > 1 of ``x^(L-2) ((x - 1)(x - beta) + b/4) = b``
    for an integer L >= 2, beta < 1 and b > 0: LP-FT's kappa on its phase boundary T = 0
    (:func:`lp_ft_phase_boundary`).

    Unique: the left side is increasing for x > 1 and equals b/4 < b at x = 1 and at least
    4 (x - 1)(x - beta) + b > b at ``x^(L-2) = 4``. ``doit()`` gives the quadratic formula
    for L = 2; ``evalf`` works at any precision (:func:`symtransfer._roots.boundary_root_mpmath`).
    """

    nargs = 3

    @classmethod
    def eval(cls, L, beta, b):  # noqa: D102 - sympy hook; stays unevaluated
        return None

    def doit(self, deep: bool = True, **hints):
        args = [arg.doit(deep=deep, **hints) if deep else arg for arg in self.args]
        L, beta, b = args
        if L == 2:
            return (1 + beta + sp.sqrt((1 - beta) ** 2 + 3 * b)) / 2
        return self.func(*args)

    def _eval_evalf(self, prec):
        values = [arg._to_mpmath(prec) if arg.is_number else None for arg in self.args]
        if any(v is None for v in values):
            return None
        L, beta, b = values
        if not (b > 0 and beta < 1):  # no root (a branch that is not taken, e.g. gamma > 1)
            return sp.nan
        with mpmath.workprec(prec):
            return sp.Float(boundary_root_mpmath(int(L), beta, b), precision=prec)

    def fdiff(self, argindex: int = 1):
        """Implicit differentiation of ``x^(L-2)((x - 1)(x - beta) + b/4) - b = 0``."""
        L, beta, b = self.args
        x, xs = self, sp.Dummy("x")
        f = xs ** (L - 2) * ((xs - 1) * (xs - beta) + b / 4) - b
        dfdx = sp.diff(f, xs).subs(xs, x)
        if argindex in (2, 3):
            return -sp.diff(f, (beta, b)[argindex - 2]).subs(xs, x) / dfdx
        raise sp.ArgumentIndexError(self, argindex)

    def _latex(self, printer, exp=None):
        L, beta, b = self.args
        power = {0: "", 1: "x"}.get(L - 2, "x^{%s}" % printer._print(L - 2))
        tex = (r"\operatorname{root}_{>1}\left[%s\left((x - 1)(x - %s) + \tfrac{%s}{4}"
               r"\right) = %s\right]" % (power, printer.parenthesize(beta, 50),
                                         printer._print(b), printer.parenthesize(b, 50)))
        return tex if exp is None else r"\left(%s\right)^{%s}" % (tex, exp)


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"LP-FT has a theory for source in {SOURCES}, got {source!r}")


def probe_ratio(source: str) -> sp.Expr:
    """r = (t / |beta_hat_s|)^2 -> O_s^2 / N_s^2: the probe's coefficient on the feature
    direction relative to the pretrained one, squared."""
    _check_source(source)
    norm2, overlap = source_statistics(source)
    return sp.piecewise_fold(overlap ** 2 / norm2 ** 2)


def lp_ft_scale(source: str, L=depth) -> sp.Expr:
    """kappa = ProbedRoot(L, 1 - r, 1 - gamma, B/N_s)."""
    norm2, _ = source_statistics(source)
    return ProbedRoot(L, sp.piecewise_fold(1 - probe_ratio(source)), 1 - gamma,
                      sp.piecewise_fold(min_norm_squared_norm() / norm2))


def lp_ft_scale_squared(source: str, L=depth) -> sp.Expr:
    """c^2 = kappa^(L-2) (kappa - (1 - r)): the squared null-space scale after LP-FT."""
    kappa = lp_ft_scale(source, L)
    return kappa ** (L - 2) * (kappa - 1 + probe_ratio(source))


def lp_ft(source: str, L=depth) -> sp.Expr:
    """Risk of LP-FT: ``(1-gamma)(c^2 N_s - 2|c||O_s| + 1) + sigma^2 gamma/(1-gamma)`` below
    gamma = 1, least squares (the scratch risk) above."""
    _check_source(source)
    norm2, overlap = source_statistics(source)
    c2 = lp_ft_scale_squared(source, L)
    below = (1 - gamma) * (c2 * norm2 - 2 * sp.sqrt(c2) * sp.Abs(overlap) + 1) \
        + _noise_min_norm(gamma, sigma)
    return sp.Piecewise((below, gamma < 1), (_noise_least_squares(gamma, sigma), True))


def lp_ft_phase_boundary(source: str, L=depth) -> sp.Expr:
    """theta* of LP-FT: T = (1-gamma)|c|(2|O_s| - |c| N_s) vanishes at ``c^2 = 4 r``. With
    ``c^2 (kappa - (1-gamma)) = b`` (b = B/N_s) and ``c^2 = kappa^(L-2)(kappa - 1 + r)`` this is
    ``kappa* = BoundaryRoot(L, 1-gamma, b)``, ``r* = b / (4 (kappa* - (1-gamma)))`` and
    ``cos^2 theta* = r* N_s^2 / k^2`` (``k = O_s/cos theta``). Depth 2:
    ``r* = (sqrt(gamma^2 + 3 b) - gamma)/6``. T > 0 for theta < theta* and for
    theta > pi - theta*; no boundary (NaN) where ``cos^2 theta* > 1`` and for gamma >= 1."""
    _check_source(source)
    norm2, overlap = source_statistics(source)
    b = sp.piecewise_fold(min_norm_squared_norm() / norm2)
    r_star = b / (4 * (BoundaryRoot(L, 1 - gamma, b) - (1 - gamma)))
    k = sp.piecewise_fold(overlap / sp.cos(theta))
    cos2 = sp.piecewise_fold(r_star * norm2 ** 2 / k ** 2)
    return sp.Piecewise((sp.acos(sp.sqrt(cos2)), gamma < 1), (sp.nan, True))


__all__ = ["ProbedRoot", "BoundaryRoot", "probe_ratio", "lp_ft_scale", "lp_ft_scale_squared", "lp_ft",
           "lp_ft_phase_boundary", "SOURCES"]
