"""``build_report``: Monte-Carlo, figures, formulas, derivations, ``report.md``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._ranked_pool import RankedPool
from ..sweep import one_blas_thread, process_pool
from .config import FULL, QUICK, _Log
from .derivation_cache import _Derivations
from .figures import FAMILIES, _collected, _submit_figures, uses_monte_carlo
from .latex import FORMULAS, _formula_status, _latex
from .markdown import _text_table, _write_markdown
from .runs import _monte_carlo, _submit_relu

#: ranks of the report's tasks in its worker pool (lower: handed out first). The simulations
#: and the ReLU sweep are rank 0: the Monte-Carlo figures wait for them; the theory-only
#: figures and the derivations fill whatever worker they leave free.
MC_FIGURES, THEORY_FIGURES, FILLER = 1, 2, 3


def build_report(out: str | os.PathLike = "report", quick: bool = False,
                 workers: int | None = None, client: Any = None) -> Path:
    """Run the Monte-Carlo, draw the figures, re-derive the formulas and write
    ``out/report.md``; returns its path.

    out : the report folder (``figures/``, ``data/``, ``report.md``). Rerunning into the
        same folder reuses the Monte-Carlo data and (when their sources are unchanged) the
        derivation results.
    quick : small d and few instances (a smoke test).
    workers : local worker processes (default: one per core, at least 2). They run
        everything but the bookkeeping, handed out by rank (:data:`MC_FIGURES` ...): the
        simulations and the ReLU sweep first, then the figures of the Monte-Carlo data; the
        theory-only figures and the re-derivation (in three parts per worker) fill free
        workers. 0 or 1: the simulations run in this process (the rest still in 2 workers).
    client : a ``dask.distributed.Client`` or a scheduler address: the sweeps and
        simulations run on that cluster (the derivations and figures locally).
    """
    import matplotlib  # noqa: F401  (fail before any simulation when it is missing)

    from ..tables import theory_tables

    log = _Log()
    cfg = QUICK if quick else FULL
    size = (os.cpu_count() or 1) if workers is None else int(workers)
    simulations_here = client is None and size <= 1
    out = Path(out)
    data, figures = out / "data", out / "figures"
    data.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    own_client = isinstance(client, str)
    if own_client:
        from distributed import Client

        client = Client(client)
    log(f"building the {cfg.name} report in {out}/ ("
        + ("simulations on dask" if client is not None else
           "simulations in this process" if simulations_here else
           f"{max(2, size)} worker processes") + ")")
    pool = None
    try:
        with one_blas_thread():  # the workers start at the first submissions
            count = max(2, size)
            pool = RankedPool(process_pool(count), count)
            relu = _submit_relu(pool, cfg, data)  # rank 0, like the simulations
            derivation = _Derivations(data, pool, 3 * count, log, rank=FILLER)
            theory = tuple(f for f in FAMILIES if not uses_monte_carlo(f))
            drawn = _submit_figures(pool, THEORY_FIGURES, theory, cfg, {}, {}, figures, log)
            log.stage("setup")
            here = 0 if simulations_here else None if client is not None else pool
            sweeps, forms, table, grid_checks, scaling = _monte_carlo(cfg, data, here, client,
                                                                      log, relu)
        drawn.update(_submit_figures(pool, MC_FIGURES, tuple(f for f in FAMILIES
                                                              if f not in theory),
                                     cfg, sweeps, forms, figures, log))
        formulas = [(title, _latex(method, options), prefixes)
                    for title, method, options, prefixes in FORMULAS]
        formulas = [f for f in formulas if f[1] is not None]
        made = _collected(drawn)
        log.stage("figures (waiting for the workers)")
        results = derivation.result()
        formulas = [(title, latex, _formula_status(prefixes, results[0]))
                    for title, latex, prefixes in formulas]
        log.stage("derivations (waiting for the workers)",
                  "reused" if results[2] else f"{results[1]:.1f} s of CPU in the workers")
        path = out / "report.md"
        _write_markdown(path, cfg=cfg, made=made, table=table, grid_checks=grid_checks,
                        derivation=results, log=log, timings=list(log.stages),
                        theory_text=theory_tables(quick), formulas=formulas, scaling=scaling)
    finally:
        if pool is not None:  # cancels what still waits, derivations included
            pool.shutdown(wait=False, cancel_futures=True)
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
