"""Training trajectories: test risk against training time for scratch training, linear
transfer and fine-tuning, with the theory's endpoints; and fine-tuning under gradient descent
beside gradient flow (distance to the flow's endpoint, imbalance of the layers).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from .. import theory
from ._common import METHOD_NAMES, _figure, _params_text

METHODS = ("scratch", "linear", "finetune")
COLORS = {"scratch": "tab:gray", "linear": "tab:orange", "finetune": "tab:blue"}


def trajectory_runs(*, gamma: float = 0.5, theta: float = math.pi / 4, sigma: float = 0.2,
                    depth: int = 2, d: int = 100, instances: int = 8, seed: int = 0,
                    times: Sequence[float] | None = None,
                    lrs: Sequence[float] = ()) -> dict[str, Any]:
    """Recorded simulations for :func:`risk_trajectories`: the three methods under gradient
    flow at ``times`` (default 40 log-spaced in [1e-2, 1e4]) and fine-tuning under gd at each
    of ``lrs`` (recorded at the same times, rounded to whole steps)."""
    from ..mc import simulate

    times = np.geomspace(1e-2, 1e4, 40) if times is None else np.asarray(times, dtype=float)
    kw = dict(gamma=gamma, theta=theta, sigma=sigma, depth=depth, d=d, instances=instances,
              seed=seed, progress=False)
    runs: dict[str, Any] = {m: simulate(m, record=times, **kw) for m in METHODS}
    for lr in lrs:
        runs[f"gd {lr:g}"] = simulate("finetune", optimizer="gd", lr=lr, record=times, **kw)
    return runs


def _band(ax, t, values, color, label, **kw):
    mean = values.mean(axis=0)
    sem = values.std(axis=0, ddof=1) / math.sqrt(values.shape[0]) if values.shape[0] > 1 \
        else np.zeros_like(mean)
    ax.plot(t, mean, color=color, label=label, **kw)
    ax.fill_between(t, mean - sem, mean + sem, color=color, alpha=0.2, linewidth=0)


def risk_trajectories(runs: Mapping[str, Any] | None = None, **kw: Any):
    """Test risk against training time (left) and, for fine-tuning, the distance to the
    gradient-flow endpoint predicted by the conservation laws and the layer imbalance
    (right), from :func:`trajectory_runs` (run here with ``kw`` when ``runs`` is None).

    Left: mean +- sem over instances of ``|beta_hat(t) - beta_t|^2`` per method; dashed: the
    theory's endpoints (scratch: the exact finite-d expectation; linear transfer and
    fine-tuning: the asymptotic risks, fine-tuning in the exact and the paper's form).
    Time is the flow's time; a gd step of size lr advances it by lr.
    """
    runs = trajectory_runs(**kw) if runs is None else runs
    p = runs["finetune"].params
    params = dict(gamma=p["gamma"], theta=p["theta"], sigma=p["sigma"], depth=p["depth"])
    fig = _figure((12.0, 4.8))
    left, right = fig.subplots(1, 2)
    for m in METHODS:
        tr = runs[m].trajectory
        _band(left, tr["time"], tr["risk"], COLORS[m], METHOD_NAMES[m] + " (flow)")
    ends = {"scratch": theory.risk("scratch", gamma=p["gamma"], sigma=p["sigma"], d=p["d"]),
            "linear": theory.risk("linear", **params),
            "finetune": theory.risk("finetune", **params)}
    for m, value in ends.items():
        left.axhline(float(value), color=COLORS[m], ls="--", lw=1)
    left.axhline(float(theory.risk("finetune", form="paper", **params)), color=COLORS["finetune"],
                 ls=":", lw=1, label="fine-tuning, paper's form")
    gd = [k for k in runs if k.startswith("gd ")]
    shades = np.linspace(0.45, 0.85, max(len(gd), 1))
    for key, shade in zip(gd, shades):
        tr = runs[key].trajectory
        _band(left, tr["time"], tr["risk"], (0.1, 0.2, shade), f"fine-tuning, gd lr = {key[3:]}",
              ls="-.")
    left.set(xscale="log", xlabel="training time t (gd: lr x steps)",
             ylabel="test risk |\u03b2\u0302(t) - \u03b2_t|\u00b2",
             title="risk along training; dashed: theory's endpoints")
    left.legend(fontsize=8)
    for key, color in [("finetune", COLORS["finetune"])] + list(
            zip(gd, [(0.1, 0.2, s) for s in shades])):
        tr = runs[key].trajectory
        name = "flow" if key == "finetune" else key
        _band(right, tr["time"], tr["distance"], color, f"{name}: |\u03b2\u0302(t) - \u03b2_flow|")
        _band(right, tr["time"], tr["imbalance"][..., 0], color,
              f"{name}: |W\u2081\u1d40W\u2081 - W\u2082W\u2082\u1d40|", ls=":")
    right.set(xscale="log", yscale="log", xlabel="training time t",
              title="fine-tuning: distance to \u03b2_flow (the conservation-law\n"
                    "endpoint) and layer imbalance")
    right.legend(fontsize=8)
    fig.suptitle(f"{_params_text(**params)}, d = {p['d']}, {runs['finetune'].instances} runs",
                 fontsize=10)
    return fig
