"""Sweeps as labelled arrays and tables: :func:`to_xarray` and :func:`to_dataframe`.

xarray and pandas are optional (``pip install 'symtransfer[xarray]'``); importing this
module does not import them.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

_PER_INSTANCE = ("errors", "converged", "steps")


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"this needs {module} (pip install 'symtransfer[xarray]')") from None


def _attrs(sweep) -> dict[str, Any]:
    attrs: dict[str, Any] = {"method": sweep.method,
                             "settings_json": json.dumps(sweep.settings, sort_keys=True)}
    for key, value in sweep.settings.items():
        if isinstance(value, (bool, int, float, str)):
            attrs[key] = int(value) if isinstance(value, bool) else value
    return attrs


def to_xarray(sweep):
    """An :class:`xarray.Dataset` with one coordinate per grid parameter (in the sweep's
    order) and ``instance``; data variables ``errors``, ``converged``, ``steps`` over
    (grid..., instance), ``done`` over the grid, and ``mean``/``sem`` (NaN where not done or
    not converged, as :meth:`Sweep.mean`). Settings are attributes (``settings_json`` holds
    them all)."""
    xr = _require("xarray")
    dims = list(sweep.grid)
    instances = sweep.errors.shape[-1]
    coords = {name: np.asarray(values) for name, values in sweep.grid.items()}
    coords["instance"] = np.arange(instances)
    data = {name: (dims + ["instance"], np.asarray(getattr(sweep, name)))
            for name in _PER_INSTANCE}
    data["done"] = (dims, np.asarray(sweep.done))
    data["mean"] = (dims, sweep.mean())
    data["sem"] = (dims, sweep.sem())
    return xr.Dataset(data, coords=coords, attrs=_attrs(sweep))


def to_dataframe(sweep):
    """A long :class:`pandas.DataFrame`: one row per (grid point, instance) with the grid
    parameters, ``instance``, ``error``, ``converged``, ``steps`` and ``done`` (points not
    run have ``done`` False and NaN errors). ``df.attrs`` holds the method and settings."""
    pd = _require("pandas")
    names = list(sweep.grid)
    mesh = np.meshgrid(*[np.asarray(v) for v in sweep.grid.values()], indexing="ij")
    instances = sweep.errors.shape[-1]
    columns = {name: np.repeat(m.ravel(), instances) for name, m in zip(names, mesh)}
    columns["instance"] = np.tile(np.arange(instances), sweep.done.size)
    done = np.repeat(np.asarray(sweep.done).ravel(), instances)
    errors = np.asarray(sweep.errors, dtype=float).ravel()
    columns["error"] = np.where(done, errors, np.nan)
    columns["converged"] = np.asarray(sweep.converged).ravel()
    columns["steps"] = np.asarray(sweep.steps).ravel()
    columns["done"] = done
    frame = pd.DataFrame(columns)
    frame.attrs.update(_attrs(sweep))
    return frame
