"""Linear transfer: the pretrained features frozen, the readout refit (ridge with lam > 0).

Analytic side: :func:`symtransfer.formulas.linear` and its phase boundary, the exact
finite-d expectation (ridgeless, population source). Monte-Carlo side:
:func:`symtransfer.mc.pipeline.fit_readout` on the pretrained features.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import Context, FiniteSize, Method, Outcome


def _risk(*, source: str, **_: Any):
    from .. import formulas

    return formulas.linear(source)


def _boundary(*, source: str, **_: Any):
    from .. import formulas

    return formulas.linear_phase_boundary(source)


def _finite():
    from .. import formulas

    return formulas.linear_finite()


def _finite_singular(n, d) -> np.ndarray:
    """The inverse-chi-square mean diverges at n <= 2."""
    return np.asarray(n <= 2, dtype=bool)


def _finite_limit(n, d, params: dict, noisy: np.ndarray, out: np.ndarray) -> None:
    """Infinite unless the residual variance sin^2 theta + sigma^2 vanishes."""
    exact = np.asarray(~noisy & (params["theta"] == 0), dtype=bool)
    out[exact] = 0


def _gamma_s_one(quantity: str, *, below: np.ndarray, scratch, backend) -> np.ndarray:
    """|beta_hat_s| diverges and its direction carries nothing: the risk is 1."""
    ones = np.full(below.shape, 1, dtype=backend.dtype)
    return ones if quantity == "risk" else scratch() - ones


def _step(ctx: Context) -> Outcome:
    """Refit the readout on the frozen pretrained features (ridge, or least squares on the
    learned feature space)."""
    from ..mc.optimizers import readout_trajectory
    from ..mc.pipeline import fit_readout, instance_streams

    p = ctx.params
    beta_hat, rank = fit_readout(ctx.weights.features(), ctx.design.X,
                                 ctx.design.labels(ctx.beta_t, p["sigma"]), p["lam"],
                                 p["rank_tol"], ctx.streams["readout"])
    if ctx.fit is not None and ctx.fit.times is not None:  # the readout's flow, recorded
        fresh = instance_streams(p["seed"], p["instances"])["readout"]  # the basis used above
        ctx.fit.trajectory = readout_trajectory(ctx.weights, ctx.design, ctx.beta_t,
                                                p["sigma"], ctx.fit.times, p["rank_tol"],
                                                fresh, getattr(ctx.fit, "keep_beta", False))
    return Outcome(beta_hat, np.ones(p["instances"], dtype=bool), {"readout": {"rank": rank}})


def _agreement(params: dict, d: int) -> tuple:
    """Exact at finite d for ridgeless population transfer; otherwise the asymptotic risk with
    O(1/n) (ridge) and O(1/d) (finite source) allowances."""
    import math

    from .. import theory

    n = int(round(params["gamma"] * d))
    sigma, lam, gamma_s = params.get("sigma", 0.0), params.get("lam", 0.0), params.get("gamma_s")
    if not lam and gamma_s is None:
        return (float(theory.risk("linear", d=d, **params)), f"exact E R at d = {d}", 0.0,
                "0 (exact at this d)")
    value = float(theory.risk("linear", **params))
    if gamma_s is None:
        return value, "asymptotic", 3.0 / n, "3/n (O(1/n) ridge correction)"
    allow = (math.sin(params["theta"]) ** 2 + sigma ** 2 + 1) / n + 2.0 / d
    return value, "asymptotic", allow, ("(sin\u00b2\u03b8+\u03c3\u00b2+1)/n + 2/d "
                                        "(target O(1/n), source O(1/d))")


LINEAR = Method(
    name="linear", label="linear transfer", latex=r"\mathrm{linear\ transfer}",
    description="freeze the pretrained features and refit the readout (ridge with lam > 0)",
    color="C2", linestyle="--",
    risk_expr=_risk, boundary_expr=_boundary,
    finite_size=FiniteSize(_finite, _finite_singular, _finite_limit),
    sources=("population", "finite", "penalized"), uses_lam=True,
    gamma_one={"transfer": "inf", "boundary": "nan"}, gamma_s_one=_gamma_s_one,
    step=_step, agreement=_agreement,
    trains_network=lambda params: False,  # the readout is solved, the features are frozen
    records_trajectory=lambda params: params["lam"] == 0,  # the readout's flow, closed form
)
