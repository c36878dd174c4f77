"""Sweeps with ``record=``: every point keeps its training trajectory, in the file too."""
from __future__ import annotations

import numpy as np
import pytest

import symtransfer as st
from symtransfer.sweep import Sweep, run_sweep

KW = dict(sigma=0.2, d=30, instances=3, progress=False)
GRID = {"gamma": [0.4, 0.6], "theta": [0.5]}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    path = tmp_path_factory.mktemp("traj") / "s.npz"
    return path, run_sweep("finetune", GRID, record=4, path=path, workers=0, **KW)


def test_each_point_holds_the_trajectory_simulate_records(recorded):
    _, sweep = recorded
    assert sweep.trajectory["time"].shape == (2, 1, 4)
    assert sweep.trajectory["risk"].shape == (2, 1, 3, 4)
    assert sweep.trajectory["imbalance"].shape == (2, 1, 3, 4, 1)
    for index, params in sweep.points():
        r = st.simulate("finetune", record=4, **params, **KW)
        for key, value in r.trajectory.items():
            assert np.array_equal(sweep.trajectory[key][index], value), key
        # the last record is the endpoint: its risk is the point's error
        assert np.allclose(sweep.trajectory["risk"][index][:, -1], sweep.errors[index],
                           rtol=1e-6)


def test_trajectory_reloads_exactly_and_resumes(recorded, tmp_path):
    path, sweep = recorded
    loaded = Sweep.load(path)
    assert sorted(loaded.trajectory) == sorted(sweep.trajectory)
    for key in sweep.trajectory:
        assert np.array_equal(loaded.trajectory[key], sweep.trajectory[key], equal_nan=True)
    again = run_sweep("finetune", GRID, record=4, path=path, workers=0, **KW)
    assert np.array_equal(again.trajectory["loss"], sweep.trajectory["loss"])


def test_worker_processes_return_the_same_trajectories(recorded):
    _, sweep = recorded
    parallel = run_sweep("finetune", GRID, record=4, workers=2, **KW)
    for key in sweep.trajectory:
        assert np.array_equal(parallel.trajectory[key], sweep.trajectory[key]), key


def test_without_record_nothing_changes_in_the_definition():
    sweep = run_sweep("finetune", {"gamma": [0.4]}, theta=0.5, workers=0, **KW)
    assert sweep.trajectory is None and "record" not in sweep.settings


@pytest.mark.parametrize("bad", [0, -2, True, "x", [3.0, 1.0]])
def test_bad_record_is_refused_before_any_work(bad):
    with pytest.raises((ValueError, TypeError), match="record"):
        run_sweep("finetune", {"gamma": [0.4]}, theta=0.5, record=bad, workers=0, **KW)


def test_record_with_a_closed_form_step_is_refused():
    with pytest.raises(ValueError, match="record"):
        run_sweep("linear", {"gamma": [0.4]}, theta=0.5, lam=0.3, record=3, workers=0, **KW)


def test_a_corrupt_trajectory_in_the_file_names_the_path(recorded, tmp_path):
    path, _ = recorded
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["trajectory_risk"] = arrays["trajectory_risk"][..., :2]
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ValueError, match="bad.npz.*trajectory_risk"):
        Sweep.load(bad)
