"""What every sweep file format shares: grid parsing, grid points, atomic self-describing .npz.

A sweep file is one ``.npz`` holding a JSON ``header`` (format name, definition, metadata),
the grid axes as ``grid_<name>`` arrays, and the result arrays. It is always written to a
temporary file in the same folder and renamed over the old one (``os.replace``), so a
reader never sees a half-written file and an interrupted sweep keeps its finished points.
"""
from __future__ import annotations

import itertools
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np


def parse_grid(grid: dict[str, Iterable], axes: tuple[str, ...],
               int_axes: tuple[str, ...] = (), none_as_nan: bool = False) -> dict[str, np.ndarray]:
    """``{name: 1-d array}`` for a grid over ``axes`` (ValueError/TypeError naming the axis)."""
    if not isinstance(grid, dict) or not grid:
        raise TypeError("grid must be a non-empty dict mapping parameter names to values")
    out = {}
    for name, values in grid.items():
        if name not in axes:
            raise ValueError(f"grid parameter {name!r} is not one of {axes}")
        values = np.atleast_1d(values)
        if none_as_nan:
            values = [np.nan if v is None else v for v in values]
        arr = np.asarray(values, dtype=int if name in int_axes else float)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"grid values for {name!r} must be a non-empty 1-d sequence")
        out[name] = arr
    return out


def grid_points(grid: dict[str, np.ndarray]) -> Iterable[tuple[tuple[int, ...], dict[str, Any]]]:
    """(index, {name: python scalar}) of every point, in C order; NaN (an unset value) -> None."""
    names = list(grid)
    for index in itertools.product(*(range(len(v)) for v in grid.values())):
        yield index, {k: _scalar(grid[k][i]) for k, i in zip(names, index)}


class GridResults:
    """Shared by the sweep dataclasses: ``grid`` (name -> values) and ``done`` (grid shape)."""

    grid: dict[str, np.ndarray]
    done: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return self.done.shape

    def points(self) -> Iterable[tuple[tuple[int, ...], dict[str, Any]]]:
        """(index, parameters) of every grid point."""
        return grid_points(self.grid)


def _scalar(value):
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and np.isnan(value) else value


def same_settings(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal as they are stored (through JSON: tuples and lists compare equal)."""
    return json.loads(json.dumps(a)) == json.loads(json.dumps(b))


def resume(path: str | os.PathLike | None, fresh, same_definition):
    """The sweep stored at ``path`` when it has ``fresh``'s definition (its finished points are
    kept), ``fresh`` when there is no such file; ValueError when the file holds another sweep."""
    if path is None or not Path(path).exists():
        return fresh
    old = type(fresh).load(path)
    if not same_definition(old, fresh):
        raise ValueError(f"{path} holds a sweep with another definition; use a new path")
    return old


def save_atomic(path: str | os.PathLike, header: dict[str, Any], grid: dict[str, np.ndarray],
                arrays: dict[str, np.ndarray]) -> None:
    """Write header, grid and arrays to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, header=np.array(json.dumps(header)), **arrays,
                     **{f"grid_{k}": v for k, v in grid.items()})
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: str | os.PathLike, fmt: str, names: tuple[str, ...]
         ) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(header, grid, arrays) of a file written by :func:`save_atomic` in format ``fmt``."""
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
        if header.get("format") != fmt:
            raise ValueError(f"{path} is not a symtransfer sweep file ({fmt})")
        grid = {k: data[f"grid_{k}"] for k in header["axes"]}
        arrays = {k: data[k] for k in names}
    return header, grid, arrays
