"""Sweeps of the ReLU experiment over a grid, all three methods at once, in one .npz file.

``run_relu_sweep({"gamma": [...], "theta": [...]}, d=30, instances=16, path="relu.npz")``
runs :func:`symtransfer.relu.simulate_relu` for scratch, linear transfer and fine-tuning at
every grid point, and records per instance the test errors, convergence flags, steps, and the
feature residual of the target (:func:`symtransfer.relu.feature_overlap`). All methods and
points share the seed, so instance k of every method at a point trains on the same target
data (paired transferability), and pretraining -- which does not depend on the target -- is
done once per process (cached). After every finished point the file is rewritten atomically
(temporary file in the same folder, ``os.replace``): an interrupted sweep resumes where it
stopped when called again with the same path and definition; :meth:`ReluSweep.load` gives
back identical arrays. Points may run in spawned worker processes with one BLAS thread each
(``workers > 1``, reusing :func:`symtransfer.sweep.process_pool`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

import numpy as np

from .._sweepfile import (GridResults, check_array, checked, grid_shape, invalid, load,
                          locked, parse_grid, plain_settings, resume, same_settings,
                          save_atomic)
from .experiment import DEFAULTS, METHODS, _check, simulate_relu

FORMAT = "symtransfer-relu-sweep-1"
AXES = ("gamma", "theta", "sigma", "shared", "readout_scale")
_INT_AXES = ("shared",)


@dataclass
class ReluSweep(GridResults):
    """Per-instance results of the three methods over a grid.

    ``grid`` maps each swept parameter (in order) to its values; ``settings`` holds every
    other :func:`simulate_relu` argument. ``errors``, ``converged``, ``steps`` have shape
    ``(len(methods),) + grid shape + (instances,)``; ``residual`` (the target's feature
    residual fraction for the pretrained student of each instance) ``grid shape +
    (instances,)``; ``done`` the grid shape.
    """

    methods: tuple[str, ...]
    grid: dict[str, np.ndarray]
    settings: dict[str, Any]
    errors: np.ndarray
    converged: np.ndarray
    steps: np.ndarray
    residual: np.ndarray
    done: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def _ok(self, m: int) -> np.ndarray:
        return self.done & self.converged[m].all(axis=-1)

    def risk(self, method: str) -> tuple[np.ndarray, np.ndarray]:
        """Mean test error of ``method`` per point and its sem; NaN where not done or where an
        instance did not converge (never an average over unconverged training)."""
        m = self.methods.index(method)
        e = self.errors[m]
        k = e.shape[-1]
        sem = e.std(axis=-1, ddof=1) / np.sqrt(k) if k > 1 else np.full(self.shape, np.nan)
        ok = self._ok(m)
        return np.where(ok, e.mean(axis=-1), np.nan), np.where(ok, sem, np.nan)

    def transferability(self, method: str) -> tuple[np.ndarray, np.ndarray]:
        """``T = R_scratch - R_method`` per point with its paired sem (instance k of both
        methods saw the same target data); NaN like :meth:`risk`."""
        s, m = self.methods.index("scratch"), self.methods.index(method)
        diff = self.errors[s] - self.errors[m]
        k = diff.shape[-1]
        ok = self._ok(s) & self._ok(m)
        sem = diff.std(axis=-1, ddof=1) / np.sqrt(k) if k > 1 else np.full(self.shape, np.nan)
        return np.where(ok, diff.mean(axis=-1), np.nan), np.where(ok, sem, np.nan)

    def overlap_residual(self) -> np.ndarray:
        """Mean feature residual fraction of the target per point (NaN where not done)."""
        return np.where(self.done, self.residual.mean(axis=-1), np.nan)

    # ------------------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike) -> None:
        """Write atomically: a temporary file in the same folder, renamed over ``path``."""
        header = dict(self.meta, format=FORMAT, methods=list(self.methods),
                      settings=self.settings, axes=list(self.grid))
        save_atomic(path, header, self.grid, dict(
            errors=self.errors, converged=self.converged, steps=self.steps,
            residual=self.residual, done=self.done))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ReluSweep":
        """The sweep stored at ``path`` (no unpickling). A truncated, corrupt or wrongly
        structured file is a ValueError naming the path and what is wrong."""
        header, grid, arrays = load(path, FORMAT,
                                    ("errors", "converged", "steps", "residual", "done"))
        methods = header.get("methods")
        if (not isinstance(methods, list) or not methods or len(set(map(str, methods)))
                != len(methods) or not all(m in METHODS for m in methods)):
            raise invalid(path, f"methods {methods!r} are not distinct names among {METHODS}")
        settings = header["settings"]
        (shape, k), m = grid_shape(path, grid, AXES, settings), len(methods)
        check_array(path, arrays, "done", shape, "b")
        check_array(path, arrays, "errors", (m,) + shape + (k,), "f")
        check_array(path, arrays, "converged", (m,) + shape + (k,), "b")
        check_array(path, arrays, "steps", (m,) + shape + (k,), "iu")
        check_array(path, arrays, "residual", shape + (k,), "f")
        meta = {k: v for k, v in header.items()
                if k not in ("format", "methods", "settings", "axes")}
        return checked(lambda: cls(tuple(methods), grid, settings, meta=meta, **arrays), path)


def _grid(grid: dict[str, Iterable]) -> dict[str, np.ndarray]:
    return parse_grid(grid, AXES, int_axes=_INT_AXES)


def run_point(settings: dict[str, Any], params: dict[str, Any],
              methods: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """All methods at one point: errors, converged, steps (methods, K) and residual (K,)."""
    errors, converged, steps, residual = [], [], [], None
    for method in methods:
        r = simulate_relu(method, progress=False, **{**settings, **params})
        errors.append(r.errors)
        converged.append(r.converged)
        steps.append(sum(v["steps"] for v in r.diagnostics.values() if "steps" in v))
        if "overlap" in r.diagnostics:
            residual = r.diagnostics["overlap"]["residual"]
    if residual is None:
        residual = np.full(len(errors[0]), np.nan)
    return np.stack(errors), np.stack(converged), np.stack(steps), residual


def run_relu_sweep(grid: dict[str, Iterable], *, path: str | os.PathLike | None = None,
                   methods: Iterable[str] = METHODS, workers: int = 1,
                   progress: bool | None = None, **settings: Any) -> ReluSweep:
    """Simulate every method at every point of ``grid`` (axes among ``AXES``).

    settings : any other :func:`simulate_relu` argument (d, instances, seed, width, ...).
    path : the sweep file (.npz); if it exists with the same definition only missing points
        are computed, a file with another definition is an error. A second run on the same
        path waits for the first (a lock on ``<path>.lock``), then computes what is missing.
    workers : 1 (default) runs in this process (pretraining shared by all points); more
        starts that many spawned processes, one BLAS thread each (call under
        ``if __name__ == "__main__":`` in scripts).
    progress : a tqdm bar over points (None: shown when the sweep lasts over 2 s).
    """
    methods = tuple(methods)
    if not methods or any(m not in METHODS for m in methods) or len(set(methods)) != len(
            methods):
        raise ValueError(f"methods must be distinct names among {METHODS}, got {methods!r}")
    if "scratch" not in methods:
        raise ValueError("methods must include 'scratch' (the baseline of transferability)")
    unknown = set(settings) - set(DEFAULTS) - {"theta", "gamma"}
    if unknown:
        raise TypeError(f"unknown setting(s) {sorted(unknown)}; use {sorted(DEFAULTS)}")
    grid = _grid(grid)
    clash = set(grid) & set(settings)
    if clash:
        raise ValueError(f"{sorted(clash)} given both as grid axes and as settings")
    settings = {**DEFAULTS, "theta": 0.0, **settings}
    if not isinstance(settings.get("readout"), str):
        settings["readout"] = [float(x) for x in settings["readout"]]
    settings = plain_settings(settings)  # storable (numpy scalars -> numbers) before any work
    for name in grid:
        settings.pop(name, None)
    if "gamma" not in grid and "gamma" not in settings:
        raise ValueError("gamma must be given, as a grid axis or a setting")
    for _, params in _new(methods, grid, settings).points():  # every point, before any work
        _check(methods[0], {**settings, **params})
    with locked(path):  # a second run on this path waits here, then resumes from the file
        sweep = resume(path, _new(methods, grid, settings), _same_definition)
        todo = [(i, p) for i, p in sweep.points() if not sweep.done[i]]
        for index, (e, c, s, r) in _execute(settings, todo, methods, workers, progress):
            sweep.errors[(slice(None),) + index] = e
            sweep.converged[(slice(None),) + index] = c
            sweep.steps[(slice(None),) + index] = s
            sweep.residual[index] = r
            sweep.done[index] = True
            sweep.meta["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            if path is not None:
                sweep.save(path)
    return sweep


def _new(methods, grid, settings) -> ReluSweep:
    shape = tuple(len(v) for v in grid.values())
    k, M = settings["instances"], len(methods)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    from .. import __version__

    return ReluSweep(methods, grid, settings, np.full((M,) + shape + (k,), np.nan),
                     np.zeros((M,) + shape + (k,), dtype=bool),
                     np.zeros((M,) + shape + (k,), dtype=np.int64),
                     np.full(shape + (k,), np.nan), np.zeros(shape, dtype=bool),
                     {"created": now, "versions": {"symtransfer": __version__,
                                                   "numpy": np.__version__}})


def _same_definition(a: ReluSweep, b: ReluSweep) -> bool:
    return (a.methods == b.methods and list(a.grid) == list(b.grid)
            and all(np.array_equal(a.grid[k], b.grid[k]) for k in a.grid)
            and same_settings(a.settings, b.settings))


def _execute(settings, todo, methods, workers, progress):
    if not todo:
        return
    bar = None
    if progress is not False:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="relu sweep", unit="point",
                   delay=0 if progress else 2.0, leave=False)
    try:
        if workers <= 1:
            for index, params in todo:
                yield index, run_point(settings, params, methods)
                if bar is not None:
                    bar.update(1)
            return
        from ..sweep import _gathered, one_blas_thread, process_pool

        with one_blas_thread():
            pool = process_pool(min(workers, len(todo)))
            futures = {pool.submit(run_point, settings, params, methods): index
                       for index, params in todo}
        with pool:
            yield from _gathered(futures, bar)
    finally:
        if bar is not None:
            bar.close()
