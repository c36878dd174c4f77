"""Fine-tuning under finite steps: risk and endpoint shift against the learning rate and the
batch size, beside gradient flow and both theory forms (the reviewer's question: does the
framework describe gradient descent with a finite step, and what does SGD noise do?).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from .. import theory
from ._common import _figure, _params_text


def step_size_runs(*, gamma: float = 0.5, theta: float = math.pi / 4, sigma: float = 0.2,
                   depth: int = 2, d: int = 100, instances: int = 8, seed: int = 0,
                   lrs: Sequence[float] = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64),
                   batch_sizes: Sequence[int] = (1, 5, 10, 25), sgd_lr: float = 0.04,
                   tol: float = 1e-8) -> dict[str, np.ndarray]:
    """Fine-tuning runs (same seed: the same data and pretrained weights in every run) under
    the flow, gd at each of ``lrs`` and sgd at ``sgd_lr`` with each of ``batch_sizes``
    (without and with replacement). Returns plain arrays (rows: runs, columns: instances):
    ``risk`` (NaN where a run did not converge), ``shift`` (|beta - beta_flow|), ``to_exact``
    (|beta - exact-form endpoint|), ``predicted`` (|beta - imbalanced_endpoint(measured
    drift)|), ``lr_bound``; the flow's ``flow_risk``, ``flow_to_exact``; and the
    parameters."""
    from ..mc import simulate
    from ..mc.data import teachers
    from ..mc.mechanism import finetune_endpoint
    from ..mc.optimizers import imbalanced_endpoint
    from ..mc.pipeline import _samples, target_design

    kw = dict(gamma=gamma, theta=theta, sigma=sigma, depth=depth, d=d, instances=instances,
              seed=seed, progress=False, tol=tol)
    flow = simulate("finetune", **kw)
    _, beta_t = teachers(d, theta)
    problem = target_design(seed, instances, d, _samples(gamma, d, "gamma")).problem(beta_t,
                                                                                     sigma)
    exact = finetune_endpoint(flow.beta_source, problem, depth)
    configs = [("gd", lr, 0, False) for lr in lrs]
    configs += [("sgd", sgd_lr, b, rep) for rep in (False, True) for b in batch_sizes]
    rows: dict[str, list] = {k: [] for k in ("risk", "shift", "to_exact", "predicted",
                                             "lr_bound")}
    for name, lr, batch, rep in configs:
        extra = dict(batch_size=batch, replacement=rep) if name == "sgd" else {}
        r = simulate("finetune", optimizer=name, lr=lr, record=[1e6], **extra, **kw)
        ok = r.converged
        pred, _ = imbalanced_endpoint(r.beta_source, problem, depth,
                                      r.trajectory["trace_imbalance"][:, -1])
        rows["risk"].append(np.where(ok, r.errors, np.nan))
        for key, ref in (("shift", flow.beta_hat), ("to_exact", exact), ("predicted", pred)):
            rows[key].append(np.where(ok, np.linalg.norm(r.beta_hat - ref, axis=1), np.nan))
        rows["lr_bound"].append(r.diagnostics["finetune"]["lr_bound"])
    out = {k: np.asarray(v, dtype=float) for k, v in rows.items()}
    out.update(optimizer=np.array([c[0] for c in configs]), lr=np.array([c[1] for c in configs]),
               batch_size=np.array([c[2] for c in configs]),
               replacement=np.array([c[3] for c in configs]),
               flow_risk=flow.errors, flow_to_exact=np.linalg.norm(flow.beta_hat - exact, axis=1),
               params=np.array([gamma, theta, sigma, depth, d, gamma * d]))
    return out


def _mean_sem(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sem per row; NaN (not averaged) where any instance is NaN."""
    k = values.shape[1]
    mean = values.mean(axis=1)
    sem = values.std(axis=1, ddof=1) / math.sqrt(k) if k > 1 else np.zeros_like(mean)
    return mean, sem


def step_size_effects(runs: Mapping[str, np.ndarray] | None = None, **kw: Any):
    """Four panels from :func:`step_size_runs` (run here with ``kw`` when ``runs`` is None).

    Top left: fine-tuning risk against the gd learning rate (mean; error bars: the paired sem
    of risk - flow risk, same data and pretrained weights), with gradient flow's mean +- sem
    (band), the theory's exact and paper forms, and the first-order closed-form estimate of
    the change (:func:`~symtransfer.mc.optimizers.risk_shift_estimate`); runs above the
    stability bound are flagged diverged and not averaged (x). Top right: distance of the
    endpoint to the flow's endpoint (log-log), the closed-form first-order estimate
    ``shift_bound * lr`` and the residual after the per-run prediction from the measured
    imbalance drift. Bottom: sgd at fixed lr against the batch size, without and with
    replacement: the endpoint shift (left) and the paired risk change (right).
    """
    from ..mc.optimizers import risk_shift_estimate, shift_bound

    runs = step_size_runs(**kw) if runs is None else runs
    gamma, theta, sigma, depth, d, _ = runs["params"]
    depth, d = int(depth), int(d)
    params = dict(gamma=gamma, theta=theta, sigma=sigma, depth=depth)
    gd = runs["optimizer"] == "gd"
    lr = runs["lr"][gd]
    fig = _figure((12.0, 9.0))
    (left, mid), (low_left, low_right) = fig.subplots(2, 2)
    paired = runs["risk"] - runs["flow_risk"][None, :]
    mean, _ = _mean_sem(runs["risk"][gd])
    _, psem = _mean_sem(paired[gd])
    left.errorbar(lr, mean, psem, fmt="o-", color="tab:blue", capsize=3,
                  label="gd (MC; bars: paired sem vs flow)")
    fm, fs = _mean_sem(runs["flow_risk"][None, :])
    left.axhspan(fm[0] - fs[0], fm[0] + fs[0], color="tab:blue", alpha=0.15,
                 label="gradient flow (MC, same runs), +- sem")
    exact = float(theory.risk("finetune", **params))
    left.axhline(exact, color="k", ls="--", label="theory, exact form (flow)")
    left.axhline(float(theory.risk("finetune", form="paper", **params)), color="k", ls=":",
                 label="theory, paper's form")
    if gamma < 1:
        grid = np.geomspace(lr.min(), lr.max(), 50)
        left.plot(grid, fm[0] + risk_shift_estimate(gamma, theta, sigma, depth) * grid,
                  color="tab:purple", lw=1, label="flow MC + first-order estimate of the change")
    bound = np.nanmin(runs["lr_bound"][gd])
    for ax in (left, mid):
        ax.axvline(bound, color="tab:red", lw=1, label="smallest stability bound 2/\u03bb_max")
    diverged = np.isnan(mean)
    if diverged.any():
        left.plot(lr[diverged], np.full(diverged.sum(), fm[0]), "x", color="tab:red", ms=9,
                  label="diverged (not averaged)")
    left.set(xscale="log", xlabel="learning rate lr", ylabel="fine-tuning risk",
             title="gd: risk against the step")
    left.legend(fontsize=7)
    sm, ss = _mean_sem(runs["shift"][gd])
    mid.errorbar(lr, sm, ss, fmt="o-", color="tab:blue", capsize=3,
                 label="|\u03b2_gd - \u03b2_flow| (MC)")
    em, _ = _mean_sem(runs["to_exact"][gd])
    mid.plot(lr, em, "s--", color="tab:green", ms=4, label="|\u03b2_gd - exact-form endpoint|")
    pm, _ = _mean_sem(runs["predicted"][gd])
    mid.plot(lr, pm, "^:", color="tab:purple", ms=4,
             label="|\u03b2_gd - c(\u0394 measured) prediction|")
    if gamma < 1:
        mid.plot(grid, shift_bound(gamma, theta, sigma, depth) * grid, color="k", lw=1,
                 label="closed-form first-order estimate (\u0394 = lr L0)")
    mid.set(xscale="log", yscale="log", xlabel="learning rate lr",
            title="gd: endpoint shift (\u221d lr) and its per-run prediction")
    mid.legend(fontsize=7)
    sgd = runs["optimizer"] == "sgd"
    for rep, style in ((False, "o-"), (True, "s--")):
        pick = sgd & (runs["replacement"] == rep)
        if not pick.any():
            continue
        b = runs["batch_size"][pick]
        tag = "with" if rep else "without"
        m, s = _mean_sem(runs["shift"][pick])
        low_left.errorbar(b, m, s, fmt=style, color="tab:orange", capsize=3,
                          label=f"sgd, {tag} replacement")
        m, s = _mean_sem(paired[pick])
        low_right.errorbar(b, m, s, fmt=style, color="tab:orange", capsize=3,
                           label=f"sgd, {tag} replacement")
    if sgd.any():
        sgd_lr = runs["lr"][sgd][0]
        at = gd & np.isclose(runs["lr"], sgd_lr)
        if at.any():
            low_left.axhline(_mean_sem(runs["shift"][at])[0][0], color="tab:blue", ls="--",
                             label=f"gd at lr = {sgd_lr:g} (batch = n = {int(runs['params'][5])})")
            low_right.axhline(_mean_sem(paired[at])[0][0], color="tab:blue", ls="--",
                              label=f"gd at lr = {sgd_lr:g}")
        low_left.set(title=f"sgd at lr = {sgd_lr:g}: endpoint shift |\u03b2 - \u03b2_flow|")
        low_right.set(title=f"sgd at lr = {sgd_lr:g}: risk - flow risk (paired)")
    low_right.axhline(0.0, color="k", lw=0.8)
    low_left.set(xscale="log", yscale="log", xlabel="batch size")
    low_right.set(xscale="log", xlabel="batch size")
    for ax in (low_left, low_right):
        ax.legend(fontsize=7)
    fig.suptitle(f"fine-tuning, {_params_text(**params)}, d = {d}, "
                 f"{runs['risk'].shape[1]} runs", fontsize=10)
    return fig
