"""The report's Monte-Carlo: sweeps and simulations, cached under ``out/data`` (resumable).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import methods
from .checks import (
    Check,
    _summarize,
    agreement_checks,
    reference,
    scaling_check,
    sweep_checks,
)
from .config import Config, _Log


def _sweep(log: _Log, data: Path, name: str, method: str, grid: dict, *, workers, client,
           **settings):
    """run_sweep into data/name.npz; a file from another definition is moved aside."""
    from ..sweep import run_sweep

    path = data / f"{name}.npz"
    before = path.stat().st_mtime_ns if path.exists() else None
    t = time.perf_counter()
    try:
        sweep = run_sweep(method, grid, path=path, workers=workers, client=client,
                          progress=False, **settings)
    except ValueError as error:
        if "another definition" not in str(error):
            raise
        stale = path.with_suffix(".stale.npz")
        log(f"{path.name} holds another sweep definition; moved to {stale.name}")
        shutil.move(str(path), str(stale))
        sweep = run_sweep(method, grid, path=path, workers=workers, client=client,
                          progress=False, **settings)
    bad = int((sweep.done & ~sweep.converged.all(axis=-1)).sum())
    reused = before is not None and path.stat().st_mtime_ns == before
    if reused:
        log.reused.append(path.name)
    log(f"sweep {name}: {sweep.done.size} points ({method}, d = {sweep.settings['d']}, "
        f"{sweep.settings['instances']} instances) "
        + (f"reused from {path.name}" if reused else
           f"in {time.perf_counter() - t:.1f} s")
        + (f"; {bad} point(s) with unconverged instances" if bad else ""))
    return sweep


def _relu_sweep(cfg: Config, data: Path) -> tuple[Any, float, bool]:
    """The two-layer ReLU sweep over (gamma, theta) into data/relu_<name>.npz, in one process
    (its pretraining is shared by every point): (sweep, seconds, reused from the file)."""
    from ..relu.sweep import run_relu_sweep

    path = data / f"relu_{cfg.name}.npz"
    before = path.stat().st_mtime_ns if path.exists() else None
    t = time.perf_counter()
    sweep = run_relu_sweep({"gamma": cfg.relu_gammas, "theta": cfg.relu_thetas}, path=path,
                           instances=cfg.relu_instances, seed=cfg.seed, progress=False)
    reused = before is not None and path.stat().st_mtime_ns == before
    return sweep, time.perf_counter() - t, reused


def _relu_result(future, cfg: Config, log: _Log):
    """The ReLU sweep from its worker, logged."""
    sweep, seconds, reused = future.result()
    name = f"relu_{cfg.name}.npz"
    if reused:
        log.reused.append(name)
    log(f"sweep relu_{cfg.name}: {len(cfg.relu_gammas) * len(cfg.relu_thetas)} points "
        f"(two-layer ReLU, scratch/linear/fine-tuning, {cfg.relu_instances} instances) "
        + (f"reused from {name}" if reused else
           f"in {seconds:.1f} s in a worker process"))
    return sweep


def _simulate_task(method: str, params: dict, d: int, instances: int, seed: int) -> dict:
    """One simulation, reduced to arrays (picklable, for worker processes): errors,
    converged, and for fine-tuning the form comparison of :func:`symtransfer.plots.form_runs`
    (paired endpoint risks and distances)."""
    from ..mc import simulate

    r = simulate(method, d=d, instances=instances, seed=seed, progress=False, **params)
    out = {"errors": r.errors, "converged": r.converged.astype(float)}
    declared = methods.get(method)
    if declared.endpoint is not None and "paper" in declared.forms:
        from ..mc.control import design_controls
        from ..plots import form_runs

        comparison = form_runs([r])
        for key in ("exact_errors", "paper_errors", "dist_exact", "dist_paper"):
            out[key] = comparison[key][0]
        try:
            out["controls"], out["control_means"] = design_controls(r)
        except ValueError:  # |n - d| <= 1: no control variate with a finite mean
            pass
    return out


def _map(fn: Callable, tasks: list[tuple], workers: Executor | int | None, client) -> list:
    """fn(*task) for every task: on the dask client, in the executor ``workers`` (the
    report's pool), or in this process."""
    if not tasks:
        return []
    if client is not None:
        futures = [client.submit(fn, *task, pure=False) for task in tasks]
        return client.gather(futures)
    if isinstance(workers, Executor):
        return list(workers.map(fn, *zip(*tasks)))
    return [fn(*task) for task in tasks]


def _cached_runs(path: Path, definition: dict, tasks: list[tuple], workers, client,
                 log: _Log, what: str) -> list[dict]:
    """Simulation tasks whose reduced results are kept in ``path`` (npz + JSON definition);
    recomputed only when the definition changes."""
    key = json.dumps(definition, sort_keys=True)
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["definition"]) == key:
                    count = int(data["count"])
                    runs = [{k[len(f"{i}/"):]: data[k] for k in data.files
                             if k.startswith(f"{i}/")} for i in range(count)]
                    log(f"{what}: reused {path.name}")
                    log.reused.append(path.name)
                    return runs
        except (OSError, KeyError, ValueError):
            pass
    t = time.perf_counter()
    runs = _map(_simulate_task, tasks, workers, client)
    arrays = {f"{i}/{k}": v for i, run in enumerate(runs) for k, v in run.items()}
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, definition=np.array(key), count=np.array(len(runs)), **arrays)
    os.replace(tmp, path)
    log(f"{what}: {len(tasks)} simulations in {time.perf_counter() - t:.1f} s")
    return runs


def _monte_carlo(cfg: Config, data: Path, workers, client, log: _Log, relu: Future):
    """The sweeps, the fine-tuning form runs and the checked cases, with their checks.

    Run inside :class:`symtransfer.sweep.one_blas_thread`. ``workers`` is where the
    simulations run: the report's pool (its worker processes keep their caches -- designs,
    pretrained weights -- from one sweep to the next), 0 for this process, or ``client``
    (dask). ``relu``: the ReLU sweep, submitted by the caller (:func:`_submit_relu`)."""
    common = dict(d=cfg.d, instances=cfg.instances, seed=cfg.seed, sigma=cfg.sigma,
                  workers=workers, client=client)
    sweeps = _isotropic_sweeps(cfg, data, common, log)
    log.stage("deep linear sweeps", "reused" if len(log.reused) == len(sweeps) else "")
    # the checked runs need no ReLU data: they keep the pool busy while it finishes
    out = _checked_runs(cfg, data, sweeps, workers, client, log)
    sweeps["relu"] = _relu_result(relu, cfg, log)
    log.stage("ReLU sweep (waiting for its worker)",
              "reused" if f"relu_{cfg.name}.npz" in log.reused else "")
    return out


def _submit_relu(pool: Executor, cfg: Config, data: Path) -> Future:
    """The ReLU sweep as one task of ``pool`` (its pretraining is shared by every point)."""
    return pool.submit(_relu_sweep, cfg, data)


def _isotropic_sweeps(cfg: Config, data: Path, common: dict, log: _Log) -> dict:
    """The deep linear network sweeps of the report's figures."""
    tag = cfg.name
    return {
        "scratch": _sweep(log, data, f"scratch_gamma_{tag}", "scratch",
                          {"gamma": cfg.dd_gammas}, **common),
        "linear": _sweep(log, data, f"linear_phase_{tag}", "linear",
                         {"gamma": cfg.phase_gammas, "theta": cfg.phase_thetas}, **common),
        "finetune": _sweep(log, data, f"finetune_phase_{tag}", "finetune",
                           {"gamma": cfg.phase_gammas, "theta": cfg.phase_thetas}, **common),
        "ridge": _sweep(log, data, f"ridge_{tag}", "linear",
                        {"lam": cfg.ridge_lams, "theta": cfg.slice_thetas},
                        **dict(common, d=cfg.ridge_d, instances=cfg.ridge_instances,
                               gamma=cfg.ridge_gamma)),
        "penalty": _sweep(log, data, f"penalty_{tag}", "finetune",
                          {"gamma": [cfg.penalty_gamma], "mu": cfg.penalty_mus,
                           "theta": cfg.penalty_thetas}, **common),
    }


def _task_key(task: tuple) -> tuple:
    method, params, d, instances, seed = task
    return method, json.dumps(params, sort_keys=True), d, instances, seed


def _cost(task: tuple) -> float:
    """A rough relative cost of a simulation task (for load balance: costliest first)."""
    method, params, d, instances, _ = task
    return instances * d ** 2 * params.get("depth", 2) * (2 if params.get("gamma_s") else 1)


def _checked_runs(cfg: Config, data: Path, sweeps: dict, workers, client, log: _Log):
    """The checked cases, the fine-tuning form runs and the finite-size scaling, with the
    checks of every sweep: one list of simulations (a task that two of them need, such as
    the depth-3 case at the scaling's largest d, runs once), costliest first."""
    from ..tables import MC_CASES

    case_tasks = [(m, dict(kw), cfg.table_d, cfg.table_instances, cfg.seed)
                  for m, kw in MC_CASES]
    form_params = [dict(gamma=g, theta=cfg.forms_theta, sigma=cfg.sigma,
                        depth=cfg.forms_depth) for g in cfg.forms_gammas]
    form_tasks = [("finetune", p, cfg.d, cfg.forms_instances, cfg.seed) for p in form_params]
    fss_params = dict(cfg.fss_params)
    fss_tasks = [("finetune", fss_params, d, cfg.fss_instances, cfg.seed) for d in cfg.fss_ds]
    unique = {_task_key(t): t for t in case_tasks + form_tasks + fss_tasks}
    tasks = sorted(unique.values(), key=_cost, reverse=True)
    runs = _cached_runs(data / f"runs_{cfg.name}.npz", {"tasks": tasks}, tasks, workers,
                        client, log, "checked cases, fine-tuning form runs and finite-size "
                        "scaling")
    out = {_task_key(t): run for t, run in zip(tasks, runs)}
    case_out = [out[_task_key(t)] for t in case_tasks]
    form_out = [out[_task_key(t)] for t in form_tasks]
    forms = {k: np.stack([r[k] for r in form_out]) for k in form_out[0]}
    forms["gamma"] = np.array(cfg.forms_gammas, dtype=float)
    forms["errors"] = np.where(forms.pop("converged") > 0, forms["errors"], np.nan)
    table = agreement_checks(MC_CASES, case_out, cfg.table_d, cfg.table_instances)
    grid_checks = {
        "scratch (double descent)": sweep_checks(sweeps["scratch"], "scratch"),
        "linear (phase grid)": sweep_checks(sweeps["linear"], "linear"),
        "fine-tuning (phase grid)": sweep_checks(sweeps["finetune"], "finetune"),
        "ridge": sweep_checks(sweeps["ridge"], "ridge"),
        "fine-tuning after penalized pretraining": sweep_checks(sweeps["penalty"],
                                                                "finetune/penalty"),
    }
    fchecks = []
    for p, run in zip(form_params, form_out):
        value, what, allow, why = reference("finetune", p, cfg.d)
        mean, sem = _summarize(run["errors"])
        fchecks.append(Check("fine-tuning forms", "finetune", p, cfg.d, cfg.forms_instances,
                             what, value, mean, sem, allow, why,
                             converged=bool(run["converged"].all())))
    grid_checks["fine-tuning (forms figure)"] = fchecks
    scaling = scaling_check(fss_params, cfg.fss_ds, [out[_task_key(t)] for t in fss_tasks],
                            cfg.fss_instances)
    log.stage("checked cases, fine-tuning runs and finite-size scaling",
              "reused" if log.reused and log.reused[-1] == f"runs_{cfg.name}.npz" else "")
    return sweeps, forms, table, grid_checks, scaling
