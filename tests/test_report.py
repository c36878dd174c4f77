"""The report: build_report(quick=True) writes figures, formulas, derivation status and the
theory vs Monte-Carlo table; a rerun reuses the data."""
from __future__ import annotations

import hashlib
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from symtransfer import report  # noqa: E402
from symtransfer.tables import MC_CASES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ["phase_linear", "phase_finetune", "slices_linear", "slices_finetune", "ridge",
            "double_descent", "finetune_forms"]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    """``symtransfer report --quick --out DIR`` (the command line), run once for every test
    here: (completed process, out dir, seconds); the rerun test calls build_report."""
    out = tmp_path_factory.mktemp("cli-report") / "rep"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "symtransfer", "report", "--quick", "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    return proc, out, time.perf_counter() - start


@pytest.fixture(scope="module")
def built(quick_report):
    proc, out, first = quick_report
    assert proc.returncode == 0, proc.stderr[-4000:]
    data = {p.name: (digest(p), p.stat().st_mtime_ns) for p in (out / "data").iterdir()}
    return out, out / "report.md", first, data


def test_writes_report_figures_and_data(built):
    out, path, _, data = built
    assert path == out / "report.md" and path.exists()
    for name in FAMILIES:
        f = out / "figures" / f"{name}.png"
        assert f.exists() and f.stat().st_size > 1000, f
        assert f"figures/{name}.png" in path.read_text()
        # the quick report's figures are a smoke test: PNG only, and no link to a PDF
        assert not (out / "figures" / f"{name}.pdf").exists()
        assert f"figures/{name}.pdf" not in path.read_text()
    assert {"scratch_gamma_quick.npz", "linear_phase_quick.npz", "finetune_phase_quick.npz",
            "ridge_quick.npz", "runs_quick.npz", "derivations.json"} <= set(data)


def test_markdown_content(built):
    text = built[1].read_text()
    # formulas in LaTeX, with their derivation status
    blocks = re.findall(r"\$\$\n(.+?)\n\$\$", text, flags=re.S)
    assert len(blocks) >= 20
    assert any(r"\operatorname{root}_{+}" in b for b in blocks)  # exact fine-tuning
    assert any(r"\frac{\pi}{3}" in b for b in blocks)  # the paper's boundary
    assert "derived and verified" in text
    assert "## Derivation status" in text and "No failures." in text
    # theory vs Monte-Carlo: one row per checked case, each judged
    section = text.split("## Theory vs Monte-Carlo")[1].split("**Fine-tuning:")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and (
        "PASS" in line or "FAIL" in line)]
    assert len(rows) == len(MC_CASES)
    assert "PASS" in text and "exact E R at d = 50" in text and "asymptotic" in text
    assert "max dist. exact" in text and "every run ends at the exact form's endpoint" in text
    # the theory tables of the text report and the run's timings
    assert "Phase boundaries" in text and "| **total** |" in text


def test_rerun_reuses_the_data(built, capsys):
    out, _, first, data = built
    start = time.perf_counter()
    report.build_report(out, quick=True)
    second = time.perf_counter() - start
    after = {p.name: (digest(p), p.stat().st_mtime_ns) for p in (out / "data").iterdir()}
    assert after == data  # nothing recomputed, nothing rewritten
    printed = capsys.readouterr().out
    assert "sources unchanged, reused derivations.json" in printed and "PASS" in printed
    assert printed.count("reused from") >= 6  # every sweep, the ReLU one included
    assert "runs_quick.npz" in printed  # the checked cases: reused too
    # only the figures are drawn again (a smoke-level bound: the first run re-derives)
    assert second < first


def test_reference_allowances():
    # exact finite-d expectations: no allowance
    value, what, allowance, _ = report.reference("scratch", dict(gamma=0.5, sigma=0.3), 100)
    assert allowance == 0 and what.startswith("exact")
    assert value == pytest.approx(0.5 + 0.09 * 50 / 49)
    value, _, allowance, _ = report.reference("linear", dict(gamma=0.5, theta=1.0,
                                                             sigma=0.3), 100)
    assert allowance == 0
    assert value == pytest.approx(math.sin(1) ** 2 + (math.sin(1) ** 2 + 0.09) / 48)
    # fine-tuning above gamma = 1 is least squares: exact as well
    assert report.reference("finetune", dict(gamma=1.5, theta=1.0, sigma=0.3), 100)[2] == 0
    # asymptotic forms carry their stated finite-size allowance
    assert report.reference("linear", dict(gamma=0.5, theta=1.0, lam=0.5), 100)[2] == \
        pytest.approx(3 / 50)
    _, what, allowance, why = report.reference(
        "finetune", dict(gamma=0.6, theta=1.0, sigma=0.5, depth=3), 200)
    assert what == "asymptotic" and allowance == pytest.approx(
        0.25 * abs(120 / 79 - 1.5) + 2 / 200)


def test_check_rule():
    check = report.Check("x", "scratch", {}, 100, 8, "exact", theory=1.0, mean=1.05, sem=0.01,
                         allowance=0.02, why="")
    assert check.bound == pytest.approx(0.06) and check.ok and check.z == pytest.approx(5)
    check.mean = 1.07
    assert not check.ok


def test_derivation_groups_hold_every_module_once_and_balance_the_cost():
    from symtransfer import derivations
    from symtransfer.report.derivation_cache import _COST, _UNKNOWN_COST, _groups

    modules = tuple(derivations.MODULES) + ("added_later",)
    groups = _groups(modules, 2)
    flat = [m for g in groups for m in g]
    assert sorted(flat) == sorted(modules)  # every module, exactly once
    assert any({"phase", "finetune"} <= set(g) for g in groups)  # shared results together
    assert all(list(g) == [m for m in modules if m in g] for g in groups)  # module order kept
    costs = [sum(_COST.get(m, _UNKNOWN_COST) for m in g) for g in groups]
    biggest = _COST["phase"] + _COST["finetune"]
    assert max(costs) - min(costs) <= biggest  # greedy: within the largest unit
    assert _groups(("scratch",), 2) == [("scratch",)]


def test_report_quick(quick_report):
    proc, _, _ = quick_report
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
    proc, out, _ = quick_report
    assert proc.returncode == 0, proc.stderr
    text = (out / "report.md").read_text()
    assert "Phase boundaries" in text and "$$" in text
    assert (out / "figures" / "double_descent.png").exists()


def test_save_reuses_the_layout_for_the_pdf(tmp_path):
    """_save freezes the constrained layout after the PNG: the PDF has the PNG's axes
    positions, within 0.5% of the figure of the layout the PDF renderer would solve itself."""
    import numpy as np
    from matplotlib.figure import Figure

    from symtransfer.report.figures import _save

    def make():
        fig = Figure(figsize=(6, 3), layout="constrained")
        for ax in fig.subplots(1, 2):
            im = ax.imshow(np.arange(9.0).reshape(3, 3))
            ax.set_title(r"$\theta/\pi$")
            ax.set_xlabel("gamma = n/d")
            fig.colorbar(im, ax=ax, label="T")
        return fig

    fig = make()
    paths = _save(fig, tmp_path, "f")
    assert [p.name for p in paths] == ["f.png", "f.pdf"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert (tmp_path / "f.pdf").read_bytes().startswith(b"%PDF")
    own = make()
    own.savefig(tmp_path / "own.pdf")  # the PDF renderer's own constrained layout
    for a, b in zip(fig.axes, own.axes, strict=True):
        assert np.allclose(a.get_position().bounds, b.get_position().bounds, atol=5e-3)
    assert _save(make(), tmp_path, "g", ("png",)) == [tmp_path / "g.png"]
    assert not (tmp_path / "g.pdf").exists()
