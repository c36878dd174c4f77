"""Sweeps: save/reload, interruption and resume, reproducibility, local and dask executors."""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import symtransfer as st
from symtransfer import sweep as S
from symtransfer.sweep import Sweep, run_sweep, transferability

ROOT = Path(__file__).resolve().parents[1]
GRID = {"gamma": [0.25, 0.5, 1.5], "theta": [0.3, 1.2]}
SMALL = dict(sigma=0.2, d=40, instances=3, seed=5)


def assert_same(a: Sweep, b: Sweep) -> None:
    assert a.method == b.method
    assert list(a.grid) == list(b.grid)
    for k in a.grid:
        np.testing.assert_array_equal(a.grid[k], b.grid[k])
    for name in ("errors", "converged", "steps", "done"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.fixture(scope="module")
def serial():
    return run_sweep("finetune", GRID, workers=0, progress=False, **SMALL)


def test_sweep_matches_simulate_point_by_point(serial):
    assert serial.done.all() and serial.shape == (3, 2)
    r = st.simulate("finetune", gamma=1.5, theta=1.2, progress=False, **SMALL)
    np.testing.assert_array_equal(serial.errors[2, 1], r.errors)
    np.testing.assert_allclose(serial.mean()[2, 1], r.mean)


def test_save_and_reload_give_identical_arrays(serial, tmp_path):
    path = tmp_path / "ft.npz"
    serial.save(path)
    back = Sweep.load(path)
    assert_same(serial, back)
    assert back.settings == serial.settings
    assert back.meta["versions"]["symtransfer"] == st.__version__
    assert back.meta["format"] == S.FORMAT
    assert [p.name for p in tmp_path.iterdir()] == ["ft.npz"]  # no temporary files left


def test_a_failed_write_leaves_the_old_file_intact(serial, tmp_path, monkeypatch):
    path = tmp_path / "ft.npz"
    serial.save(path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(S.np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        serial.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ft.npz"]


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, header=np.array('{"format": "something else"}'))
    with pytest.raises(ValueError, match="not a symtransfer sweep"):
        Sweep.load(path)


def test_same_seed_same_numbers_any_executor(serial):
    again = run_sweep("finetune", GRID, workers=0, progress=False, **SMALL)
    assert_same(serial, again)
    parallel = run_sweep("finetune", GRID, workers=2, progress=False, **SMALL)
    assert_same(serial, parallel)
    other = run_sweep("finetune", GRID, workers=0, progress=False, **{**SMALL, "seed": 6})
    assert not np.allclose(serial.errors, other.errors)


def test_a_shared_pool_serves_several_sweeps_with_the_same_numbers(serial):
    """An executor passed as ``workers`` is used, not closed: two sweeps on one pool give the
    numbers of the serial run, and the pool still takes work afterwards."""
    with S.one_blas_thread():
        pool = S.process_pool(2)
    with pool:
        first = run_sweep("finetune", GRID, workers=pool, progress=False, **SMALL)
        second = run_sweep("scratch", {"gamma": [0.5, 1.5]}, workers=pool, progress=False,
                           **SMALL)
        assert pool.submit(os.getpid).result() != os.getpid()
    assert_same(serial, first)
    alone = run_sweep("scratch", {"gamma": [0.5, 1.5]}, workers=0, progress=False, **SMALL)
    assert_same(alone, second)


def test_dask_local_cluster_gives_the_same_numbers(serial):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            on_dask = run_sweep("finetune", GRID, client=client, progress=False, **SMALL)
        by_address = run_sweep("finetune", GRID, client=cluster.scheduler_address,
                               progress=False, **SMALL)
    assert_same(serial, on_dask)
    assert_same(serial, by_address)


def test_interrupted_sweep_resumes_without_recomputing(tmp_path, serial):
    """Kill a sweep (SIGKILL) once two points are on disk, resume it, compare."""
    path = tmp_path / "ft.npz"
    script = textwrap.dedent(f"""
        import time
        import symtransfer.sweep as S
        real = S.run_point
        def slow(*args):
            time.sleep(0.3)
            return real(*args)
        S.run_point = slow
        S.run_sweep("finetune", {GRID!r}, path={str(path)!r}, workers=0, progress=False,
                    **{SMALL!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if path.exists() and Sweep.load(path).done.sum() >= 2:
                break
            assert proc.poll() is None, "the sweep finished before it could be interrupted"
            time.sleep(0.05)
        else:
            pytest.fail("no progress written within 120 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    partial = Sweep.load(path)
    finished = partial.done.copy()
    assert 2 <= finished.sum() < finished.size
    # resume: finished points are not recomputed (run_point is only called for the rest)
    calls = []
    real = S.run_point

    def counting(method, settings, params):
        calls.append(params)
        return real(method, settings, params)

    S.run_point = counting
    try:
        resumed = run_sweep("finetune", GRID, path=path, workers=0, progress=False, **SMALL)
    finally:
        S.run_point = real
    assert len(calls) == finished.size - finished.sum()
    assert_same(serial, resumed)
    assert_same(resumed, Sweep.load(path))
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_resume_refuses_a_file_with_another_definition(serial, tmp_path):
    path = tmp_path / "ft.npz"
    serial.save(path)
    with pytest.raises(ValueError, match="another definition"):
        run_sweep("finetune", GRID, path=path, workers=0, progress=False,
                  **{**SMALL, "sigma": 0.3})
    with pytest.raises(ValueError, match="another definition"):
        run_sweep("linear", GRID, path=path, workers=0, progress=False, **SMALL)


def test_a_finished_sweep_file_is_returned_without_work(serial, tmp_path):
    path = tmp_path / "ft.npz"
    serial.save(path)
    real = S.run_point
    S.run_point = lambda *a: pytest.fail("recomputed a finished point")
    try:
        again = run_sweep("finetune", GRID, path=path, workers=0, progress=False, **SMALL)
    finally:
        S.run_point = real
    assert_same(serial, again)


def test_theory_on_the_grid_and_mc_transferability(serial):
    scratch = run_sweep("scratch", GRID, workers=0, progress=False, **SMALL)
    expected = np.array([[st.risk("finetune", gamma=g, theta=t, sigma=0.2)
                          for t in GRID["theta"]] for g in GRID["gamma"]])
    np.testing.assert_allclose(serial.theory(), expected)
    T, sem = transferability(scratch, serial)
    np.testing.assert_allclose(T, scratch.mean() - serial.mean())
    # common random numbers (same seed and d): the sem of the paired differences
    diff = scratch.errors - serial.errors
    np.testing.assert_allclose(sem, diff.std(axis=-1, ddof=1) / np.sqrt(diff.shape[-1]))
    other = run_sweep("scratch", GRID, workers=0, progress=False, **{**SMALL, "seed": 9})
    _, unpaired = transferability(other, serial)
    np.testing.assert_allclose(unpaired, np.hypot(other.sem(), serial.sem()))
    with pytest.raises(ValueError, match="scratch"):
        transferability(serial, scratch)


def test_unconverged_points_are_nan_not_averaged():
    sweep = run_sweep("scratch", {"gamma": [0.5]}, theta=0.4, max_steps=5, workers=0,
                      progress=False, **{k: v for k, v in SMALL.items()})
    assert sweep.done.all() and not sweep.converged.any()
    assert np.isnan(sweep.mean()).all() and np.isnan(sweep.sem()).all()


def test_other_axes_and_fixed_settings():
    sweep = run_sweep("linear", {"lam": [0.0, 0.5], "depth": [2, 3]}, gamma=0.5, theta=0.7,
                      workers=0, progress=False, **SMALL)
    assert sweep.shape == (2, 2)
    assert sweep.grid["depth"].dtype.kind == "i"
    r = st.simulate("linear", gamma=0.5, theta=0.7, lam=0.5, depth=3, progress=False, **SMALL)
    np.testing.assert_array_equal(sweep.errors[1, 1], r.errors)


@pytest.mark.parametrize("grid, settings, match", [
    ({"gamma": [0.5, -1.0]}, dict(theta=0.3), "gamma"),
    ({"gamma": [0.5], "color": [1]}, dict(theta=0.3), "color"),
    ({"gamma": [0.5]}, dict(theta=0.3, gamma=0.5), "both"),
    ({"theta": [0.5]}, dict(), "gamma"),
    ({"gamma": [0.5], "theta": [4.0]}, dict(), "theta"),
    ({"gamma": []}, dict(theta=0.3), "non-empty"),
])
def test_bad_sweeps_fail_before_any_work(grid, settings, match):
    real = S.run_point
    S.run_point = lambda *a: pytest.fail("work started on an invalid sweep")
    try:
        with pytest.raises(ValueError, match=match):
            run_sweep("finetune", grid, workers=0, progress=False, d=40, instances=2, **settings)
    finally:
        S.run_point = real


def test_unknown_setting_and_bad_grid_type():
    with pytest.raises(TypeError, match="colour"):
        run_sweep("finetune", {"gamma": [0.5]}, theta=0.2, colour="red")
    with pytest.raises(TypeError, match="grid"):
        run_sweep("finetune", [("gamma", [0.5])], theta=0.2)
