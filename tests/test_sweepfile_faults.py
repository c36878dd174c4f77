"""Sweep files under faults (issue #11): corrupt files of every kind, pickles, permissions,
concurrent writers, a killed parent of worker processes."""
from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from symtransfer import sweep as S
from symtransfer.relu import sweep as RS
from symtransfer.sweep import Sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]
GRID = {"gamma": [0.25, 0.5, 1.5], "theta": [0.3, 1.2]}
SETTINGS = dict(sigma=0.2, d=40, instances=3, seed=5)


def synthetic_sweep() -> Sweep:
    """A valid sweep with made-up numbers (no simulation) and two points done."""
    settings = {**S.SETTINGS, **SETTINGS}
    for name in GRID:
        settings.pop(name)
    sweep = S._new("finetune", S._grid(GRID), settings)
    rng = np.random.default_rng(0)
    sweep.errors[0] = rng.random(sweep.errors[0].shape)
    sweep.converged[0] = True
    sweep.steps[0] = 7
    sweep.done[0] = True
    return sweep


def synthetic_relu() -> RS.ReluSweep:
    settings = {**RS.DEFAULTS, "theta": 0.0, "instances": 2}
    settings.pop("gamma", None)
    sweep = RS._new(("scratch", "linear"), RS._grid({"gamma": [0.5, 1.0]}), settings)
    sweep.done[1] = True
    sweep.errors[:, 1] = 0.25
    return sweep


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _rewrite(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def _header(path: Path) -> dict:
    return json.loads(str(np.load(io.BytesIO(_members(path)["header.npy"]))))


def _with_header(path: Path, header) -> None:
    members = _members(path)
    members["header.npy"] = _npy(np.array(json.dumps(header)))
    _rewrite(path, members)


def _with_member(path: Path, name: str, array) -> None:
    members = _members(path)
    if array is None:
        members.pop(f"{name}.npy")
    else:
        members[f"{name}.npy"] = _npy(np.asarray(array))
    _rewrite(path, members)


# each fault: (name, function(path) corrupting a valid file, expected words in the message)
FAULTS = [
    ("empty", lambda p: p.write_bytes(b""), "unreadable"),
    ("truncated", lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
     "unreadable"),
    ("text", lambda p: p.write_text("hello"), "unreadable"),
    ("npy", lambda p: np.save(open(p, "wb"), np.zeros(3)), ""),
    ("no header", lambda p: _with_member(p, "header", None), "'header' is missing"),
    ("header not a string", lambda p: _with_member(p, "header", np.zeros(2)), "JSON string"),
    ("header not JSON", lambda p: _with_member(p, "header", np.array("{oops")), "valid JSON"),
    ("header a list", lambda p: _with_header(p, [1, 2]), "not a symtransfer sweep file"),
    ("other format", lambda p: _with_header(p, {**_header(p), "format": "x"}),
     "not a symtransfer sweep file"),
    ("axes not a list", lambda p: _with_header(p, {**_header(p), "axes": "gamma"}), "axes"),
    ("axes repeated", lambda p: _with_header(p, {**_header(p), "axes": ["gamma", "gamma"]}),
     "axes"),
    ("unknown axis", lambda p: (_with_header(p, {**_header(p), "axes": ["gamma", "zeta"]}),
                                _with_member(p, "grid_zeta", np.array([1.0, 2.0]))),
     "zeta"),
    ("settings not a mapping", lambda p: _with_header(p, {**_header(p), "settings": [1]}),
     "settings"),
    ("instances missing", lambda p: _with_header(p, {**_header(p), "settings": {}}),
     "instances"),
    ("unknown method", lambda p: _with_header(p, {**_header(p), "method": "magic"}),
     "method"),
    ("grid missing", lambda p: _with_member(p, "grid_theta", None), "grid_theta"),
    ("grid 2-d", lambda p: _with_member(p, "grid_theta", np.zeros((2, 2))), "grid axis"),
    ("grid of strings", lambda p: _with_member(p, "grid_theta", np.array(["a", "b"])),
     "grid axis"),
    ("errors missing", lambda p: _with_member(p, "errors", None), "'errors' is missing"),
    ("errors wrong shape", lambda p: _with_member(p, "errors", np.zeros((3, 2, 4))),
     "'errors' has shape"),
    ("done wrong shape", lambda p: _with_member(p, "done", np.ones((3,), dtype=bool)),
     "'done' has shape"),
    ("done not boolean", lambda p: _with_member(p, "done", np.ones((3, 2))), "'done' has dtype"),
    ("steps float", lambda p: _with_member(p, "steps", np.zeros((3, 2, 3))), "'steps' has dtype"),
    ("object array", lambda p: _with_member(p, "errors", np.array([None, 1], dtype=object)),
     "unreadable"),
]


@pytest.mark.parametrize("name, corrupt, words", FAULTS, ids=[f[0] for f in FAULTS])
def test_corrupt_files_are_one_value_error_naming_the_path(tmp_path, name, corrupt, words):
    path = tmp_path / "sweep.npz"
    synthetic_sweep().save(path)
    corrupt(path)
    with pytest.raises(ValueError) as info:
        Sweep.load(path)
    assert str(path) in str(info.value)
    assert words in str(info.value)
    # resuming from it is refused the same way (never "resumed as if done")
    with pytest.raises(ValueError, match="sweep file"):
        run_sweep("finetune", GRID, path=path, workers=0, progress=False, **SETTINGS)


def test_corrupt_relu_files(tmp_path):
    path = tmp_path / "relu.npz"
    good = synthetic_relu()
    good.save(path)
    back = RS.ReluSweep.load(path)
    np.testing.assert_array_equal(back.errors, good.errors)
    for member, array, words in [("residual", np.zeros((3, 2)), "'residual' has shape"),
                                 ("errors", np.zeros((3, 2, 2)), "'errors' has shape")]:
        good.save(path)
        _with_member(path, member, array)
        with pytest.raises(ValueError, match=words):
            RS.ReluSweep.load(path)
    good.save(path)
    _with_header(path, {**_header(path), "methods": ["scratch", "scratch"]})
    with pytest.raises(ValueError, match="methods"):
        RS.ReluSweep.load(path)
    path.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(ValueError, match=str(path)):
        RS.ReluSweep.load(path)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(position=hs.floats(min_value=0.0, max_value=1.0), bit=hs.integers(0, 7))
def test_a_flipped_bit_is_refused_or_harmless(tmp_path_factory, position, bit):
    """Any single flipped bit either makes loading a ValueError naming the path (zip CRCs,
    structure checks) or leaves the same sweep (e.g. a flipped timestamp)."""
    path = tmp_path_factory.mktemp("flip") / "sweep.npz"
    good = synthetic_sweep()
    good.save(path)
    data = bytearray(path.read_bytes())
    data[int(position * (len(data) - 1))] ^= 1 << bit
    path.write_bytes(bytes(data))
    try:
        back = Sweep.load(path)
    except ValueError as error:
        assert str(path) in str(error)
        return
    for name in ("errors", "converged", "steps", "done"):
        np.testing.assert_array_equal(getattr(back, name), getattr(good, name))
    assert back.settings == json.loads(json.dumps(good.settings))


class _Boom:
    """Unpickling this creates the marker file: loading must never do that."""

    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_loading_never_unpickles(tmp_path):
    path, marker = tmp_path / "sweep.npz", tmp_path / "unpickled"
    synthetic_sweep().save(path)
    boom = _Boom()
    boom.marker = marker
    _with_member(path, "errors", np.array([boom, boom], dtype=object))
    with pytest.raises(ValueError, match="unreadable"):
        Sweep.load(path)
    assert not marker.exists()
    np.load(path, allow_pickle=True)["errors"]  # the trap is real: unpickling springs it
    assert marker.exists()


def test_saved_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        synthetic_sweep().save(tmp_path / "a.npz")
        os.umask(0o077)
        synthetic_sweep().save(tmp_path / "b.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.npz").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.npz").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz"]


def test_numpy_settings_are_normalized_before_any_work(tmp_path):
    path = tmp_path / "np.npz"
    sweep = run_sweep("scratch", {"gamma": [0.5]}, path=path, workers=0, progress=False,
                      d=np.int64(30), instances=np.int32(2), sigma=np.float32(0.25))
    assert type(sweep.settings["d"]) is int and sweep.settings["d"] == 30
    back = Sweep.load(path)
    assert back.settings == sweep.settings and back.done.all()
    calls = []
    real = S.run_point
    S.run_point = lambda *a: calls.append(a)
    try:
        with pytest.raises(TypeError, match="setting init="):
            run_sweep("scratch", {"gamma": [0.5]}, path=tmp_path / "x.npz", workers=0,
                      progress=False, d=30, init=object())
    finally:
        S.run_point = real
    assert not calls and not (tmp_path / "x.npz").exists()


# ------------------------------------------------------------------------------ processes

_SLOW_SWEEP = """
import json, sys, time
import symtransfer.sweep as S
calls = []
real = S.run_point
def slow(*args):
    calls.append(args[2])
    time.sleep(0.25)
    return real(*args)
S.run_point = slow
S.run_sweep("scratch", {{"gamma": [0.25, 0.5, 0.75, 1.5]}}, path={path!r}, workers=0,
            progress=False, sigma=0.1, d=40, instances=2)
print(json.dumps(len(calls)))
"""


def test_a_second_writer_waits_and_loses_nothing(tmp_path):
    """Two processes on one path: the second waits for the lock, then finds every point done
    (no point computed twice, the finished file never rolled back)."""
    path = tmp_path / "shared.npz"
    script = _SLOW_SWEEP.format(path=str(path))
    first = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                             text=True)
    deadline = time.monotonic() + 60
    while not path.exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.02)
    assert path.exists(), "the first sweep wrote nothing within 60 s"
    second = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    done_counts = []
    while second.poll() is None or first.poll() is None:
        done_counts.append(int(Sweep.load(path).done.sum()))
        time.sleep(0.05)
    out1, _ = first.communicate(timeout=60)
    out2, _ = second.communicate(timeout=60)
    assert first.returncode == 0 and second.returncode == 0
    assert (json.loads(out1), json.loads(out2)) == (4, 0)
    assert done_counts == sorted(done_counts)  # never rolled back
    final = Sweep.load(path)
    assert final.done.all()
    reference = run_sweep("scratch", {"gamma": [0.25, 0.5, 0.75, 1.5]}, workers=0,
                          progress=False, sigma=0.1, d=40, instances=2)
    np.testing.assert_array_equal(final.errors, reference.errors)


def _children(pid: int) -> list[int]:
    psutil = pytest.importorskip("psutil")
    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _alive(pids: list[int]) -> list[int]:
    import psutil

    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and re-parenting are POSIX")
def test_killed_parent_leaves_no_workers_and_resumes_identically(tmp_path):
    pytest.importorskip("psutil")
    path = tmp_path / "killed.npz"
    grid = {"gamma": [0.25, 0.5, 0.75, 1.5]}
    kw = dict(sigma=0.1, d=60, instances=3, seed=3)
    script = textwrap.dedent(f"""
        import symtransfer.sweep as S
        if __name__ == "__main__":
            S.run_sweep("scratch", {grid!r}, path={str(path)!r}, workers=2, progress=False,
                        **{kw!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    deadline = time.monotonic() + 120
    workers: list[int] = []
    try:
        while time.monotonic() < deadline:
            workers = _children(proc.pid) or workers
            if path.exists() and workers:
                break
            assert proc.poll() is None, "the sweep finished before it could be killed"
            time.sleep(0.02)
        else:
            pytest.fail("no point written within 120 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert len(workers) >= 2
    deadline = time.monotonic() + 10
    while _alive(workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(workers), "worker processes outlived their killed parent"
    partial = Sweep.load(path)
    assert 1 <= partial.done.sum()
    resumed = run_sweep("scratch", grid, path=path, workers=0, progress=False, **kw)
    fresh = run_sweep("scratch", grid, workers=0, progress=False, **kw)
    for name in ("errors", "converged", "steps", "done"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(fresh, name),
                                      err_msg=name)
