"""Shared pieces of the figures: the Agg figure factory, labels, sweep lookups, the paired
Monte-Carlo transferability and small drawing helpers.
"""
from __future__ import annotations

import collections.abc
import math
from typing import Any, Mapping, Sequence

import numpy as np

HALF_PI = math.pi / 2


DIVERGING = "RdBu"  # red: T < 0 (transfer hurts), blue: T > 0 (transfer helps)


NAN_HATCH = dict(facecolor="0.85", edgecolor="0.55", hatch="///", linewidth=0.0)


class _MethodNames(collections.abc.Mapping):
    """name -> plain label of every registered method (:mod:`symtransfer.methods`), read live."""

    def __getitem__(self, name: str) -> str:
        from .. import methods

        if name not in methods.METHODS:
            raise KeyError(name)
        return methods.METHODS[name].label

    def __iter__(self):
        from .. import methods

        return iter(methods.names())

    def __len__(self) -> int:
        from .. import methods

        return len(methods.METHODS)

    def __repr__(self) -> str:
        return repr(dict(self))


METHOD_NAMES: Mapping[str, str] = _MethodNames()


def transfer_method(method: str, what: str = "a phase diagram"):
    """The registered method ``method``, which must start from pretrained weights (its
    transferability against scratch is drawn); ValueError naming the ones that do."""
    from .. import methods

    m = methods.get(method) if method in methods.METHODS else None
    if m is None or not m.pretrains or m.reference:
        allowed = " or ".join(repr(x.name) for x in methods.pretrained())
        raise ValueError(f"method must be {allowed} for {what}, got {method!r}")
    return m


def _mpl():
    import matplotlib
    from matplotlib.figure import Figure

    return matplotlib, Figure


def _figure(figsize: tuple[float, float]):
    _, Figure = _mpl()
    return Figure(figsize=figsize, layout="constrained")


def _pi_label(theta: float) -> str:
    """theta as a readable multiple of pi (pi/8, 3pi/8, ...), else a decimal."""
    for den in (1, 2, 3, 4, 6, 8, 12, 16):
        num = theta * den / math.pi
        if abs(num - round(num)) < 1e-9 and round(num) != 0:
            num = int(round(num))
            return ("" if num == 1 else str(num)) + "\u03c0" + ("" if den == 1 else f"/{den}")
    return "0" if theta == 0 else f"{theta:.3g}"


#: how each theory parameter is written in titles and tables
PARAM_SYMBOLS = {"gamma": "\u03b3", "theta": "\u03b8", "sigma": "\u03c3", "lam": "\u03bb",
                 "depth": "L", "gamma_s": "\u03b3_s", "sigma_s": "\u03c3_s", "mu": "\u03bc"}


def param_label(key: str, value: Any, sep: str = " = ") -> str:
    """One parameter as titles and tables write it: its symbol, ``sep`` and the value (theta
    as a fraction of pi)."""
    shown = _pi_label(value) if key == "theta" else f"{value:g}"
    return f"{PARAM_SYMBOLS.get(key, key)}{sep}{shown}"


def _params_text(**params: Any) -> str:
    parts = []
    for key, value in params.items():
        if key == "gamma_s" and value is None:
            parts.append("population pretraining")
        elif key == "sigma_s" and params.get("gamma_s") is None:
            continue
        else:
            parts.append(param_label(key, value))
    return ", ".join(parts)


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(np.isclose(float(a), float(b), rtol=1e-9, atol=1e-12))


def _setting(sweep, name: str):
    value = sweep.settings.get(name)
    return None if isinstance(value, float) and math.isnan(value) else value


def _check_sweep(sweep, method: str | tuple[str, ...], what: str, **params: Any) -> None:
    """The sweep must simulate ``method`` with the figure's parameters (those that are not
    grid axes); raises ValueError naming the first mismatch."""
    methods = (method,) if isinstance(method, str) else method
    if not hasattr(sweep, "grid") or not hasattr(sweep, "mean"):
        raise TypeError(f"{what} must be a symtransfer.sweep.Sweep, got {type(sweep).__name__}")
    if sweep.method not in methods:
        raise ValueError(f"{what} must be a sweep of {' or '.join(map(repr, methods))}, "
                         f"got a sweep of {sweep.method!r}")
    for name, value in params.items():
        if name in sweep.grid:
            continue
        have = _setting(sweep, name)
        if not _same(have, value):
            raise ValueError(f"{what} was run at {name}={have!r}, the figure shows "
                             f"{name}={value!r}")


def _index(values: np.ndarray, value: float) -> int | None:
    hits = np.flatnonzero(np.isclose(values, value, rtol=1e-9, atol=1e-12))
    return int(hits[0]) if hits.size else None


def _along(grid: Mapping[str, np.ndarray], arrays: Sequence[np.ndarray], axis: str,
           fixed: Mapping[str, Any]):
    """1-d slices of grid-shaped ``arrays`` along ``axis``, the other axes at ``fixed``
    values (an axis of length 1 needs none). Returns (axis values, *slices) or None when a
    fixed value is not on the grid."""
    if axis not in grid:
        raise ValueError(f"the sweep has no {axis!r} axis (its axes: {list(grid)})")
    index: list[Any] = []
    for name, values in grid.items():
        if name == axis:
            index.append(slice(None))
        elif name in fixed:
            i = _index(values, fixed[name])
            if i is None:
                return None
            index.append(i)
        elif len(values) == 1:
            index.append(0)
        else:
            raise ValueError(f"the sweep's {name!r} axis has {len(values)} values; "
                             f"the figure fixes no {name}")
    return (grid[axis],) + tuple(np.asarray(a)[tuple(index)] for a in arrays)


# scratch's risk does not depend on these (in law), so a scratch sweep without such an axis
# serves every value of it
_SCRATCH_FREE = ("theta", "lam", "depth", "gamma_s", "sigma_s", "mu")


def mc_transferability(scratch, method_sweep,
                       baseline: str = "ridgeless") -> tuple[dict, np.ndarray, np.ndarray]:
    """Monte-Carlo T = R_scratch - R_method and its sem on ``method_sweep``'s grid.

    With identical grids T is :func:`symtransfer.sweep.transferability`'s. The scratch sweep
    may also lack axes scratch's risk does not depend on (theta, lam, depth, gamma_s,
    sigma_s) and hold the method's values of the others (e.g. one scratch sweep over gamma
    serves a (gamma, theta) grid): its points are then reused across those axes. When both
    sweeps share seed, d and number of instances (common random numbers), the sem is that of
    the per-instance differences (paired); otherwise the two sems add in quadrature.
    """
    from ..sweep import transferability

    _check_sweep(scratch, "scratch", "the scratch sweep")
    have = _setting(scratch, "baseline") or "ridgeless"
    if have != baseline:
        raise ValueError(f"the scratch sweep was run with baseline={have!r}, the figure "
                         f"shows baseline={baseline!r}")
    for name in ("d", "sigma"):
        if name not in scratch.grid and name not in method_sweep.grid and not _same(
                _setting(scratch, name), _setting(method_sweep, name)):
            raise ValueError(f"the scratch and {method_sweep.method} sweeps differ in {name} "
                             f"({_setting(scratch, name)} vs {_setting(method_sweep, name)})")
    grid = method_sweep.grid
    # common random numbers: with the same seed, instance k of both sweeps trains on the
    # same target design and noise, so the per-instance differences are independent draws
    # of T and their spread gives its sem (adding the two sems in quadrature would ignore
    # the positive correlation)
    paired = (scratch.errors.shape[-1] == method_sweep.errors.shape[-1] and all(
        _same(_setting(scratch, k), _setting(method_sweep, k)) for k in ("seed", "d")))
    if list(scratch.grid) == list(grid) and all(
            np.array_equal(scratch.grid[k], grid[k], equal_nan=True) for k in grid):
        T, sem = transferability(scratch, method_sweep)  # paired sem when seeds match
        return dict(grid), T, sem
    extra = [k for k in scratch.grid if k not in grid]
    if extra:
        raise ValueError(f"the scratch sweep's axes {extra} are not axes of the "
                         f"{method_sweep.method} sweep")
    mean, err = scratch.mean(), scratch.sem()
    s_mean = np.full(method_sweep.shape, np.nan)
    s_sem = np.full(method_sweep.shape, np.nan)
    s_err = np.full(method_sweep.errors.shape if paired else (1,), np.nan)
    for index in np.ndindex(method_sweep.shape):
        point = {k: grid[k][i] for k, i in zip(grid, index)}
        src = []
        for name, values in scratch.grid.items():
            i = _index(values, point[name])
            if i is None:
                break
            src.append(i)
        else:
            missing = [k for k in grid if k not in scratch.grid and k not in _SCRATCH_FREE]
            if missing:
                raise ValueError(f"the scratch sweep needs the {missing} axes of the "
                                 f"{method_sweep.method} sweep")
            s_mean[index], s_sem[index] = mean[tuple(src)], err[tuple(src)]
            if paired:
                s_err[index] = scratch.errors[tuple(src)]
    T = s_mean - method_sweep.mean()
    if paired:
        sem = _paired_sem(s_err, method_sweep.errors)
    else:
        sem = np.hypot(s_sem, method_sweep.sem())
    return dict(grid), T, np.where(np.isfinite(T), sem, np.nan)


def _paired_sem(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sem of the mean of per-instance differences a - b (last axis: instances)."""
    k = a.shape[-1]
    if k < 2:
        return np.full(a.shape[:-1], np.nan)
    return np.std(a - b, axis=-1, ddof=1) / np.sqrt(k)


def _gamma_theta(grid: Mapping[str, np.ndarray], *arrays: np.ndarray):
    """(gamma values, theta values, *arrays as [gamma, theta] matrices) from grid-shaped
    arrays whose other axes have a single value."""
    names = list(grid)
    for name in ("gamma", "theta"):
        if name not in grid:
            raise ValueError(f"a phase diagram needs a (gamma, theta) grid; the sweeps have "
                             f"no {name!r} axis")
    index = []
    for name in names:
        if name in ("gamma", "theta"):
            index.append(slice(None))
        elif len(grid[name]) == 1:
            index.append(0)
        else:
            raise ValueError(f"the sweeps' {name!r} axis has several values; a phase diagram "
                             "needs a (gamma, theta) grid")
    kept = [n for n in names if n in ("gamma", "theta")]
    out = []
    for a in arrays:
        a = np.asarray(a)[tuple(index)]
        out.append(a if kept == ["gamma", "theta"] else a.T)
    return (grid["gamma"], grid["theta"], *out)


def _edges(centers: np.ndarray, split: float | None = None) -> np.ndarray:
    """Cell edges around sorted centres (midpoints; half a spacing beyond the ends). An edge
    between centres on either side of ``split`` is put at ``split`` (no cell straddles the
    interpolation threshold gamma = 1)."""
    c = np.asarray(centers, dtype=float)
    if c.size == 1:
        return np.array([c[0] - 0.05, c[0] + 0.05])
    mid = (c[1:] + c[:-1]) / 2
    if split is not None:
        mid = np.where((c[:-1] < split) & (c[1:] > split), split, mid)
    lo = c[0] - (c[1] - c[0]) / 2
    hi = c[-1] + (c[-1] - c[-2]) / 2
    return np.concatenate([[lo], mid, [hi]])


def _gamma_line(ax, *, label: bool = True, horizontal: bool = False) -> None:
    kw = dict(color="0.35", linestyle=":", linewidth=1.0, zorder=1)
    if label:
        kw["label"] = "\u03b3 = 1 (interpolation threshold)"
    (ax.axhline if horizontal else ax.axvline)(1.0, **kw)


def _errorbar(ax, x, mean, sem, **kw):
    ok = np.isfinite(mean)
    if not ok.any():
        return None
    sem = np.where(np.isfinite(sem), sem, 0.0)
    kw = dict(dict(fmt="o", markersize=5, capsize=3, elinewidth=1.2, zorder=4), **kw)
    return ax.errorbar(np.asarray(x)[ok], np.asarray(mean)[ok], yerr=sem[ok], **kw)


def _default_gamma(gamma, lo=0.02, hi=2.5, num=400):
    return np.linspace(lo, hi, num) if gamma is None else np.asarray(gamma, dtype=float)


def METHODS_LABEL(method: str, lam: float = 0.0) -> str:
    """The plot label of a registered method (naming the ridge penalty where it is on)."""
    from .. import methods

    return methods.get(method).label_for(lam)
