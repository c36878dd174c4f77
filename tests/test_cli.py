"""The command line: python -m symtransfer report | risk | check."""
from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest

import symtransfer as st

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "symtransfer", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def parse_values(stdout):
    """The aligned table of ``symtransfer risk`` -> {gamma: value (last column)}."""
    lines = [line for line in stdout.strip().splitlines() if not line.startswith("*")]
    header = lines[0].split()
    assert header[0] == "gamma"
    out = {}
    for line in lines[1:]:
        cells = line.split()
        out[float(cells[0])] = float(cells[len(header) - 1])
    return out


@pytest.mark.parametrize("args, message", [
    (["--workers", "-1"], "--workers"),
    (["--workers", "two"], "--workers"),
    (["--bogus"], "unrecognized"),
    (["--out"], "--out"),
])
def test_report_bad_arguments(args, message):
    proc = run("report", *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_risk_matches_library():
    proc = run("risk", "finetune", "--gamma", "0.6", "--theta", "1.1780972450961724",
               "--sigma", "0.5", "--depth", "3")
    assert proc.returncode == 0, proc.stderr
    values = parse_values(proc.stdout)
    expected = st.risk("finetune", gamma=0.6, theta=1.1780972450961724, sigma=0.5, depth=3)
    assert values[0.6] == pytest.approx(expected, rel=1e-15)
    assert values[0.6] == pytest.approx(0.949, abs=5e-4)  # docs/theory.md's number


def test_risk_several_gammas_paper_form():
    proc = run("risk", "finetune", "--gamma", "0.2", "0.5", "1.5", "--theta", "1.0",
               "--sigma", "0.3", "--form", "paper")
    assert proc.returncode == 0, proc.stderr
    values = parse_values(proc.stdout)
    for g in (0.2, 0.5):
        ref = 2 * (1 - g) * (1 - math.cos(1.0)) + 0.09 * g / (1 - g)
        assert values[g] == pytest.approx(ref, rel=1e-12)
    assert values[1.5] == pytest.approx(0.09 / 0.5, rel=1e-12)


def test_transferability_flag():
    proc = run("risk", "linear", "--gamma", "0.5", "--theta", "0.5", "--transferability")
    assert proc.returncode == 0, proc.stderr
    assert parse_values(proc.stdout)[0.5] == pytest.approx(0.5 - math.sin(0.5) ** 2, rel=1e-12)


def test_precision_flag():
    proc = run("risk", "scratch", "--gamma", "0.5", "--sigma", "0.2", "--precision", "40")
    assert proc.returncode == 0, proc.stderr
    assert parse_values(proc.stdout)[0.5] == pytest.approx(0.54, rel=1e-15)


@pytest.mark.parametrize("args,name", [
    (["--gamma", "-1", "--theta", "1"], "gamma"),
    (["--gamma", "0.5", "--theta", "5"], "theta"),
    (["--gamma", "0.5", "--theta", "1", "--sigma", "-0.1"], "sigma"),
    (["--gamma", "0.5", "--theta", "1", "--depth", "1"], "depth"),
    (["--gamma", "0.5"], "theta"),
])
def test_bad_argument_exits_nonzero_naming_parameter(args, name):
    proc = run("risk", "finetune", *args)
    assert proc.returncode != 0
    assert name in proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr


def test_unknown_method_rejected_by_parser():
    proc = run("risk", "ridge", "--gamma", "0.5")
    assert proc.returncode != 0
    assert "method" in proc.stderr or "invalid choice" in proc.stderr
