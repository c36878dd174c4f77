"""L2-SP: fine-tuning regularized toward the pretrained weights, end to end.

Analytic side (:mod:`symtransfer.formulas_l2sp`, derived in ``derivations/l2sp.py``): ridge
regression toward the pretrained vector, ``argmin |y - X beta|^2/n + lam |beta - beta_hat_s|^2``,
at a given ``lam`` (``lam = 0``: the min-norm interpolator from beta_hat_s, the paper's
fine-tuning form), its best penalty ``lam* = sigma^2/(gamma |beta_t - beta_hat_s|^2)`` (the
quantity ``lam_star``) and the risk there (the variant ``tuned``, the learner of
``baseline='fair'``). Monte-Carlo side: the same estimator in closed form on the pretrained
network's end-to-end vector. The deep-network L2-SP (gradient flow with the penalty on every
layer) is :func:`symtransfer.mc.l2sp.simulate_network`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import Context, Method, Outcome


def _risk(*, source: str, **_: Any):
    from .. import formulas_l2sp

    return formulas_l2sp.l2sp(source)


def _tuned(*, source: str):
    from .. import formulas_l2sp

    return formulas_l2sp.l2sp_optimal(source)


def _lam_star(form: str, *, source: str):
    from .. import formulas_l2sp

    return formulas_l2sp.l2sp_optimal_penalty(source)


def _variant(baseline: str, ridge: bool) -> str:
    return "tuned" if baseline == "fair" else ""


def penalty(params: dict) -> float:
    """The penalty the step uses: ``lam``, or lam* (asymptotic) for ``baseline='fair'``."""
    if params["baseline"] != "fair":
        return params["lam"]
    from .. import theory

    return float(theory.optimal_lam("l2sp", gamma=params["gamma"], theta=params["theta"],
                                    sigma=params["sigma"], gamma_s=params["gamma_s"],
                                    sigma_s=params["sigma_s"]))


def toward(problem, anchor: np.ndarray, lam: float) -> np.ndarray:
    """``argmin (1/n)|X beta - y|^2 + lam |beta - anchor|^2`` per instance, in row-space
    coordinates: ``anchor + V (c/(c + lam)) (z* - V^T anchor)`` (lam = 0: the interpolator
    closest to the anchor; lam = inf: the anchor)."""
    residual = problem.target - problem.to_coordinates(anchor)
    shrink = np.ones_like(problem.curvature) if lam == 0 else (
        0 * problem.curvature if np.isinf(lam) else
        problem.curvature / (problem.curvature + lam))
    return anchor + np.einsum("kdr,kr->kd", problem.basis, shrink * residual)


def _step(ctx: Context) -> Outcome:
    """End-to-end L2-SP on the pretrained end-to-end vectors, in closed form."""
    lam = penalty(ctx.params)
    beta = toward(ctx.problem, ctx.beta_source, lam)
    K = ctx.params["instances"]
    return Outcome(beta, np.ones(K, dtype=bool), {"l2sp": {"lam": np.full(K, lam)}})


def _agreement(params: dict, d: int) -> tuple:
    """The asymptotic risk; allowance 3/n (the O(1/n) correction of the ridge spectral
    averages, as for ridge scratch) plus 2/d with a finite source (fluctuations of beta_hat_s)."""
    from .. import theory

    n = int(round(params["gamma"] * d))
    value = float(theory.risk("l2sp", **params))
    finite = params.get("gamma_s") is not None
    allow = 3.0 / n + (2.0 / d if finite else 0.0)
    return value, "asymptotic", allow, "3/n (O(1/n) ridge)" + (" + 2/d (source)" if finite else "")


def _specs() -> list[dict]:
    specs = [dict(quantity=q, source=s) for q in ("risk", "transfer")
             for s in ("population", "finite")]
    specs += [dict(quantity="risk", variant="tuned", source=s) for s in ("population", "finite")]
    specs += [dict(quantity="lam_star", source=s) for s in ("population", "finite")]
    return specs


L2SP = Method(
    name="l2sp", label="L2-SP", latex=r"\mathrm{L2\text{-}SP}", lam_label="L2-SP",
    description="ridge toward the pretrained vector, lam |beta - beta_hat_s|^2 (fair: at lam*)",
    color="C3", linestyle=":",
    risk_expr=_risk, variants={"tuned": _tuned}, extra={"lam_star": _lam_star},
    variant_sources=True, sources=("population", "finite"), uses_lam=True,
    gamma_one={"risk": "inf", "transfer": "inf"},
    gamma_one_lam={"risk": "zero", "transfer": "positive"},
    variant_of=_variant, step=_step, agreement=_agreement,
    trains_network=lambda params: False, records_trajectory=lambda params: False,
    specs=_specs,
)
