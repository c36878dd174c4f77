"""Scratch training: the reference method (no pretraining; min-norm / least squares, or ridge).

Analytic side: :func:`symtransfer.formulas.scratch` and its ridge variants, the exact
finite-d expectation. Monte-Carlo side: gradient flow from a fresh small initialization,
or ridge regression in closed form (``lam > 0`` or ``baseline='optimal_ridge'``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import Context, FiniteSize, Method, Outcome


def _risk(**_: Any):
    from .. import formulas

    return formulas.scratch()


def _ridge():
    from .. import formulas

    return formulas.ridge_scratch()


def _optimal_ridge():
    from .. import formulas

    return formulas.optimal_ridge()


def _finite():
    from .. import formulas

    return formulas.scratch_finite()


def _finite_singular(n, d) -> np.ndarray:
    """The inverse-Wishart mean diverges at |n - d| <= 1."""
    return np.asarray(abs(n - d) <= 1, dtype=bool)


def _finite_limit(n, d, params: dict, noisy: np.ndarray, out: np.ndarray) -> None:
    """Infinite with noise; without, the projection bias 1 - n/d (0 once n >= d)."""
    bias = 1 - n / d
    quiet = ~noisy
    out[quiet] = np.where(np.asarray(bias[quiet] > 0, dtype=bool), bias[quiet], 0)


def _variant(baseline: str, ridge: bool) -> str:
    tuned = baseline in ("optimal_ridge", "fair")  # 'fair': the tuned learner on both sides
    return "optimal_ridge" if tuned else ("ridge" if ridge else "")


def _closed_form(params: dict) -> bool:
    return params["lam"] > 0 or params["baseline"] in ("optimal_ridge", "fair")


def _step(ctx: Context) -> Outcome:
    """Ridge regression exactly, or training (gradient flow, or the chosen optimizer) from a
    fresh small initialization."""
    p = ctx.params
    K = p["instances"]
    if _closed_form(p):
        from ..mc.pipeline import ridge_regression

        tuned = p["baseline"] in ("optimal_ridge", "fair")
        penalty = p["sigma"] ** 2 / p["gamma"] if tuned else p["lam"]
        return Outcome(ridge_regression(ctx.problem, penalty), np.ones(K, dtype=bool),
                       {"ridge": {"lam": np.full(K, penalty)}})
    from ..mc.network import Trainable, small_init
    from ..mc.optimizers import diagnostics

    net = Trainable(small_init(ctx.streams["scratch_init"], p["d"], p["depth"], p["alpha"],
                               p["init"]), ctx.problem)
    stats = ctx.fit(net, label="scratch", **ctx.options)
    return Outcome(net.end_to_end(), stats.converged, {"train": diagnostics(stats)})


def _agreement(params: dict, d: int) -> tuple:
    """Exact: the finite-d expectation."""
    from .. import theory

    return (float(theory.risk("scratch", d=d, **params)), f"exact E R at d = {d}", 0.0,
            "0 (exact at this d)")


SCRATCH = Method(
    name="scratch", label="scratch", latex=r"\mathrm{scratch}",
    description="train the same network on the target data only (ridge with lam > 0)",
    color="0.45", linestyle="-.",
    risk_expr=_risk,
    variants={"ridge": _ridge, "optimal_ridge": _optimal_ridge},
    finite_size=FiniteSize(_finite, _finite_singular, _finite_limit),
    sources=(), uses_theta=False, uses_lam=True,
    baselines=("ridgeless", "optimal_ridge"), reference=True,
    gamma_one={"risk": "inf"}, variant_of=_variant,
    pretrains=False, step=_step, agreement=_agreement,
    trains_network=lambda params: not _closed_form(params),
)
