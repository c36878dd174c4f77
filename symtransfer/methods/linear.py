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
    from ..mc.pipeline import fit_readout

    p = ctx.params
    beta_hat, rank = fit_readout(ctx.weights.features(), ctx.design.X,
                                 ctx.design.labels(ctx.beta_t, p["sigma"]), p["lam"],
                                 p["rank_tol"], ctx.streams["readout"])
    return Outcome(beta_hat, np.ones(p["instances"], dtype=bool), {"readout": {"rank": rank}})


LINEAR = Method(
    name="linear", label="linear transfer", latex=r"\mathrm{linear\ transfer}",
    description="freeze the pretrained features and refit the readout (ridge with lam > 0)",
    color="C2", linestyle="--",
    risk_expr=_risk, boundary_expr=_boundary,
    finite_size=FiniteSize(_finite, _finite_singular, _finite_limit),
    sources=("population", "finite", "penalized"), uses_lam=True,
    gamma_one={"transfer": "inf", "boundary": "nan"}, gamma_s_one=_gamma_s_one,
    step=_step,
)
