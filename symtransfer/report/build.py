"""``build_report``: Monte-Carlo, figures, formulas, derivations, ``report.md``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..sweep import one_blas_thread
from .config import FULL, QUICK, _Log
from .derivation_cache import _Derivations
from .figures import _make_figures
from .latex import FORMULAS, _formula_status, _latex
from .markdown import _text_table, _write_markdown
from .runs import _monte_carlo


def build_report(out: str | os.PathLike = "report", quick: bool = False,
                 workers: int | None = None, client: Any = None) -> Path:
    """Run the Monte-Carlo, draw the figures, re-derive the formulas and write
    ``out/report.md``; returns its path.

    out : the report folder (``figures/``, ``data/``, ``report.md``). Rerunning into the
        same folder reuses the Monte-Carlo data and (when their sources are unchanged) the
        derivation results.
    quick : small d and few instances (a smoke test, well under a minute).
    workers : local worker processes for the simulations (default: one per core, or this
        process only with ``quick``, whose simulations cost less than starting workers; 0 or
        1: this process only). The re-derivation runs in one background process regardless.
    client : a ``dask.distributed.Client`` or a scheduler address: the sweeps and
        simulations run on that cluster.
    """
    import matplotlib  # noqa: F401  (fail before any simulation when it is missing)

    from ..tables import theory_tables

    log = _Log()
    cfg = QUICK if quick else FULL
    if quick and workers is None and client is None:
        workers = 0  # tiny simulations: starting worker processes would cost more
    out = Path(out)
    data, figures = out / "data", out / "figures"
    data.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    own_client = isinstance(client, str)
    if own_client:
        from distributed import Client

        client = Client(client)
    log(f"building the {cfg.name} report in {out}/ ("
        + ("dask" if client is not None else
           f"{workers if workers is not None else os.cpu_count()} worker process(es)") + ")")
    derivation = None
    try:
        derivation = _Derivations(data, background=True, log=log)
        log.stage("setup")
        with one_blas_thread():
            sweeps, forms, table, grid_checks, scaling = _monte_carlo(cfg, data, workers,
                                                                      client, log)
        made = _make_figures(cfg, sweeps, forms, figures, log,
                             workers=min(2, os.cpu_count() or 1) if client is None else 1)
        log.stage("figures")
        formulas = [(title, _latex(method, options), prefixes)
                    for title, method, options, prefixes in FORMULAS]
        formulas = [f for f in formulas if f[1] is not None]
        log.stage("formulas (LaTeX)")
        results = derivation.result()
        formulas = [(title, latex, _formula_status(prefixes, results[0]))
                    for title, latex, prefixes in formulas]
        log.stage("derivations (waiting for the background process)",
                  "reused" if results[2] else f"{results[1]:.1f} s in the background")
        path = out / "report.md"
        _write_markdown(path, cfg=cfg, made=made, table=table, grid_checks=grid_checks,
                        derivation=results, log=log, timings=list(log.stages),
                        theory_text=theory_tables(quick), formulas=formulas, scaling=scaling)
    finally:
        if derivation is not None:
            derivation.close()
        if own_client:
            client.close()
    grid_all = [c for checks in grid_checks.values() for c in checks]
    print("\nTheory vs Monte-Carlo (d = %d, %d instances, seed %d): |mean - theory| <= 4 sem "
          "+ allowance" % (cfg.table_d, cfg.table_instances, cfg.seed))
    print(_text_table(table))
    print(f"sweep points within 4 sem + allowance: {sum(c.ok for c in grid_all)} of "
          f"{len(grid_all)}")
    print(f"fine-tuning by finite-size scaling (d = {scaling.ds}): intercept "
          f"{scaling.intercept:.4f} +- {scaling.intercept_se:.4f}; exact {scaling.exact:.4f} "
          f"(z = {scaling.z_exact:+.1f}), paper {scaling.paper:.4f} (z = {scaling.z_paper:+.1f})")
    failed = [r for r in results[0] if not r[1]]
    print(f"derivations: {len(results[0]) - len(failed)} of {len(results[0])} checks pass")
    log(f"wrote {path} ({len(made)} figures) in {log.elapsed:.1f} s")
    return path
