"""Statistics of the pretrained end-to-end vector beta_hat_s.

Pretraining on n_s = gamma_s d noisy source samples from small initialization reaches the
min-norm interpolator (gamma_s < 1) or least squares (gamma_s > 1); population pretraining is
the limit gamma_s -> oo.  Write beta_t = cos(theta) beta_s + sin(theta) e with e a unit vector
orthogonal to beta_s (coordinates (1, 0) and (cos, sin) in the orthonormal basis (beta_s, e)).

* gamma_s < 1: beta_hat_s = P_s beta_s + X_s^+ eps_s.
  N_s = |beta_hat_s|^2 -> E|P_s beta_s|^2 + E|X_s^+ eps_s|^2 (cross term: mean zero, eps_s independent);
  O_s = beta_hat_s . beta_t -> E[beta_s^T P_s beta_t] (noise term mean zero) = c (beta_s . beta_t).
* gamma_s > 1: beta_hat_s = beta_s + (X_s^T X_s)^{-1} X_s^T eps_s.

The finite-size expectations then go to their d -> oo limits at n_s = gamma_s d.
"""
from __future__ import annotations

import sympy as sp

from symtransfer import formulas
from symtransfer.symbols import gamma_s, n, sigma_s, theta

from . import Result, holds, same
from .primitives import (asymptotic, least_squares_noise, min_norm_noise, projection_form,
                         projection_scale)

n_s = sp.Symbol("n_s", integer=True, positive=True)
BETA_S = (sp.Integer(1), sp.Integer(0))
BETA_T = (sp.cos(theta), sp.sin(theta))


def finite_size() -> dict[str, tuple[sp.Expr, sp.Expr]]:
    """Expected (N_s, O_s) at finite n_s, d for each regime."""
    # min-norm: norm of the projected teacher plus the noise term; overlap through the projection
    c_s = projection_scale().subs(n, n_s)  # rank n_s projection of the source design
    norm_mn = projection_form(BETA_S, BETA_S, c_s) + min_norm_noise(n_s, noise=sigma_s)
    overlap_mn = projection_form(BETA_S, BETA_T, c_s)
    # least squares: unbiased, noise (X^T X)^{-1} X^T eps with independent mean-zero eps
    norm_ls = sum(a * a for a in BETA_S) + least_squares_noise(n_s, noise=sigma_s)
    overlap_ls = sum(a * b for a, b in zip(BETA_S, BETA_T))
    return {"min_norm": (norm_mn, overlap_mn), "least_squares": (norm_ls, overlap_ls)}


def derive() -> dict[str, sp.Expr]:
    """Asymptotic (N_s, O_s) for finite and population pretraining."""
    fs = finite_size()
    lim = {k: tuple(asymptotic(e, n_s, gamma_s) for e in v) for k, v in fs.items()}
    norm = sp.Piecewise((lim["min_norm"][0], gamma_s < 1), (lim["least_squares"][0], True))
    overlap = sp.Piecewise((lim["min_norm"][1], gamma_s < 1), (lim["least_squares"][1], True))
    population = tuple(sp.limit(e, gamma_s, sp.oo) for e in lim["least_squares"])
    return {"N_finite": norm, "O_finite": overlap,
            "N_population": population[0], "O_population": population[1]}


def statistics(source: str) -> tuple[sp.Expr, sp.Expr]:
    """Derived (N_s, O_s) for 'population', 'finite' or 'penalized' (derivations.penalty)."""
    if source == "penalized":
        from .penalty import statistics as penalized

        return penalized()
    e = derive()
    return e[f"N_{source}"], e[f"O_{source}"]


def checks() -> list[Result]:
    """Derived statistics vs formulas.source_statistics; population = gamma_s -> oo limit."""
    e = derive()
    shipped_n, shipped_o = formulas.source_statistics("finite")
    pop_n, pop_o = formulas.source_statistics("population")
    ls_branch = {gamma_s < 1: sp.false}
    limit_of_shipped = [sp.limit(x.xreplace(ls_branch), gamma_s, sp.oo) for x in (shipped_n, shipped_o)]
    return [
        same(e["N_finite"], shipped_n, "source: N_s finite vs source_statistics('finite')[0]"),
        same(e["O_finite"], shipped_o, "source: O_s finite vs source_statistics('finite')[1]"),
        same(e["N_population"], pop_n, "source: N_s population vs source_statistics('population')[0]"),
        same(e["O_population"], pop_o, "source: O_s population vs source_statistics('population')[1]"),
        holds("source: shipped population stats = gamma_s -> oo limit of shipped finite stats",
              limit_of_shipped[0] == pop_n and sp.simplify(limit_of_shipped[1] - pop_o) == 0,
              f"limits {limit_of_shipped}"),
    ]
