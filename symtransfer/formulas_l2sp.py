"""The expressions of L2-SP (regularized fine-tuning toward the pretrained weights), as sympy.

End-to-end L2-SP is ridge regression toward the pretrained vector,

    beta_hat = argmin |y - X beta|^2/n + lam |beta - beta_hat_s|^2
             = beta_hat_s + (X^T X/n + lam)^{-1} X^T (y - X beta_hat_s)/n,

i.e. ``beta_hat_s`` plus ridge regression on the residual target, whose teacher is
``w = beta_t - beta_hat_s``. The design is independent of ``beta_hat_s``, so by rotation
invariance the risk is the Marchenko-Pastur ridge risk of :func:`symtransfer.formulas.ridge_scratch`
with its bias scaled by ``|w|^2 = N_s - 2 O_s + 1`` (``2(1 - cos theta)`` after population
pretraining). ``derivations/l2sp.py`` derives every expression here from the Marchenko-Pastur
primitive of ``derivations/ridge.py`` and checks it against these.

The deep-network L2-SP (gradient flow on all layers with the penalty ``lam sum_l |W_l - W_l^pre|^2``)
has, at depth 2, stationary points that are end-to-end L2-SP toward ``t beta_hat_s`` with the
penalty ``lam/t^2``; :func:`network_equation` is the scalar equation that fixes t.
"""
from __future__ import annotations

import sympy as sp

from . import formulas
from .formulas import _noise_least_squares, _noise_min_norm
from .symbols import gamma, lam, sigma, theta

#: the depth-2 network's readout scale (w_2 = t v at the stationary point)
t = sp.Symbol("t", positive=True)


def residual_norm2(source: str) -> sp.Expr:
    """``|beta_t - beta_hat_s|^2 = N_s - 2 O_s + 1``: the squared norm of the teacher left to
    learn after pretraining (deterministic equivalent; 2(1 - cos theta) for a population source)."""
    if source == "population":  # 2 - 2 cos(theta), without its cancellation at small theta
        return 4 * sp.sin(theta / 2) ** 2
    norm2, overlap = formulas.source_statistics(source)
    return norm2 - 2 * overlap + 1


def _ridge_parts() -> tuple[sp.Expr, sp.Expr]:
    """(bias per unit teacher norm, noise term) of ridge at penalty lam, in the
    cancellation-free form of :func:`symtransfer.formulas.ridge_scratch`."""
    full = formulas.ridge_scratch()
    bias = full.subs(sigma, 0)
    return bias, full - bias


def l2sp(source: str = "population") -> sp.Expr:
    """Asymptotic risk of end-to-end L2-SP at penalty lam >= 0.

    ``lam > 0``: ``|w|^2 lam^2 m'(-lam) + sigma^2 psi (m(-lam) - lam m'(-lam))`` (ridge on the
    residual target, m the Marchenko-Pastur Stieltjes transform, psi = 1/gamma).
    ``lam = 0``: the min-norm interpolator from beta_hat_s (gamma < 1),
    ``(1 - gamma)|w|^2 + sigma^2 gamma/(1 - gamma)`` -- the paper's fine-tuning form -- and least
    squares above (gamma > 1). Infinite at gamma = 1 with lam = 0 and sigma > 0 only.
    """
    r2 = residual_norm2(source)
    bias, noise = _ridge_parts()
    return sp.Piecewise((r2 * bias + noise, lam > 0),
                        ((1 - gamma) * r2 + _noise_min_norm(gamma, sigma), gamma < 1),
                        (_noise_least_squares(gamma, sigma), True))


def _per_branch(r2: sp.Expr, build) -> sp.Expr:
    """``build(r2)`` branch by branch of ``r2`` (the finite source's |w|^2 is piecewise in
    gamma_s): a condition on r2 itself (``r2 > 0``) then holds no Piecewise, which sympy
    would otherwise rewrite into if-then-else logic and simplify for seconds."""
    r2 = sp.piecewise_fold(r2)
    if not isinstance(r2, sp.Piecewise):
        return sp.piecewise_fold(build(r2))
    return sp.piecewise_fold(sp.Piecewise(*[(build(e), c) for e, c in r2.args]))


def l2sp_optimal_penalty(source: str = "population") -> sp.Expr:
    """``lam* = sigma^2/(gamma |w|^2)``: dR/dlam = (|w|^2 lam - sigma^2 psi)(2 m' - lam m'') vanishes
    only there. ``inf`` where nothing is left to learn (|w| = 0: stay at beta_hat_s)."""
    return _per_branch(residual_norm2(source), lambda r2: sp.Piecewise(
        (sp.oo, sp.Eq(r2, 0)), (sigma ** 2 / (gamma * r2), True)))


def l2sp_optimal(source: str = "population") -> sp.Expr:
    """Risk of end-to-end L2-SP at lam*: ``|w|^2 lam* m(-lam*)``, in closed form

        R* = ( sqrt(s^2 + 4 sigma^2 |w|^2) - s )/2,   s = |w|^2 (gamma - 1) + sigma^2,

    (the optimal-ridge risk with teacher norm |w|; |w| = 1 is scratch's optimal ridge). Finite at
    gamma = 1. Written without cancellation for s > 0, as in :func:`formulas.optimal_ridge`.
    """
    def build(r2: sp.Expr) -> sp.Expr:
        s = r2 * (gamma - 1) + sigma ** 2
        stable = 2 * sigma ** 2 * r2 / (s * (1 + sp.sqrt(1 + 4 * sigma ** 2 * r2 / s ** 2)))
        return sp.Piecewise((stable, s > 0), ((sp.sqrt(s ** 2 + 4 * sigma ** 2 * r2) - s) / 2,
                                              True))

    return _per_branch(residual_norm2(source), build)


def network_equation(cos: sp.Expr, M0: sp.Expr, M1: sp.Expr) -> sp.Expr:
    """Depth-2 network L2-SP, population source: the equation ``F(t) = 0`` for the readout scale
    t at the stationary point, with ``lam' = lam/t^2``, ``M0 = m(-lam')``, ``M1 = m'(-lam')``:

        F = t^4 - t^3 - t (cos - t)(1 - lam' M0) - |delta|^2,
        |delta|^2 = |w_t|^2 (1 - 2 lam' M0 + lam'^2 M1) + sigma^2 psi (M0 - lam' M1),

    ``|w_t|^2 = 1 - 2 t cos + t^2`` (derived in ``derivations/l2sp.py``)."""
    eff = lam / t ** 2
    w2 = 1 - 2 * t * cos + t ** 2
    delta2 = w2 * (1 - 2 * eff * M0 + eff ** 2 * M1) + sigma ** 2 / gamma * (M0 - eff * M1)
    return t ** 4 - t ** 3 - t * (cos - t) * (1 - eff * M0) - delta2


def ridge_norm2() -> sp.Expr:
    """Asymptotic ``|beta_ridge|^2`` of ridge regression on the target at penalty lam > 0 (unit
    teacher): ``1 - 2 lam m(-lam) + lam^2 m'(-lam) + sigma^2 psi (m(-lam) - lam m'(-lam))``."""
    z = sp.Symbol("z")
    m = formulas.stieltjes_mp(z)
    M0, M1 = m.subs(z, -lam), sp.diff(m, z).subs(z, -lam)
    return 1 - 2 * lam * M0 + lam ** 2 * M1 + sigma ** 2 / gamma * (M0 - lam * M1)


def weight_decay_of_ridge(L, norm2: sp.Expr | None = None) -> sp.Expr:
    """The weight decay of a depth-L scratch network whose minimizer is ridge at penalty lam:
    ``lam_wd = lam |beta|^(2 - 2/L)`` (stationarity is ridge at ``lam_wd |beta|^(2/L - 2)``),
    ``|beta|^2`` = :func:`ridge_norm2` unless given. At lam = sigma^2/gamma it is the weight decay
    whose network equals optimal ridge (where gradient flow reaches the penalized minimum)."""
    norm2 = ridge_norm2() if norm2 is None else norm2
    return lam * norm2 ** (1 - sp.Integer(1) / L)
