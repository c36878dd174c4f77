"""LP-FT: linear probing (refit the readout on the frozen features), then fine-tuning.

Analytic side: :func:`symtransfer.lp_ft_expressions.lp_ft` (the probe unbalances the last layer;
the conservation laws then fix the null-space scale c through :class:`ProbedRoot`; kernels
per depth: radicals for L = 2, the numeric root deeper) and its phase boundary
(:class:`BoundaryRoot`). Monte-Carlo side: the ridgeless
readout refit of linear transfer, then fine-tuning's trainer from the probed weights; each
run's endpoint is predicted by :func:`symtransfer.mc.mechanism.lp_ft_endpoint`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import Context, Method, Outcome


def _risk(*, source: str, L: Any, **_: Any):
    from .. import lp_ft_expressions

    return lp_ft_expressions.lp_ft(source, L)


def _boundary(*, source: str, L: Any, **_: Any):
    from .. import lp_ft_expressions

    return lp_ft_expressions.lp_ft_phase_boundary(source, L)


def _endpoint(beta_s: np.ndarray, problem, depth: int, form: str) -> np.ndarray:
    from ..mc.mechanism import lp_ft_endpoint

    return lp_ft_endpoint(beta_s, problem, depth, form)


def _step(ctx: Context) -> Outcome:
    """The probe (linear transfer's ridgeless readout refit, as the last layer), then the
    fine-tuning trainer on every layer from the probed weights."""
    from ..mc.mechanism import lp_ft_endpoint
    from ..mc.network import Trainable, Weights
    from ..mc.optimizers import diagnostics
    from ..mc.pipeline import fit_readout, readout_layer

    p = ctx.params
    features = ctx.weights.features()
    probe, rank = fit_readout(features, ctx.design.X, ctx.design.labels(ctx.beta_t, p["sigma"]),
                              0.0, p["rank_tol"], ctx.streams["readout"])
    probed = Weights(list(ctx.weights.layers), readout_layer(features, probe, p["rank_tol"]))
    endpoint = None
    if ctx.fit.times is not None:  # the recorder measures the distance to LP-FT's endpoint
        endpoint = lp_ft_endpoint(ctx.beta_source, ctx.problem, p["depth"])
    net = Trainable(probed, ctx.problem)
    stats = ctx.fit(net, label="lp_ft", depth=p["depth"], endpoint=endpoint, **ctx.options)
    unit = ctx.beta_source / np.linalg.norm(ctx.beta_source, axis=1)[:, None]
    return Outcome(net.end_to_end(), stats.converged, {
        "probe": {"rank": rank, "coefficient": np.einsum("kd,kd->k", probe, unit)},
        "finetune": diagnostics(stats)})


def _agreement(params: dict, d: int) -> tuple:
    """Fine-tuning's comparison (:func:`~symtransfer.methods.finetune.interpolating_agreement`)
    plus the probe's O(1/n) bias: E t^2 exceeds its limit by (sin^2 + sigma^2)/(n - 2), which
    moves r."""
    from .finetune import interpolating_agreement

    n = int(round(params["gamma"] * d))
    return interpolating_agreement("lp_ft", params, d, (1 + params.get("sigma", 0.0) ** 2) / n,
                                   "(1+\u03c3\u00b2)/n (probe) + ")


LP_FT = Method(
    name="lp_ft", label="LP-FT", latex=r"\mathrm{LP\text{-}FT}",
    description="refit the readout on the frozen features (linear probe), then train all "
                "layers",
    color="C1", linestyle=":",
    risk_expr=_risk, boundary_expr=_boundary,
    forms=("exact",), sources=("population", "finite"), per_depth_forms=("exact",),
    gamma_one={"risk": "inf"}, gamma_s_one=None, pinned_above_one=True,
    step=_step, endpoint=_endpoint, endpoint_forms=("exact",), agreement=_agreement,
)

__all__ = ["LP_FT"]
