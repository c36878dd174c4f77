"""Early stopping: test risk against stopping time for scratch training and fine-tuning, with
the mean-field theory, the oracle and the validation-split stops marked."""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ._common import _figure, _params_text

METHODS = ("scratch", "finetune")
COLORS = {"scratch": "tab:gray", "finetune": "tab:blue"}
TITLES = {"scratch": "scratch (balanced rank-1 init)", "finetune": "fine-tuning"}
LEGEND = {"scratch": "upper right", "finetune": "upper right"}


def stopping_runs(*, gamma: float = 0.5, theta: float = math.pi / 4, sigma: float = 0.5,
                  depth: int = 2, d: int = 100, instances: int = 12, seed: int = 0,
                  val_fraction: float = 0.25, record: int = 40) -> dict[str, Any]:
    """:func:`symtransfer.early_stopping` for scratch (balanced rank-1 initialization, the
    regime of the theory) and fine-tuning, with their mean-field theory on the same times."""
    from ..dynamics import stopping_theory
    from ..mc.stopping import early_stopping

    kw = dict(gamma=gamma, theta=theta, sigma=sigma, depth=depth, d=d, instances=instances,
              seed=seed, progress=False, record=record, val_fraction=val_fraction)
    runs: dict[str, Any] = {}
    for m in METHODS:
        extra = {"init": "balanced"} if m == "scratch" else {}
        r = early_stopping(m, **kw, **extra)
        th = stopping_theory(m, gamma=gamma, theta=theta, sigma=sigma, depth=depth,
                             val_fraction=val_fraction, times=np.geomspace(1e-2, 1e4, 300))
        runs[m] = (r, th)
    return runs


def early_stopping_curves(runs: Mapping[str, Any] | None = None, **kw: Any):
    """Test risk against stopping time, one panel per method, from :func:`stopping_runs` (run
    here with ``kw`` when ``runs`` is None). The mean curve is not any run's curve: scratch
    runs escape the origin at slightly different times, which smooths the mean's dip, so the
    mean of the per-instance oracles lies below the mean curve's minimum.

    Band: Monte-Carlo mean +- sem of ``|beta_hat(t) - beta_t|^2``; black line: the mean-field
    theory (d -> infinity); dotted: the converged risk (simulation, theory dashed). Markers:
    the oracle stop (star: theory at its time; circle: simulated mean of the per-instance
    oracle at the median oracle time, bars +- sem) and validation-split stopping (triangle:
    simulated, at the median chosen time; diamond: the theory's limit, the oracle of the run
    on the training share, at its time).
    """
    runs = stopping_runs(**kw) if runs is None else runs
    fig = _figure((12.0, 4.6))
    axes = fig.subplots(1, len(METHODS), sharey=True)
    for ax, m in zip(axes, METHODS):
        r, th = runs[m]
        s = r.summary()
        mean, sem = r.mean_curve()
        color = COLORS[m]
        ax.plot(r.time, mean, color=color, label="simulation (mean \u00b1 sem)")
        ax.fill_between(r.time, mean - sem, mean + sem, color=color, alpha=0.25, lw=0)
        ax.plot(th.curve.time, th.curve.risk, color="k", lw=1, label="mean-field theory")
        ax.axhline(s["converged"].mean, color=color, ls=":", lw=1.2,
                   label=f"converged, simulated ({s['converged'].mean:.3f})")
        ax.axhline(th.final, color="k", ls="--", lw=0.8,
                   label=f"converged, theory ({th.final:.3f})")
        finite = np.isfinite(r.oracle_time)
        t_oracle = np.median(r.oracle_time[finite]) if finite.any() else r.time[-1]
        ax.errorbar([t_oracle], [s["oracle"].mean], yerr=[s["oracle"].sem], fmt="o",
                    color="tab:red", ms=6, capsize=3,
                    label=f"oracle stop, simulated ({s['oracle'].mean:.3f})")
        ax.plot([th.curve.oracle_time], [th.oracle], "*", color="tab:red", ms=13, mec="k",
                mew=0.6, label=f"oracle stop, theory ({th.oracle:.3f})")
        v = r.validation
        chosen = np.isfinite(v.time)
        t_val = np.median(v.time[chosen]) if chosen.any() else r.time[-1]
        ax.errorbar([t_val], [s["validation"].mean], yerr=[s["validation"].sem], fmt="^",
                    color="tab:green", ms=7, capsize=3,
                    label=f"validation stop ({v.n_val} held out), simulated "
                          f"({s['validation'].mean:.3f})")
        ax.plot([th.validation_time], [th.validation], "D", color="tab:green", ms=7, mec="k",
                mew=0.6, label=f"validation stop, theory limit ({th.validation:.3f})")
        ax.set(xscale="log", xlabel="stopping time t (gradient-flow time)",
               title=f"{TITLES[m]}: {r.instances} runs, d = {r.params['d']}")
        ax.legend(fontsize=7, loc=LEGEND[m], framealpha=0.9)
    axes[0].set_ylim(top=max(1.45, axes[0].get_ylim()[1]))
    axes[0].set_ylabel("test risk |\u03b2\u0302(t) - \u03b2_t|\u00b2")
    p = runs[METHODS[-1]][0].params
    fig.suptitle("early stopping, " + _params_text(gamma=p["gamma"], theta=p["theta"],
                                                   sigma=p["sigma"], depth=p["depth"]),
                 fontsize=10)
    return fig


def early_stopping_theory_curves(*, gamma: float = 0.5, theta: float = math.pi / 4,
                                 sigma: float = 0.5, depth: int = 2,
                                 val_fraction: float = 0.25,
                                 sigmas=(0.0, 0.25, 0.5, 0.75, 1.0)):
    """Mean-field theory only (no simulation; ~1.5 s). Left: the risk along gradient flow for
    scratch (balanced rank-1 initialization, alpha = 1e-5) and fine-tuning at ``sigma``, with
    the oracle stop (star) and the limit of validation-split stopping with ``val_fraction``
    held out (diamond). Right: the converged (dashed) and oracle-stopped (solid) risks
    against the noise ``sigmas``."""
    from ..dynamics import stopping_theory

    fig = _figure((11.0, 4.2))
    left, right = fig.subplots(1, 2)
    base = dict(gamma=gamma, theta=theta, depth=depth)
    for m in METHODS:
        th = stopping_theory(m, sigma=sigma, val_fraction=val_fraction,
                             times=np.geomspace(1e-2, 1e4, 300), **base)
        left.plot(th.curve.time, th.curve.risk, color=COLORS[m], label=TITLES[m])
        left.axhline(th.final, color=COLORS[m], ls="--", lw=0.8)
        left.plot([th.curve.oracle_time], [th.oracle], "*", color="tab:red", ms=12, mec="k",
                  mew=0.5)
        left.plot([th.validation_time], [th.validation], "D", color="tab:green", ms=6,
                  mec="k", mew=0.5)
        rows = [stopping_theory(m, sigma=s, times=[1.0], **base) for s in sigmas]
        right.plot(sigmas, [r.final for r in rows], color=COLORS[m], ls="--",
                   label=f"{TITLES[m]}, converged")
        right.plot(sigmas, [r.oracle for r in rows], color=COLORS[m], marker="o", ms=4,
                   label=f"{TITLES[m]}, oracle-stopped")
    left.plot([], [], "*", color="tab:red", mec="k", label="oracle stop")
    left.plot([], [], "D", color="tab:green", mec="k",
              label=f"validation stop, limit ({val_fraction:g} held out)")
    left.set(xscale="log", xlabel="stopping time t", ylabel="risk (d \u2192 \u221e)",
             title="risk along gradient flow, " + _params_text(sigma=sigma))
    left.legend(fontsize=8)
    right.set(xlabel="label noise \u03c3", ylabel="risk (d \u2192 \u221e)",
              title="what stopping early buys")
    right.legend(fontsize=8)
    fig.suptitle("mean-field theory of early stopping, " + _params_text(**base), fontsize=10)
    return fig
