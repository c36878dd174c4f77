"""The text tables of the CLI and the report: theory values over gamma, exact vs paper
fine-tuning, phase boundaries, and the theory vs Monte-Carlo cases (:data:`MC_CASES`).

Both :mod:`symtransfer.cli` and :mod:`symtransfer.report` import from here, so imports run
one way (cli -> report -> tables).
"""
from __future__ import annotations

import math

from . import methods, theory


def _fmt(x) -> str:
    x = float(x)
    return f"{x:10.4f}" if math.isfinite(x) or math.isinf(x) else f"{'nan':>10}"


def _table(title: str, header: list[str], rows: list[list]) -> str:
    lines = [title, "  ".join(f"{h:>10}" for h in header)]
    lines += ["  ".join(c if isinstance(c, str) else _fmt(c) for c in row) for row in rows]
    return "\n".join(lines) + "\n"


def report(quick: bool = False) -> str:
    """The text report: the theory tables and the theory vs Monte-Carlo table."""
    return theory_tables(quick) + "\n" + monte_carlo_table(quick)


def theory_tables(quick: bool = False) -> str:
    """Tables of theory values: risks over gamma, exact vs paper fine-tuning, boundaries."""
    gammas = [0.2, 0.5, 0.8, 1.0, 1.5, 2.0] if quick else [0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0,
                                                          1.1, 1.5, 2.0, 3.0]
    theta, sigma = math.pi / 4, 0.2
    rows = []
    for g in gammas:
        rows.append([f"{g:10.2f}",
                     theory.risk("scratch", gamma=g, sigma=sigma),
                     theory.risk("linear", gamma=g, theta=theta, sigma=sigma),
                     theory.risk("linear", gamma=g, theta=theta, sigma=sigma, lam=0.1),
                     theory.risk("finetune", gamma=g, theta=theta, sigma=sigma),
                     theory.risk("finetune", gamma=g, theta=theta, sigma=sigma, form="paper"),
                     theory.transferability("finetune", gamma=g, theta=theta, sigma=sigma)])
    out = [_table(f"Risks at theta = pi/4, sigma = {sigma}, depth 2, population pretraining",
                  ["gamma", "scratch", "linear", "ridge 0.1", "ft exact", "ft paper", "T ft"],
                  rows)]
    ft = dict(gamma=0.6, theta=3 * math.pi / 8, sigma=0.5)
    rows = [[f"{L:10d}", theory.risk("finetune", depth=L, **ft),
             theory.risk("finetune", depth=L, form="paper", **ft)] for L in (2, 3, 4, 6)]
    out.append(_table("Fine-tuning, gamma = 0.6, theta = 3pi/8, sigma = 0.5: exact vs paper",
                      ["depth", "exact", "paper"], rows))
    rows = []
    for g in (0.2, 0.5, 0.8):
        rows.append([f"{g:10.2f}",
                     theory.phase_boundary("linear", gamma=g) / math.pi,
                     theory.phase_boundary("linear", gamma=g, sigma=0.2) / math.pi,
                     theory.phase_boundary("finetune", gamma=g, form="paper") / math.pi,
                     theory.phase_boundary("finetune", gamma=g, sigma=0.5, depth=3) / math.pi])
    out.append(_table("Phase boundaries theta*/pi (T > 0 below)",
                      ["gamma", "lin s=0", "lin s=.2", "ft paper", "ft L3 s=.5"], rows))
    return "\n".join(out)


MC_CASES = [
    ("scratch", dict(gamma=0.5, theta=math.pi / 4, sigma=0.3)),
    ("linear", dict(gamma=0.5, theta=math.pi / 4, sigma=0.3)),
    ("linear", dict(gamma=0.5, theta=math.pi / 4, sigma=0.3, lam=0.5)),
    ("linear", dict(gamma=0.5, theta=math.pi / 4, sigma=0.3, lam=0.5, gamma_s=0.5,
                    sigma_s=0.3, depth=3)),
    ("finetune", dict(gamma=0.5, theta=math.pi / 4, sigma=0.0)),
    ("finetune", dict(gamma=0.6, theta=3 * math.pi / 8, sigma=0.5, depth=3)),
    ("finetune", dict(gamma=0.5, theta=0.8, sigma=0.0, depth=3, gamma_s=0.5)),
]


def monte_carlo_table(quick: bool = False) -> str:
    """Theory (exact and, for fine-tuning, the paper's form) beside Monte-Carlo gradient flow;
    for fine-tuning also the distance of each run's endpoint to each form's prediction."""
    from .mc import simulate
    from .mc.mechanism import endpoint_distances

    d, instances = (100, 12) if quick else (200, 24)
    lines = [f"Theory vs Monte-Carlo gradient flow (d = {d}, {instances} instances, seed 0). "
             "Theory is asymptotic: expect O(1/d) offsets.",
             "Endpoint columns: per-run distance |beta_hat - prediction| on the same data "
             "(max for the exact form, min for the paper's).",
             f"{'method':>20}  {'parameters':<62} {'exact':>7} {'paper':>7} {'MC':>7} "
             f"{'+-sem':>6} {'end:exact':>9} {'end:paper':>9}"]
    for method, kw in MC_CASES:
        result = simulate(method, d=d, instances=instances, seed=0, progress=False, **kw)
        exact = theory.risk(method, **kw)
        label = method + ("/ridge" if kw.get("lam") else "") + (
            "/finite" if kw.get("gamma_s") else "")
        params = ",".join(f"{k}={v / math.pi:.3g}pi" if k == "theta" else f"{k}={v:.3g}"
                          for k, v in kw.items())
        paper = ends = ""
        declared = methods.get(method)
        if "paper" in declared.forms:
            paper = f"{theory.risk(method, form='paper', **kw):7.4f}"
        if declared.endpoint is not None:
            gaps = endpoint_distances(result)
            ends = f"{gaps['exact'].max():9.1e} {gaps['paper'].min():9.1e}"
        lines.append(f"{label:>20}  {params:<62} {exact:7.4f} {paper:>7} {result.mean:7.4f} "
                     f"{result.sem:6.4f} {ends}")
    return "\n".join(lines) + "\n"
