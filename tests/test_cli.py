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


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    """``symtransfer report --quick --out DIR``, run once for the report tests."""
    pytest.importorskip("matplotlib")
    out = tmp_path_factory.mktemp("cli-report") / "rep"
    proc = run("report", "--quick", "--out", str(out), timeout=300)
    return proc, out


def test_report_quick(quick_report):
    proc, _ = quick_report
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    for title in ("Risks at theta = pi/4", "exact vs paper", "Phase boundaries"):
        assert title in text
    # the fine-tuning table's paper column is the paper's closed form at every depth
    paper = 2 * 0.4 * (1 - math.cos(3 * math.pi / 8)) + 0.25 * 0.6 / 0.4
    rows = [line.split() for line in text.splitlines()
            if len(line.split()) == 3 and line.split()[0] in ("2", "3", "4", "6")]
    assert len(rows) >= 2
    for depth, exact, pap in rows:
        assert float(pap) == pytest.approx(paper, abs=6e-5)
        assert float(exact) > float(pap)
    # the paper's fine-tuning boundary pi/3 -> 0.3333 in units of pi
    assert "0.3333" in text
    # scratch at gamma = 0.5, sigma = 0.2: 0.5 + 0.04 = 0.54
    first = [line.split() for line in text.splitlines() if line.strip().startswith("0.50")][0]
    assert float(first[1]) == pytest.approx(0.54, abs=6e-5)
    # then the report is built: progress lines, the theory vs Monte-Carlo summary, the path
    assert "[report" in text and "Theory vs Monte-Carlo" in text and "PASS" in text
    assert "report.md" in text.strip().splitlines()[-1]


def test_report_writes_out_dir(quick_report):
    proc, out = quick_report
    assert proc.returncode == 0, proc.stderr
    text = (out / "report.md").read_text()
    assert "Phase boundaries" in text and "$$" in text
    assert (out / "figures" / "phase_finetune.pdf").exists()
    assert (out / "figures" / "double_descent.png").exists()


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
