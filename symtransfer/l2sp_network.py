"""Depth-2 network L2-SP (penalty on every layer toward the pretrained weights), asymptotically.

``derivations/l2sp.py`` derives that a stationary point of
``|y - X W_1 w_2|^2/n + lam (|W_1 - W_1^pre|^2 + |w_2 - w_2^pre|^2)`` from the population-pretrained
balanced network is end-to-end L2-SP toward ``t beta_s`` with penalty ``lam/t^2``, where the
readout scale t solves the scalar equation :func:`symtransfer.formulas_l2sp.network_equation`
(Marchenko-Pastur moments at ``-lam/t^2``). It has no closed form: this module solves it with
scipy (the root continued from t = 1 at lam = inf, the largest positive one; t near 0 are the
saddles with a vanishing readout) and evaluates the risk with the shipped ridge kernels. Imports
sympy on first use (to print the derived equation as a numpy function).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def _equation():
    """F(t; gamma, theta, sigma, lam) as a numpy function (lambdified from the derived sympy)."""
    import sympy as sp

    from . import formulas, formulas_l2sp
    from .symbols import gamma, lam, sigma, theta

    z = sp.Symbol("z")
    t = formulas_l2sp.t
    m = formulas.stieltjes_mp(z)
    eff = lam / t ** 2
    F = formulas_l2sp.network_equation(sp.cos(theta), m.subs(z, -eff),
                                       sp.diff(m, z).subs(z, -eff))
    return sp.lambdify((t, gamma, theta, sigma, lam), F, "numpy")


def readout_scale(gamma: float, theta: float, sigma: float, lam: float) -> float:
    """t at the stationary point reached from the pretrained weights (see the module)."""
    from scipy.optimize import brentq

    for name, value in (("gamma", gamma), ("lam", lam)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if not (0 <= theta <= np.pi) or not (sigma >= 0):
        raise ValueError(f"theta must be in [0, pi] and sigma >= 0, got {theta!r}, {sigma!r}")
    F = _equation()
    grid = np.geomspace(1e-3, 20.0, 400)
    with np.errstate(all="ignore"):
        values = np.array([F(x, gamma, theta, sigma, lam) for x in grid])
    change = np.nonzero(np.sign(values[:-1]) * np.sign(values[1:]) < 0)[0]
    if not len(change):
        raise ArithmeticError(f"no root of the t-equation in [1e-3, 20] (gamma={gamma}, "
                              f"theta={theta}, sigma={sigma}, lam={lam})")
    i = change[-1]
    return float(brentq(lambda x: F(x, gamma, theta, sigma, lam), grid[i], grid[i + 1],
                        xtol=1e-14, rtol=1e-14))


def risk(gamma: float, theta: float, sigma: float, lam: float) -> tuple[float, float]:
    """(risk, t) of depth-2 network L2-SP at penalty lam: ridge at ``lam/t^2`` on the teacher
    ``beta_t - t beta_s`` of squared norm ``1 - 2 t cos(theta) + t^2``."""
    from . import theory

    t = readout_scale(gamma, theta, sigma, lam)
    eff = lam / t ** 2
    bias = theory.risk("scratch", gamma=gamma, sigma=0.0, lam=eff)
    noise = theory.risk("scratch", gamma=gamma, sigma=sigma, lam=eff) - bias
    return float((1 - 2 * t * np.cos(theta) + t ** 2) * bias + noise), t


def optimal_lam(gamma: float, theta: float, sigma: float) -> tuple[float, float]:
    """(lam, risk) minimizing :func:`risk` over lam (scipy, bounded on log lam in [1e-4, 1e4])."""
    from scipy.optimize import minimize_scalar

    best = minimize_scalar(lambda x: risk(gamma, theta, sigma, float(np.exp(x)))[0],
                           bounds=(np.log(1e-4), np.log(1e4)), method="bounded",
                           options={"xatol": 1e-6})
    return float(np.exp(best.x)), float(best.fun)
