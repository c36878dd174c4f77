"""What every sweep file format shares: grid parsing, grid points, atomic self-describing .npz.

A sweep file is one ``.npz`` holding a JSON ``header`` (format name, definition, metadata),
the grid axes as ``grid_<name>`` arrays, and the result arrays. It is always written to a
temporary file in the same folder (created with the user's umask, like any other file),
flushed to disk, and renamed over the old one (``os.replace``), so a reader never sees a
half-written file and an interrupted sweep keeps its finished points. Loading never unpickles
(``allow_pickle=False``) and checks the structure: a truncated, corrupt or foreign file is one
``ValueError`` naming the path and what is wrong.

Concurrent runs on one path: a sweep holds an advisory lock (``fcntl.flock``) on
``<path>.lock`` while it runs, so a second run on the same path waits until the first has
finished, then resumes from its file: it computes only what is still missing, and no finished
point is ever overwritten by an older copy. (Where ``fcntl`` does not exist, e.g. Windows,
there is no lock: do not run two sweeps on one path there.)
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

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


def plain_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as JSON values (numpy scalars and arrays -> Python numbers and lists, tuples ->
    lists), checked before any work is done: a setting that cannot be stored is a TypeError
    naming it, not a failure at the first save."""
    out = {}
    for name, value in settings.items():
        value = _plain(value)
        try:
            json.dumps(value, allow_nan=True)
        except (TypeError, ValueError):
            raise TypeError(f"setting {name}={value!r} cannot be stored in a sweep file "
                            "(use numbers, strings, None or lists of them)") from None
        out[name] = value
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@contextlib.contextmanager
def locked(path: str | os.PathLike | None) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``<path>.lock`` (waiting for another holder);
    nothing when path is None or the platform has no ``fcntl``."""
    if path is None:
        yield
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock (so does the death of the process)


def save_atomic(path: str | os.PathLike, header: dict[str, Any], grid: dict[str, np.ndarray],
                arrays: dict[str, np.ndarray]) -> None:
    """Write header, grid and arrays to ``path`` through a temporary file, fsync and a rename.

    The temporary file is created with mode 0666 less the umask (as ``open`` would), so the
    sweep file gets the user's usual permissions.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, header=np.array(json.dumps(header)), **arrays,
                     **{f"grid_{k}": v for k, v in grid.items()})
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (best effort: not every platform opens folders)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


class SweepFileError(ValueError):
    """A file that is not a valid sweep file of the expected format (a ValueError)."""


def invalid(path: str | os.PathLike, what: str) -> SweepFileError:
    return SweepFileError(f"{path} is not a valid symtransfer sweep file: {what}")


def load(path: str | os.PathLike, fmt: str, names: tuple[str, ...],
         optional: Callable[[dict[str, Any]], tuple[str, ...]] | None = None
         ) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(header, grid, arrays) of a file written by :func:`save_atomic` in format ``fmt``.

    ``optional(header)`` names further arrays the header says the file holds (each must be
    there); they are read in the same pass.

    Never unpickles. Structure is checked here (a JSON header with this format and a list of
    axes, a 1-d numeric ``grid_<axis>`` per axis, every array in ``names``); shapes and dtypes
    of the arrays are checked by the caller (:func:`check_array`). Any failure is a
    :class:`SweepFileError` (a ValueError) naming the path; a missing file stays
    FileNotFoundError.
    """
    if not Path(path).exists():
        raise FileNotFoundError(f"no sweep file at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise invalid(path, "a single .npy array, not an .npz archive")
            members = set(data.files)
            header = _header(path, data, members, fmt)
            grid, arrays = {}, {}
            for k in header["axes"]:
                grid[k] = _member(path, data, members, f"grid_{k}")
                if grid[k].ndim != 1 or grid[k].size == 0 or grid[k].dtype.kind not in "fiu":
                    raise invalid(path, f"grid axis {k!r} is not a non-empty 1-d numeric array")
            for k in names + (optional(header) if optional is not None else ()):
                arrays[k] = _member(path, data, members, k)
    except SweepFileError:
        raise
    except Exception as error:  # noqa: BLE001 - zip, zlib, npy and pickle refusals alike
        raise invalid(path, f"unreadable ({type(error).__name__}: {error})") from error
    return header, grid, arrays


def _member(path, data, members: set, name: str) -> np.ndarray:
    if name not in members:
        raise invalid(path, f"array {name!r} is missing")
    return data[name]


def _header(path, data, members: set, fmt: str) -> dict[str, Any]:
    raw = _member(path, data, members, "header")
    if raw.shape != () or raw.dtype.kind != "U":
        raise invalid(path, "the header is not a JSON string")
    try:
        header = json.loads(str(raw))
    except ValueError:
        raise invalid(path, "the header is not valid JSON") from None
    if not isinstance(header, dict) or header.get("format") != fmt:
        raise SweepFileError(f"{path} is not a symtransfer sweep file ({fmt})")
    axes = header.get("axes")
    if (not isinstance(axes, list) or not axes or len(set(map(str, axes))) != len(axes)
            or not all(isinstance(a, str) for a in axes)):
        raise invalid(path, "the header's 'axes' is not a list of distinct names")
    if not isinstance(header.get("settings"), dict):
        raise invalid(path, "the header's 'settings' is not a mapping")
    return header


def check_array(path, arrays: dict[str, np.ndarray], name: str, shape: tuple[int, ...],
                kinds: str) -> None:
    """``arrays[name]`` must have ``shape`` and a dtype kind among ``kinds`` ('b' bool,
    'f' float, 'i' integer)."""
    value = arrays[name]
    if value.shape != shape:
        raise invalid(path, f"{name!r} has shape {value.shape}, expected {shape}")
    if value.dtype.kind not in kinds:
        raise invalid(path, f"{name!r} has dtype {value.dtype}, expected kind {kinds!r}")


def grid_shape(path, grid: dict[str, np.ndarray], axes: tuple[str, ...],
               settings: dict[str, Any]) -> tuple[tuple[int, ...], int]:
    """(grid shape, instances) of a stored sweep whose axes must be among ``axes``."""
    unknown = set(grid) - set(axes)
    if unknown:
        raise invalid(path, f"grid axes {sorted(unknown)} are not among {axes}")
    return tuple(len(v) for v in grid.values()), check_instances(path, settings)


def check_instances(path, settings: dict[str, Any]) -> int:
    """The positive integer ``settings['instances']`` of a stored sweep."""
    k = settings.get("instances")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise invalid(path, f"settings['instances'] is {k!r}, not a positive integer")
    return k


def checked(loader: Callable[[], Any], path) -> Any:
    """Run a class's construction from loaded parts; a TypeError/KeyError from malformed
    header values (e.g. a number where a list belongs) becomes a SweepFileError."""
    try:
        return loader()
    except SweepFileError:
        raise
    except (TypeError, KeyError, AttributeError, IndexError, ValueError) as error:
        raise invalid(path, f"{type(error).__name__}: {error}") from error
