"""Monte-Carlo sweeps over parameter grids: parallel, resumable, saved atomically.

``run_sweep("finetune", {"gamma": [...], "theta": [...]}, sigma=0.2, d=200, instances=20,
path="ft.npz")`` runs :func:`symtransfer.simulate` at every grid point, in local worker
processes (default) or on a dask.distributed cluster (``client=`` a ``Client`` or a scheduler
address). Every completed point is written to ``path`` at once, atomically (a temporary file
renamed over the old one), so an interrupted sweep resumes where it stopped; a finished
sweep reloads with identical arrays.

Sharing across grid points is by construction, not by approximation: every point uses the
same ``seed``, so all points draw the same initializations and the same target designs
(common random numbers: differences between points are less noisy); pretraining, which does
not depend on the target, and the SVD of a target design, which does not depend on theta or
sigma, are computed once per worker process and reused (``symtransfer.mc.pipeline`` caches).
Each point's numbers depend only on its parameters and the seed, never on the order or the
worker that computed it.
"""
from __future__ import annotations

import os
import platform
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

import numpy as np

from . import methods
from . import validation as V
from ._sweepfile import (
    GridResults,
    check_array,
    checked,
    grid_points,
    grid_shape,
    invalid,
    load,
    locked,
    parse_grid,
    plain_settings,
    resume,
    same_settings,
    save_atomic,
)
from .mc.covariance import SETTINGS as COVARIANCE
from .mc.covariance import covariance, decoded, to_setting

FORMAT = "symtransfer-sweep-1"
AXES = ("gamma", "theta", "sigma", "lam", "depth", "gamma_s", "sigma_s", "mu")
SETTINGS = dict(gamma=None, theta=None, sigma=0.0, lam=0.0, depth=2, gamma_s=None, sigma_s=0.0, d=200, instances=20,
                seed=0, alpha=1e-5, init="random", tol=1e-6, max_steps=100_000,
                rank_tol=1e-3, baseline="ridgeless", mu=0.0)
#: optimizer settings (:mod:`symtransfer.mc.optimizers`): stored in a sweep file only when
#: given, so the definitions of gradient-flow sweeps (and their files) stay as they were
OPTIMIZER_SETTINGS = dict(optimizer="flow", lr=None, batch_size=None, epochs=None,
                          replacement=False)
#: ``record=`` (an integer K or increasing times): every point keeps its training trajectory
#: (:attr:`Sweep.trajectory`); stored only when given, like the optimizer settings
RECORD_SETTINGS = dict(record=None)


@dataclass
class Sweep(GridResults):
    """Per-instance results of one method over a grid.

    ``grid`` maps each swept parameter (in order) to its values; ``settings`` holds every other
    :func:`symtransfer.simulate` argument. ``errors``, ``converged`` and ``steps`` have shape
    ``grid shape + (instances,)``; ``done`` has the grid shape. ``meta`` records the format,
    package versions and times. With the setting ``record``, ``trajectory`` maps each recorded
    quantity of :attr:`symtransfer.SimulationResult.trajectory` to ``grid shape +`` its
    per-point shape (``time``: ``(T,)``; ``loss``, ``risk``, ``distance``: ``(instances, T)``;
    the imbalances: ``(instances, T, depth - 1)``), NaN where a point is not done.
    """

    method: str
    grid: dict[str, np.ndarray]
    settings: dict[str, Any]
    errors: np.ndarray
    converged: np.ndarray
    steps: np.ndarray
    done: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    trajectory: dict[str, np.ndarray] | None = None

    def mean(self) -> np.ndarray:
        """Mean error per grid point; NaN where not done or where an instance did not
        converge (never an average over unconverged training)."""
        ok = self.done & self.converged.all(axis=-1)
        return np.where(ok, self.errors.mean(axis=-1), np.nan)

    def sem(self) -> np.ndarray:
        """Standard error of the mean per grid point (NaN like :meth:`mean`)."""
        ok = self.done & self.converged.all(axis=-1)
        k = self.errors.shape[-1]
        sem = self.errors.std(axis=-1, ddof=1) / np.sqrt(k) if k > 1 else np.full(self.shape,
                                                                                np.nan)
        return np.where(ok, sem, np.nan)

    def to_xarray(self):
        """The sweep as an :class:`xarray.Dataset` (see :func:`symtransfer.export.to_xarray`)."""
        from .export import to_xarray

        return to_xarray(self)

    def to_dataframe(self):
        """One row per (grid point, instance) (see :func:`symtransfer.export.to_dataframe`)."""
        from .export import to_dataframe

        return to_dataframe(self)

    def theory(self, quantity: str = "risk", form: str = "exact",
               finite_size: bool = False) -> np.ndarray:
        """The theory on the same grid: ``symtransfer.risk`` or ``transferability``;
        ``finite_size=True`` gives the exact expectation at the sweep's d where it is known
        (scratch; ridgeless linear transfer with population pretraining)."""
        from . import theory

        fn = {"risk": theory.risk, "transferability": theory.transferability}[quantity]
        declared = methods.get(self.method)
        out = np.empty(self.shape)
        for index, params in self.points():
            kw = {**{k: v for k, v in decoded(self.settings).items()
                     if k in AXES + ("baseline",) + tuple(COVARIANCE)}, **params}
            if finite_size:
                kw["d"] = self.settings["d"]
            if quantity == "risk" and kw.get("baseline") not in declared.baselines:
                kw.pop("baseline", None)
            out[index] = fn(self.method, form=form, **kw)
        return out

    # ------------------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike) -> None:
        """Write atomically: a temporary file in the same folder, renamed over ``path``."""
        header = dict(self.meta, format=FORMAT, method=self.method, settings=self.settings,
                      axes=list(self.grid))
        arrays = dict(errors=self.errors, converged=self.converged, steps=self.steps,
                      done=self.done)
        if self.trajectory is not None:
            header["trajectory"] = sorted(self.trajectory)
            arrays.update({f"trajectory_{k}": v for k, v in self.trajectory.items()})
        save_atomic(path, header, self.grid, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Sweep":
        """The sweep stored at ``path`` (no unpickling). A truncated, corrupt or wrongly
        structured file is a ValueError naming the path and what is wrong."""
        def trajectory_arrays(header: dict) -> tuple[str, ...]:
            keys = header.get("trajectory", [])
            if not (isinstance(keys, list) and all(isinstance(k, str) and k.isidentifier()
                                                   for k in keys)):
                raise invalid(path, f"header['trajectory'] is {keys!r}, not a list of names")
            return tuple(f"trajectory_{k}" for k in keys)

        header, grid, arrays = load(path, FORMAT, ("errors", "converged", "steps", "done"),
                                    optional=trajectory_arrays)
        keys = header.get("trajectory", [])
        method = header.get("method")
        if method not in methods.names():
            raise invalid(path, f"method {method!r} is not one of {methods.names()}")
        settings = header["settings"]
        shape, k = grid_shape(path, grid, AXES, settings)
        check_array(path, arrays, "done", shape, "b")
        check_array(path, arrays, "errors", shape + (k,), "f")
        check_array(path, arrays, "converged", shape + (k,), "b")
        check_array(path, arrays, "steps", shape + (k,), "iu")
        trajectory = _checked_trajectory(path, arrays, keys, shape, k) if keys else None
        meta = {k: v for k, v in header.items()
                if k not in ("method", "settings", "axes", "trajectory")}
        return checked(lambda: cls(method, grid, settings, meta=meta, trajectory=trajectory,
                                   **arrays), path)


def _checked_trajectory(path, arrays: dict, keys: list, shape: tuple, k: int) -> dict:
    """The stored trajectory arrays, their shapes checked against the grid and each other."""
    if "time" not in keys:
        raise invalid(path, "a stored trajectory has no 'time'")
    out = {key: arrays.pop(f"trajectory_{key}") for key in keys}
    time = out["time"]
    if time.ndim != len(shape) + 1 or time.shape[:-1] != shape:
        raise invalid(path, f"'trajectory_time' has shape {time.shape}, expected {shape} + (T,)")
    for key, value in out.items():
        if value.dtype.kind != "f":
            raise invalid(path, f"'trajectory_{key}' has dtype {value.dtype}, expected floats")
        if key != "time" and value.shape[:len(shape) + 2] != shape + (k, time.shape[-1]):
            raise invalid(path, f"'trajectory_{key}' has shape {value.shape}, expected "
                          f"{shape + (k, time.shape[-1])} + ...")
    return out


def _versions() -> dict[str, str]:
    import mpmath
    import scipy

    from . import __version__

    return {"symtransfer": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "mpmath": mpmath.__version__, "python": platform.python_version()}


def _grid(grid: dict[str, Iterable]) -> dict[str, np.ndarray]:
    return parse_grid(grid, AXES, int_axes=("depth",), none_as_nan=True)


def _new(method: str, grid: dict[str, np.ndarray], settings: dict[str, Any]) -> Sweep:
    shape = tuple(len(v) for v in grid.values())
    k = settings["instances"]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return Sweep(method, grid, settings, np.full(shape + (k,), np.nan),
                 np.zeros(shape + (k,), dtype=bool), np.zeros(shape + (k,), dtype=np.int64),
                 np.zeros(shape, dtype=bool), {"created": now, "versions": _versions()})


def _same_definition(a: Sweep, b: Sweep) -> bool:
    return (a.method == b.method and list(a.grid) == list(b.grid)
            and all(np.array_equal(a.grid[k], b.grid[k], equal_nan=True) for k in a.grid)
            and same_settings(a.settings, b.settings))


def run_point(method: str, settings: dict[str, Any], params: dict[str, Any]):
    """Simulate one grid point; returns (errors, converged, total steps) per instance and the
    recorded trajectory (None without ``record``).

    Runs in worker processes: the simulate caches of that process are reused between points.
    """
    from .mc import simulate

    result = simulate(method, progress=False, **{**decoded(settings), **params})
    steps = np.zeros(result.instances, dtype=np.int64)
    for phase in result.diagnostics.values():
        if "steps" in phase:
            steps += phase["steps"]
    return result.errors, result.converged, steps, result.trajectory


def run_sweep(method: str, grid: dict[str, Iterable], *, path: str | os.PathLike | None = None,
              workers: int | None = None, client: Any = None, progress: bool | None = None,
              **settings: Any) -> Sweep:
    """Simulate ``method`` at every point of ``grid`` (a dict of parameter -> values).

    settings : any other :func:`symtransfer.simulate` argument (gamma or theta when not swept,
        sigma, lam, depth, gamma_s, sigma_s, d, instances, seed, alpha, init, tol,
        max_steps, rank_tol; ``spectrum``, ``source_spectrum``, ``teacher``, stored in the
        file as their atoms and profile).
    path : the sweep file (.npz). If it exists with the same definition, finished points are
        kept and only the rest are computed; a file with another definition is an error.
        While the sweep runs it holds a lock on ``<path>.lock``: a second run on the same
        path waits for it, then computes only what is still missing.
    workers : local worker processes (default: the number of cores, at most one per point to
        do); 0 or 1 runs in this process. Each worker uses one BLAS thread. Or a
        ``concurrent.futures`` executor the caller owns (e.g. :func:`process_pool`, started
        inside :class:`one_blas_thread`) to share between sweeps: its workers keep their
        caches (target designs, pretrained weights) from one sweep to the next.
    client : a ``dask.distributed.Client`` or a scheduler address; then the points run on
        that cluster instead of local processes.
    progress : a tqdm bar over grid points (None: shown when the sweep lasts over 2 s).
    """
    V.method_name(method)
    known = set(SETTINGS) | set(OPTIMIZER_SETTINGS) | set(RECORD_SETTINGS) | set(COVARIANCE)
    unknown = set(settings) - known
    if unknown:
        raise TypeError(f"unknown setting(s) {sorted(unknown)}; use {sorted(known)}")
    grid = _grid(grid)
    clash = set(grid) & set(settings)
    if clash:
        raise ValueError(f"{sorted(clash)} given both as grid axes and as settings")
    settings = plain_settings({**SETTINGS, **_covariance_settings(settings)})
    for name in grid:
        settings.pop(name, None)
    _validate_points(method, settings, list(grid_points(grid)))
    with locked(path):  # a second run on this path waits here, then resumes from the file
        sweep = resume(path, _new(method, grid, settings), _same_definition)
        todo = [(index, params) for index, params in sweep.points() if not sweep.done[index]]
        for index, (errors, converged, steps, trajectory) in _execute(
                method, settings, todo, workers, client, progress):
            sweep.errors[index], sweep.converged[index] = errors, converged
            sweep.steps[index] = steps
            if trajectory is not None:
                _store_trajectory(sweep, index, trajectory)
            sweep.done[index] = True
            sweep.meta["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            if path is not None:
                sweep.save(path)
    return sweep


def _store_trajectory(sweep: Sweep, index: tuple, trajectory: dict) -> None:
    """Point ``index``'s trajectory into the sweep's arrays (made, NaN, at the first)."""
    if sweep.trajectory is None:
        sweep.trajectory = {k: np.full(sweep.shape + np.shape(v), np.nan)
                            for k, v in trajectory.items()}
    for key, value in trajectory.items():
        if key not in sweep.trajectory or sweep.trajectory[key].shape[len(sweep.shape):] != \
                np.shape(value):
            raise ValueError(f"point {index}: recorded {key!r} of shape {np.shape(value)} does "
                             "not match the sweep's other points (give record explicit times)")
        sweep.trajectory[key][index] = value


def _covariance_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``spectrum``, ``source_spectrum``, ``teacher`` as JSON values, kept only where they are
    not the default (so sweep files without them keep their definition)."""
    out = {k: v for k, v in settings.items() if k not in COVARIANCE}
    for name, default in COVARIANCE.items():
        if name in settings:
            value = to_setting(name, settings[name])
            if value != default:
                out[name] = value
    return out


def _validate_points(method: str, settings: dict[str, Any], points: list) -> None:
    """Check every point's parameters before any work starts (errors name the parameter)."""
    from .mc.optimizers import record_times
    from .mc.optimizers import validate as validate_optimizer
    from .mc.pipeline import _validate

    cov = {k: v for k, v in decoded(settings).items() if k in COVARIANCE}
    if cov:
        covariance({**COVARIANCE, **cov}["spectrum"], {**COVARIANCE, **cov}["source_spectrum"],
                   {**COVARIANCE, **cov}["teacher"], int(settings["d"]))
    for _, params in points:
        kw = {k: v for k, v in {**settings, **params}.items() if k not in COVARIANCE}
        if kw["gamma"] is None:
            raise ValueError("gamma must be given, as a grid axis or a setting")
        record = kw.pop("record", None)
        kw = _validate(method, kw)
        if record is not None and not methods.get(method).records(kw):
            raise ValueError(f"record: method {method!r} keeps no training trajectory with "
                             f"these parameters ({params})")
        opt = {name: kw.get(name, value) for name, value in OPTIMIZER_SETTINGS.items()}
        n = int(round(kw["gamma"] * kw["d"]))
        chosen = validate_optimizer(opt.pop("optimizer"), **opt, n=n, method=method,
                                    ridge=not methods.get(method).trains_network(kw))
        if record is not None:
            record_times(record, chosen, chosen.budget(n, kw["max_steps"]))


def _execute(method, settings, todo, workers, client, progress):
    """Yield (index, result) as points finish, from the chosen executor."""
    if not todo:
        return
    bar = _bar(progress, len(todo))
    try:
        if client is not None:
            yield from _on_dask(method, settings, todo, client, bar)
            return
        if isinstance(workers, Executor):
            yield from _gathered(_submitted(workers, method, settings, todo), bar)
            return
        workers = min(os.cpu_count() or 1, len(todo)) if workers is None else workers
        if workers <= 1:
            for index, params in todo:
                yield index, run_point(method, settings, params)
                _tick(bar)
            return
        yield from _on_processes(method, settings, todo, workers, bar)
    finally:
        if bar is not None:
            bar.close()


def _on_processes(method, settings, todo, workers, bar):
    with one_blas_thread():  # workers start at submit: keep the variables set until then
        pool = process_pool(workers)
        futures = _submitted(pool, method, settings, todo)
    with pool:
        yield from _gathered(futures, bar)


def _submitted(pool: Executor, method, settings, todo) -> dict:
    return {pool.submit(run_point, method, settings, params): index for index, params in todo}


def _gathered(futures: dict, bar):
    """(index, result) as the futures finish; the rest are cancelled if one fails."""
    import concurrent.futures as cf

    try:
        for future in cf.as_completed(futures):
            yield futures[future], future.result()
            _tick(bar)
    except BaseException:
        for future in futures:
            future.cancel()
        raise


_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class one_blas_thread:
    """Worker processes started inside this block use one BLAS thread each.

    Several multi-threaded BLAS processes on the same cores oversubscribe them and run several
    times slower. The variables must be set when a worker *starts*, and ProcessPoolExecutor
    starts its workers lazily, at ``submit``; this process's own BLAS, already loaded, is
    unaffected.
    """

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in _THREAD_VARS}
        os.environ.update({k: "1" for k in _THREAD_VARS})
        return self

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        return False


def process_pool(workers: int):
    """A spawn-context process pool (start its workers inside :class:`one_blas_thread`).

    Its workers exit by themselves within about a second when this process dies (even by
    SIGKILL, which runs no cleanup here): see :func:`exit_with_parent`; and they keep freed
    memory for reuse (:func:`symtransfer._malloc.keep_freed_memory`: speed only).
    """
    import concurrent.futures as cf
    import multiprocessing as mp

    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                  initializer=_start_worker, initargs=(os.getpid(),))


def _start_worker(parent: int) -> None:
    """Initializer of :func:`process_pool`'s workers."""
    from ._malloc import keep_freed_memory

    exit_with_parent(parent)
    keep_freed_memory()


def exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """Worker initializer: a daemon thread that ends this process (``os._exit``) as soon as
    its parent ``parent`` is gone (the worker was re-parented), so that killing a sweep
    never leaves orphaned workers computing for minutes."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    if os.getppid() != parent:  # the parent died while this worker started
        os._exit(1)
    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _on_dask(method, settings, todo, client, bar):
    from distributed import Client, as_completed

    own = isinstance(client, str)
    client = Client(client) if own else client
    try:
        futures = {client.submit(run_point, method, settings, params, pure=False): index
                   for index, params in todo}
        for future in as_completed(list(futures)):
            yield futures[future], future.result()
            _tick(bar)
    finally:
        if own:
            client.close()


def _bar(progress: bool | None, total: int):
    if progress is False:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="sweep", unit="point", delay=0 if progress else 2.0,
                leave=False)


def _tick(bar) -> None:
    if bar is not None:
        bar.update(1)


def transferability(scratch: Sweep, method: Sweep) -> tuple[np.ndarray, np.ndarray]:
    """Monte-Carlo T = R_scratch - R_method and its standard error, from two sweeps on the
    same grid.

    With the same seed, d and number of instances (common random numbers), instance k of both
    sweeps trains on the same target data, so the per-instance differences are independent
    draws of T: the sem is theirs. Otherwise the two sems add in quadrature.
    """
    if list(scratch.grid) != list(method.grid) or not all(
            np.array_equal(scratch.grid[k], method.grid[k], equal_nan=True) for k in scratch.grid):
        raise ValueError("the two sweeps must share their grid")
    reference = methods.reference().name
    if scratch.method != reference:
        raise ValueError(f"the first sweep must be of {reference!r}, got {scratch.method!r}")
    T = scratch.mean() - method.mean()
    k = method.errors.shape[-1]
    paired = scratch.errors.shape[-1] == k and all(
        scratch.settings.get(name) == method.settings.get(name) for name in ("seed", "d"))
    if paired and k > 1:
        sem = np.std(scratch.errors - method.errors, axis=-1, ddof=1) / np.sqrt(k)
    else:
        sem = np.hypot(scratch.sem(), method.sem())
    return T, np.where(np.isfinite(T), sem, np.nan)
