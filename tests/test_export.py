"""Sweep.to_xarray() and Sweep.to_dataframe(): labelled by the grid's parameters, per-instance
values as a dimension, identical numbers."""
from __future__ import annotations

import json

import numpy as np
import pytest

from symtransfer.sweep import run_sweep

xr = pytest.importorskip("xarray")
pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def sweep():
    grid = {"gamma": [0.3, 0.6], "theta": [0.2, 0.9, 1.3]}
    return run_sweep("linear", grid, sigma=0.1, d=30, instances=3, seed=2, workers=0,
                     progress=False)


def test_to_xarray(sweep):
    ds = sweep.to_xarray()
    assert list(ds["errors"].dims) == ["gamma", "theta", "instance"]
    np.testing.assert_array_equal(ds["errors"].values, sweep.errors)
    np.testing.assert_array_equal(ds.coords["theta"].values, sweep.grid["theta"])
    point = ds["errors"].sel(gamma=0.6, theta=0.9).values
    np.testing.assert_array_equal(point, sweep.errors[1, 1])
    np.testing.assert_allclose(ds["mean"].values, sweep.mean())
    assert ds.attrs["method"] == "linear" and ds.attrs["d"] == 30
    assert json.loads(ds.attrs["settings_json"])["instances"] == 3


def test_to_dataframe(sweep):
    df = sweep.to_dataframe()
    assert len(df) == sweep.errors.size
    assert list(df.columns[:3]) == ["gamma", "theta", "instance"]
    row = df[(df.gamma == 0.3) & (df.theta == 1.3) & (df.instance == 2)]
    assert row["error"].item() == sweep.errors[0, 2, 2]
    means = df.groupby(["gamma", "theta"])["error"].mean().unstack().values
    np.testing.assert_allclose(means, sweep.mean())
    assert df.attrs["method"] == "linear"


def test_missing_dependency_message(sweep, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_xarray(name, *args, **kwargs):
        if name == "xarray":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_xarray)
    import sys

    monkeypatch.delitem(sys.modules, "xarray", raising=False)
    with pytest.raises(ImportError, match="symtransfer\\[xarray\\]"):
        sweep.to_xarray()
