"""symtransfer check EXPR --reference ...: the derivation checker on the command line."""
from __future__ import annotations

import pytest

from symtransfer.cli import main


def test_latex_candidate_equal(capsys):
    code = main(["check", r"1-\cos^2\theta\frac{1+2\lambda}{(1+\lambda)^2}",
                 "--reference", "linear"])
    assert code == 0
    assert capsys.readouterr().out.strip() == "equal (symbolic)"


def test_partial_verdict_prints_region_and_counterexample(capsys):
    code = main(["check", "(1-gamma)*(2-2*cos(theta)) + sigma^2 gamma/(1-gamma)",
                 "--reference", "finetune", "--form", "paper"])
    out = capsys.readouterr().out
    assert code == 1
    assert "equal on part of the domain: equal where 0 < gamma < 1" in out
    assert "counterexample: gamma=" in out and "recompute: python -c" in out


def test_set_domain_and_options(capsys):
    assert main(["check", "sin(theta)^2", "--reference", "linear", "--set", "lam=0"]) == 0
    assert main(["check", "sqrt(x^2)", "--reference", "x", "--domain", "x=0:oo"]) == 0
    assert main(["check", "pi/3", "--reference", "finetune", "--form", "paper",
                 "--quantity", "boundary", "--domain", "gamma=0:1"]) == 0
    assert main(["check", "sin(theta)**3", "--reference", "linear", "--set", "lam=0",
                 "--samples", "5", "--digits", "20", "--seed", "3"]) == 1
    out = capsys.readouterr().out
    assert out.count("equal (") == 3 and "different" in out


@pytest.mark.parametrize("argv,message", [
    (["check", "sin(theta)^2", "--reference", "linaer"], "did you mean 'linear'"),
    (["check", "sin(theta)^2"], "--reference is required"),
    (["check", "__import__('os')", "--reference", "linear"], "not allowed"),
    (["check", "x", "--reference", "x", "--digits", "5"], "digits"),
    (["check", "x", "--reference", "x", "--domain", "x=1"], "NAME=LO:HI"),
    (["check", "x", "--reference", "linear", "--set", "lam"], "NAME=VALUE"),
    (["check", "Gamma", "--reference", "scratch"], "ambiguous identifier"),
])
def test_errors_are_one_line_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("symtransfer check: error:") and message in err
    assert len(err.strip().splitlines()) == 1
