"""``derivations`` re-derives every shipped expression; every check must pass, and can fail."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

import derivations
from derivations import NUMERIC, SYMBOLIC, Result, same, symbolic_equal
from derivations.__main__ import main
from symtransfer import formulas
from symtransfer.symbols import gamma, theta

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def results() -> list[Result]:
    return derivations.run_all()


def test_every_check_passes(results):
    failed = [f"{r.name}: {r.detail}" for r in results if not r.ok]
    assert not failed, "\n".join(failed)


def test_results_cover_every_module(results):
    assert len(results) >= 80
    assert len({r.name for r in results}) == len(results), "check names must be unique"
    for module in derivations.MODULES:
        assert any(r.name.startswith(f"{module}:") for r in results), module
    assert {r.how for r in results} >= {SYMBOLIC, NUMERIC}


def _command(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                                     os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "derivations", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_command_line_exits_zero():
    """The command line (on two cheap modules: test_every_check_passes runs them all)."""
    proc = _command("scratch", "source")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert " 0 failed" in proc.stdout and "PASS" in proc.stdout
    lines = [line for line in proc.stdout.splitlines() if "PASS" in line or "FAIL" in line]
    assert len(lines) == len(derivations.run_all(("scratch", "source")))


def test_command_line_names_an_unknown_module():
    proc = _command("scratch", "no_such_module")
    assert proc.returncode == 2 and "no_such_module" in proc.stderr


def test_wrong_shipped_expression_is_caught():
    result = same(formulas.scratch() + gamma / 100, formulas.scratch(), "deliberately wrong")
    assert not result.ok
    assert result.how == NUMERIC
    assert "mismatch" in result.detail


def test_symbolic_test_never_proves_a_wrong_expression():
    assert not symbolic_equal(formulas.scratch() + gamma / 100, formulas.scratch())
    assert not symbolic_equal(formulas.finetune("exact", "finite"),
                              formulas.finetune("paper", "finite"))
    assert symbolic_equal(formulas.scratch(), formulas.scratch())


@pytest.mark.parametrize("eps, ok", [(sp.Rational(1, 10 ** 45), True), (sp.Rational(1, 10 ** 35), False)])
def test_numeric_tolerance_is_1e_40(eps, ok):
    shipped = formulas.finetune("exact", "population", 3)
    assert same(shipped * (1 + eps), shipped, "perturbed", symbolic=False).ok is ok


def test_exact_vs_paper_is_a_real_difference():
    result = same(formulas.finetune("exact", "population"), formulas.finetune("paper", "population"),
                  "exact vs paper")
    assert not result.ok


def test_nan_matches_only_nan():
    assert not same(sp.Piecewise((theta, gamma < 1), (sp.nan, True)),
                    sp.Piecewise((theta, gamma < 1), (1, True)), "nan").ok


def test_main_exit_code_reports_failure(monkeypatch, capsys):
    monkeypatch.setattr("derivations.__main__.run_all",
                        lambda modules=None: [Result("good", True, SYMBOLIC),
                                              Result("bad", False, NUMERIC, "x")])
    assert main() == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "1 failed" in out


def test_fast_evaluation_agrees_with_evalf_on_shipped_expressions():
    """The lambdified mpmath path gives the evalf values (to 1e-45) where it gives any."""
    import random

    from derivations import evaluate, evaluate_fast, sample_point

    rng = random.Random(1)
    exprs = [formulas.finetune("exact", "finite", 3), formulas.phase_boundary("linear"),
             formulas.finetune("exact", "population")]
    for expr in exprs:
        for i in range(6):
            point = sample_point(rng, i, expr.free_symbols)
            fast, ref = evaluate_fast(expr, point), evaluate(expr, point)
            if fast is None:
                continue
            assert abs(fast - ref) <= 1e-45 * max(1, abs(ref))


def test_cancellation_beyond_working_precision_is_decided_by_evalf():
    """At 65 fixed digits sqrt(10^160 + gamma) - 10^80 is lost to rounding; the fast path's
    disagreement is re-evaluated by evalf (adaptive precision), which finds the two equal."""
    from derivations import WORK_DIGITS, evaluate, evaluate_fast

    big = sp.Integer(10) ** 80
    derived = (sp.sqrt(big ** 2 + gamma) - big) * 2 * big
    shipped = 2 * big * gamma / (sp.sqrt(big ** 2 + gamma) + big)
    point = {gamma: sp.Rational(1, 3)}
    assert abs(evaluate_fast(derived, point) - evaluate(derived, point)) > 1e-10
    assert WORK_DIGITS < 160
    assert same(derived, shipped, "cancellation", symbolic=False).ok
    assert not same(derived * (1 + sp.Rational(1, 10 ** 30)), shipped, "perturbed",
                    symbolic=False).ok
