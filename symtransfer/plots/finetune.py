"""Fine-tuning: the exact (conservation-law) form against the paper's form and the runs'
endpoints.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .. import theory
from ._common import (
    _along,
    _check_sweep,
    _default_gamma,
    _errorbar,
    _figure,
    _gamma_line,
    _params_text,
)


def form_runs(results: Sequence[Any]) -> dict[str, np.ndarray]:
    """Per-instance comparison of fine-tuning runs with each form's endpoint, on the same data.

    results : SimulationResult objects of 'finetune' (one per gamma, same instances).
    Returns arrays (gammas x instances): ``errors`` (the runs' risks), ``exact_errors`` and
    ``paper_errors`` (risks of each form's predicted endpoint,
    :func:`symtransfer.mc.mechanism.finetune_endpoint`), ``dist_exact`` and ``dist_paper``
    (|beta_hat - predicted endpoint|), and ``gamma``. Plain arrays: they can be saved and
    passed back to :func:`finetune_forms` as ``runs``.
    """
    from ..mc.data import sample_problem, teachers
    from ..mc.mechanism import finetune_endpoint
    from ..mc.pipeline import instance_streams, target_data

    out: dict[str, list] = {k: [] for k in ("gamma", "errors", "exact_errors", "paper_errors",
                                            "dist_exact", "dist_paper")}
    for r in results:
        if r.method != "finetune":
            raise ValueError(f"form_runs needs fine-tuning runs, got {r.method!r}")
        p = r.params
        theta = p["theta"] or 0.0
        X, y = target_data(instance_streams(p["seed"], r.instances), d=p["d"],
                           gamma=p["gamma"], theta=theta, sigma=p["sigma"])
        problem = sample_problem(X, y)
        _, beta_t = teachers(p["d"], theta)
        out["gamma"].append(p["gamma"])
        out["errors"].append(np.where(r.converged, r.errors, np.nan))
        for form in ("exact", "paper"):
            beta = finetune_endpoint(r.beta_source, problem, p["depth"], form)
            out[f"{form}_errors"].append(((beta - beta_t) ** 2).sum(axis=1))
            out[f"dist_{form}"].append(np.linalg.norm(r.beta_hat - beta, axis=1))
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def finetune_forms(*, gamma: Iterable[float] | None = None, theta: float = 3 * math.pi / 8,
                   sigma: float = 0.2, depth: int = 2, gamma_s: float | None = None,
                   sigma_s: float = 0.0, mc: Any = None,
                   runs: Sequence[Any] | Mapping[str, np.ndarray] | None = None):
    """Fine-tuning risk against gamma: the exact (conservation-law) form, the paper's form
    (null-space part of the pretrained vector kept unscaled), and Monte-Carlo.

    mc : a 'finetune' sweep over gamma (means +- sem).
    runs : fine-tuning SimulationResults (or :func:`form_runs` of them). Adds two panels:
        the paired gap R_run - R(paper endpoint) on the same data against the theory's
        R_exact - R_paper, and each run's distance to the endpoint each form predicts.
        Without ``mc`` the runs also give the left panel's Monte-Carlo points.
    """

    params = dict(theta=theta, sigma=sigma, depth=depth, gamma_s=gamma_s, sigma_s=sigma_s)
    G = _default_gamma(gamma, 0.02, 2.0, 400)
    if runs is not None and not isinstance(runs, Mapping):
        runs = form_runs(runs)
    panels = 1 if runs is None else 3
    fig = _figure((5.3 * panels, 5.0) if panels == 3 else (7.0, 5.0))
    axes = fig.subplots(1, panels, squeeze=False)[0]
    ax = axes[0]
    exact = theory.risk("finetune", gamma=G, form="exact", **params)
    paper = theory.risk("finetune", gamma=G, form="paper", **params)
    below, above = G < 1, G > 1
    for part in (below, above):
        ax.plot(G[part], exact[part], color="C0", lw=2,
                label="exact form (conservation laws)" if part is below else None)
        ax.plot(G[part], paper[part], color="C1", lw=1.6, ls="--",
                label="paper form" if part is below else None)
    scratch = theory.risk("scratch", gamma=G, sigma=sigma)
    ax.plot(G[below], scratch[below], color="0.6", lw=1, ls="-.", label="scratch (reference)")
    ax.plot(G[above], scratch[above], color="0.6", lw=1, ls="-.")
    d = None
    if mc is not None:
        _check_sweep(mc, "finetune", "the fine-tuning sweep", **params)
        g, m, s = _along(mc.grid, (mc.mean(), mc.sem()), "gamma", {"theta": theta})
        d = mc.settings.get("d")
        _errorbar(ax, g, m, s, color="C3", markeredgecolor="k", markeredgewidth=0.6,
                  label=f"Monte-Carlo, mean \u00b1 sem (d = {d}, "
                        f"{mc.settings.get('instances')} runs)")
    elif runs is not None:
        e = runs["errors"]
        k = np.sum(np.isfinite(e), axis=1)
        _errorbar(ax, runs["gamma"], np.nanmean(e, axis=1),
                  np.nanstd(e, axis=1, ddof=1) / np.sqrt(k), color="C3",
                  markeredgecolor="k", markeredgewidth=0.6,
                  label=f"Monte-Carlo, mean \u00b1 sem ({e.shape[1]} runs)")
    _gamma_line(ax)
    vals = np.concatenate([exact[np.abs(G - 1) > 0.15], paper[np.abs(G - 1) > 0.15]])
    ax.set_ylim(0, min(float(np.nanmax(vals)) * 1.15, 3.0))
    ax.set_xlim(G.min(), G.max())
    ax.set_xlabel("\u03b3 = n/d   (target samples per dimension)")
    ax.set_ylabel("R_finetune = |\u03b2\u0302 \u2212 \u03b2_t|\u00b2")
    ax.set_title("Fine-tuning risk: exact vs paper form vs Monte-Carlo", fontsize=10)
    ax.legend(fontsize=8, loc="upper right", framealpha=0.9)
    if runs is not None:
        g = runs["gamma"]
        a2, a3 = axes[1], axes[2]
        gap = exact - paper
        a2.plot(G[below], gap[below], color="C0", lw=2,
                label="theory: R_exact \u2212 R_paper (asymptotic)")
        a2.plot(G[above], gap[above], color="C0", lw=2)
        a2.axhline(0, color="C1", lw=1.6, ls="--", label="paper form (gap 0)")
        diff = runs["errors"] - runs["paper_errors"]
        k = np.sum(np.isfinite(diff), axis=1)
        _errorbar(a2, g, np.nanmean(diff, axis=1), np.nanstd(diff, axis=1, ddof=1) / np.sqrt(k),
                  color="C3", markeredgecolor="k", markeredgewidth=0.6,
                  label="runs: R_run \u2212 R(paper endpoint), mean \u00b1 sem")
        pred = runs["exact_errors"] - runs["paper_errors"]
        a2.plot(g, np.mean(pred, axis=1), "s", mfc="none", mec="C0", ms=8, mew=1.5,
                label="exact-form endpoint on the same data")
        _gamma_line(a2, label=False)
        a2.set_xlim(G.min(), G.max())
        a2.set_xlabel("\u03b3 = n/d")
        a2.set_ylabel("risk difference (paired, same data and pretraining)")
        a2.set_title("Paired: how far above the paper's form the runs end", fontsize=10)
        a2.legend(fontsize=7.5, loc="upper right", framealpha=0.9)
        rng = np.random.default_rng(0)
        width = 0.015 * (G.max() - G.min())
        for key, color, marker, label in (("dist_exact", "C0", "o", "to the exact-form endpoint"),
                                          ("dist_paper", "C1", "x", "to the paper-form endpoint")):
            dist = runs[key]
            jitter = rng.uniform(-width, width, dist.shape)
            a3.plot((g[:, None] + jitter).ravel(), np.maximum(dist, 1e-12).ravel(), marker,
                    color=color, ms=4, ls="", alpha=0.8, label=label)
        from ..mc.gradient_flow import TOL

        a3.axhline(TOL, color="0.4", ls=":", lw=1.4,
                   label=f"stopping rule: runs stop within {TOL:g} of the minimizer\n"
                         "(distances near it measure the tolerance, not the theory)")
        _gamma_line(a3, label=False)
        a3.set_yscale("log")
        a3.set_xlim(G.min(), G.max())
        a3.set_xlabel("\u03b3 = n/d")
        a3.set_ylabel("|\u03b2\u0302_run \u2212 \u03b2\u0302_predicted|   (per run, log scale)")
        a3.set_title("Where each run ends (\u03b3 > 1: both forms are least squares)",
                     fontsize=10)
        a3.legend(fontsize=8, loc="upper right", framealpha=0.9)
    for a in axes:  # three panels side by side: keep the text readable at full width
        a.tick_params(labelsize=10)
        a.xaxis.label.set_size(11)
        a.yaxis.label.set_size(11)
        a.title.set_size(11.5)
        legend = a.get_legend()
        if legend is not None:
            for text in legend.get_texts():
                text.set_fontsize(9.5)
    fig.suptitle("Fine-tuning: " + _params_text(**params), fontsize=13)
    return fig
