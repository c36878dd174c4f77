"""Fine-tuning: gradient flow on all layers from the pretrained weights.

Analytic side: :func:`symtransfer.formulas.finetune` in the exact form (null-space part
scaled by c = kappa^((L-1)/2); kernels per depth) and the paper's (c = 1), its phase boundary
and the best pretraining penalty. Monte-Carlo side: gradient flow from the pretrained weights;
each run's endpoint is predicted by :func:`symtransfer.mc.mechanism.finetune_endpoint`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import Context, Method, Outcome, default_kernel_name


def _risk(*, form: str, source: str, L: Any):
    from .. import formulas

    return formulas.finetune(form, source, L)


def _boundary(*, form: str, source: str, L: Any):
    from .. import formulas

    return formulas.finetune_phase_boundary(form, source, L)


def _penalty(form: str):
    from .. import formulas

    return formulas.optimal_pretrain_penalty(form)


def _gamma_s_one(quantity: str, *, below: np.ndarray, scratch, backend) -> np.ndarray:
    """|beta_hat_s| diverges: infinite risk below gamma = 1, scratch's (T = 0) above."""
    if quantity == "risk":
        value = scratch()
        value[below] = backend.inf
        return value
    value = np.full(below.shape, 0, dtype=backend.dtype)
    value[below] = -backend.inf
    return value


def _endpoint(beta_s: np.ndarray, problem, depth: int, form: str) -> np.ndarray:
    from ..mc.mechanism import finetune_endpoint

    return finetune_endpoint(beta_s, problem, depth, form)


def _step(ctx: Context) -> Outcome:
    """Gradient flow (or the chosen optimizer) on every layer, from the pretrained weights."""
    from ..mc.network import Trainable
    from ..mc.optimizers import diagnostics

    net = Trainable(ctx.weights, ctx.problem)
    stats = ctx.fit(net, label="finetune", reference=ctx.beta_source,
                    depth=ctx.params["depth"], **ctx.options)
    return Outcome(net.end_to_end(), stats.converged, {"finetune": diagnostics(stats)})


def interpolating_agreement(method: str, params: dict, d: int, extra: float = 0.0,
                            extra_why: str = "") -> tuple:
    """What a Monte-Carlo mean of a method that interpolates the target data from pretrained
    weights (fine-tuning, LP-FT) is compared with: above gamma = 1 it reaches least squares,
    like scratch (exact at finite d); below, the asymptotic risk with the noise term's
    finite-n offset, O(1/d) fluctuations of the null-space scale (doubled with a finite
    source) and ``extra`` (named ``extra_why``)."""
    from .. import theory

    gamma, sigma, gamma_s = params["gamma"], params.get("sigma", 0.0), params.get("gamma_s")
    n = int(round(gamma * d))
    if gamma > 1 and abs(n - d) > 1:
        return (float(theory.risk("scratch", gamma=gamma, sigma=sigma, d=d)),
                f"exact E R at d = {d}", 0.0, "0 (exact at this d)")
    value = float(theory.risk(method, **params))
    noise = sigma ** 2 * abs(n / (d - n - 1) - gamma / (1 - gamma)) if gamma < 1 else 0.0
    allow = noise + extra + 2.0 / d + (2.0 / d if gamma_s is not None else 0.0)
    why = ("\u03c3\u00b2|n/(d\u2212n\u22121) \u2212 \u03b3/(1\u2212\u03b3)| + " if sigma else "") \
        + extra_why \
        + ("4/d (c fluctuations, finite source)" if gamma_s is not None else "2/d (c fluctuations)")
    return value, "asymptotic", allow, why


def _agreement(params: dict, d: int) -> tuple:
    return interpolating_agreement("finetune", params, d)


def _kernel_names(quantity: str, **options: Any) -> str:
    if quantity == "penalty":  # the best pretraining penalty mu*
        return f"optimal_penalty_finetune_{options['form']}"
    return default_kernel_name(FINETUNE, quantity, **options)


def _specs() -> list[dict]:
    """Both forms for both sources (the exact one for L = 2, 3 and deeper), penalized
    pretraining at depth 2, and the best penalty."""
    specs: list[dict] = []
    for quantity in ("risk", "transfer", "boundary"):
        for source in ("population", "finite"):
            specs.append(dict(quantity=quantity, form="paper", source=source))
            specs += [dict(quantity=quantity, form="exact", source=source, depth=depth)
                      for depth in (2, 3, 4)]
        specs.append(dict(quantity=quantity, form="paper", source="penalized"))
        specs.append(dict(quantity=quantity, form="exact", source="penalized", depth=2))
    specs += [dict(quantity="penalty", form=form, source="penalized", depth=2)
              for form in ("exact", "paper")]
    return specs


FINETUNE = Method(
    name="finetune", label="fine-tuning", latex=r"\mathrm{fine\text{-}tuning}",
    description="train all layers from the pretrained weights (form exact or paper)",
    color="C0", linestyle="-",
    risk_expr=_risk, boundary_expr=_boundary, extra={"penalty": _penalty},
    forms=("exact", "paper"), sources=("population", "finite", "penalized"),
    per_depth_forms=("exact",),
    gamma_one={"risk": "inf"}, gamma_s_one=_gamma_s_one, collapses_to_scratch=True,
    pinned_above_one=True,
    step=_step, endpoint=_endpoint, endpoint_forms=("exact", "paper"), agreement=_agreement,
    kernel_names=_kernel_names, specs=_specs,
)
