"""The CLI in the documentation's language: pi expressions, lists and ranges, every API
parameter as an option, table/CSV/JSON output, the simulate subcommand, clean limits at
singular points, and errors reported in one line before any work."""
from __future__ import annotations

import csv
import io
import json
import math

import pytest

import symtransfer as st
from symtransfer import cli
from symtransfer.cli_grid import PARAMETERS, parse_values


def out_of(capsys, argv, code=0):
    assert cli.main(argv) == code
    captured = capsys.readouterr()
    return captured.out, captured.err


def rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_theta_pi_expressions(capsys):
    out, _ = out_of(capsys, ["risk", "linear", "--gamma", "0.5", "--theta", "pi/4", "3pi/8",
                             "0.25*pi", "--format", "csv"])
    got = [float(r["R"]) for r in rows(out)]
    assert got == pytest.approx([math.sin(math.pi / 4) ** 2, math.sin(3 * math.pi / 8) ** 2,
                                 math.sin(math.pi / 4) ** 2], rel=1e-14)


def test_lists_ranges_and_the_cartesian_product(capsys):
    out, _ = out_of(capsys, ["risk", "scratch", "--gamma", "0.2:0.8:4", "--sigma", "0,0.3",
                             "--format", "csv"])
    table = rows(out)
    assert len(table) == 8
    for r in table:
        g, s = float(r["gamma"]), float(r["sigma"])
        assert float(r["R"]) == pytest.approx(st.risk("scratch", gamma=g, sigma=s), rel=1e-14)
    assert [float(r["gamma"]) for r in table[::2]] == pytest.approx([0.2, 0.4, 0.6, 0.8])


def test_every_api_parameter_is_an_option(capsys):
    names = {p[0] for p in PARAMETERS}
    assert names == {"gamma", "theta", "sigma", "lam", "depth", "gamma_s", "sigma_s", "mu", "d"}
    with pytest.raises(SystemExit):
        cli.main(["risk", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("--gamma", "--theta", "--sigma", "--lam", "--depth", "--gamma-s", "--sigma-s",
                 "--mu", "--d", "--form", "--baseline", "--precision", "--quantity", "--format"):
        assert flag in text
    assert "default" in text and "pi expressions allowed" in text


def test_each_parameter_reaches_the_library(capsys):
    cases = [
        (["finetune", "--gamma", "0.5", "--theta", "1", "--sigma", "0.3", "--depth", "3",
          "--gamma-s", "0.5", "--sigma-s", "0.2", "--form", "paper"],
         dict(method="finetune", gamma=0.5, theta=1.0, sigma=0.3, depth=3, gamma_s=0.5,
              sigma_s=0.2, form="paper")),
        (["linear", "--gamma", "0.5", "--theta", "1", "--lam", "0.4"],
         dict(method="linear", gamma=0.5, theta=1.0, lam=0.4)),
        (["finetune", "--gamma", "0.5", "--theta", "1.2", "--sigma", "0.2", "--mu", "0.5"],
         dict(method="finetune", gamma=0.5, theta=1.2, sigma=0.2, mu=0.5)),
        (["scratch", "--gamma", "0.5", "--sigma", "0.2", "--d", "100"],
         dict(method="scratch", gamma=0.5, sigma=0.2, d=100)),
        (["scratch", "--gamma", "1", "--sigma", "0.3", "--baseline", "optimal_ridge"],
         dict(method="scratch", gamma=1.0, sigma=0.3, baseline="optimal_ridge")),
    ]
    for argv, kw in cases:
        out, _ = out_of(capsys, ["risk", *argv, "--format", "csv"])
        method = kw.pop("method")
        assert float(rows(out)[0]["R"]) == pytest.approx(st.risk(method, **kw), rel=1e-14)


def test_quantities(capsys):
    out, _ = out_of(capsys, ["risk", "finetune", "--gamma", "0.5", "--quantity", "boundary",
                             "--form", "paper", "--format", "csv"])
    assert float(rows(out)[0]["theta*"]) == pytest.approx(math.pi / 3, rel=1e-14)
    out, _ = out_of(capsys, ["risk", "linear", "--gamma", "0.5", "--theta", "0.5",
                             "--quantity", "transferability", "--format", "csv"])
    assert float(rows(out)[0]["T"]) == pytest.approx(0.5 - math.sin(0.5) ** 2, rel=1e-12)
    _, err = out_of(capsys, ["risk", "finetune", "--gamma", "0.5", "--theta", "1",
                             "--quantity", "boundary"], code=2)
    assert "--theta does not apply" in err


def test_precision_prints_all_digits_and_pi_is_exact(capsys):
    out, _ = out_of(capsys, ["risk", "linear", "--gamma", "0.5", "--theta", "pi/4",
                             "--precision", "40", "--format", "json"])
    value = json.loads(out)[0]["R"]
    assert value.startswith("0.5") and len(value.replace("0.", "", 1)) >= 39
    import mpmath

    assert abs(mpmath.mpf(value) - mpmath.mpf("0.5")) < mpmath.mpf(10) ** -38


def test_continuous_limits_print_cleanly(capsys):
    out, _ = out_of(capsys, ["risk", "scratch", "--gamma", "1", "--sigma", "0"])
    lines = out.strip().splitlines()
    assert lines[1].split()[:3] == ["1", "0", "0"] and lines[1].endswith("*")
    assert "continuous limit at gamma = 1" in out and "e-" not in out
    out, _ = out_of(capsys, ["risk", "linear", "--gamma", "1", "--quantity", "boundary",
                             "--format", "json"])
    assert json.loads(out)[0] == {"gamma": 1.0, "theta*": 0.0, "note": "limit at gamma = 1"}
    out, _ = out_of(capsys, ["risk", "scratch", "--gamma", "1", "--sigma", "0.2"])
    assert "inf" in out and "*" not in out  # a divergence is not a limit


def test_simulate_prints_mean_sem_beside_theory(capsys):
    out, _ = out_of(capsys, ["simulate", "finetune", "--gamma", "0.5", "--theta", "pi/4",
                             "--sigma", "0.2", "--d", "40", "--instances", "4", "--seed", "1",
                             "--format", "csv"])
    (r,) = rows(out)
    result = st.simulate("finetune", gamma=0.5, theta=math.pi / 4, sigma=0.2, d=40,
                         instances=4, seed=1, progress=False)
    assert float(r["MC mean"]) == pytest.approx(result.mean, rel=1e-12)
    assert float(r["sem"]) == pytest.approx(result.sem, rel=1e-12)
    assert float(r["theory"]) == pytest.approx(
        st.risk("finetune", gamma=0.5, theta=math.pi / 4, sigma=0.2), rel=1e-14)
    assert float(r["paper"]) == pytest.approx(
        st.risk("finetune", gamma=0.5, theta=math.pi / 4, sigma=0.2, form="paper"), rel=1e-14)
    assert r["converged"] == "4/4"


def test_version_and_plain_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.strip() == f"symtransfer {st.__version__}"
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and ":func:" not in text and "report" in text


@pytest.mark.parametrize("argv,message", [
    (["risk", "finetune", "--gamma", "0.5", "--theta", "bogus"], "--theta must be a number"),
    (["risk", "finetune", "--gamma", "0.5", "--theta", "__import__('os')"], "not allowed"),
    (["risk", "finetune", "--gamma", "0.5:1"], "START:STOP:NUM"),
    (["risk", "finetune", "--theta", "1"], "--gamma is required"),
    (["risk", "finetune", "--gamma", "0.5", "--theta", "1", "--depth", "2.5"], "whole number"),
    (["risk", "finetune", "--gamma", "0.5", "--theta", "1", "--sigma", "-1"], "sigma"),
    (["risk", "finetune", "--gamma", "2I", "--theta", "1"], "real number"),
    (["simulate", "finetune", "--gamma", "0.5", "--theta", "1", "--form", "paper"], "--form"),
])
def test_errors_one_line_exit_2(capsys, argv, message):
    _, err = out_of(capsys, argv, code=2)
    assert message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_report_checks_before_any_work(capsys, monkeypatch, tmp_path):
    import importlib.util

    _, err = out_of(capsys, ["report", "--scheduler", "tcp://127.0.0.1:1",
                             "--out", str(tmp_path / "r")], code=2)
    assert "cannot reach 127.0.0.1:1" in err and not (tmp_path / "r").exists()
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    out, err = out_of(capsys, ["report", "--out", str(tmp_path / "r")], code=2)
    assert "needs matplotlib" in err and out == "" and not (tmp_path / "r").exists()


def test_parse_values_exact():
    import sympy as sp

    assert parse_values(["0.1"], "gamma") == [sp.Rational(1, 10)]
    assert parse_values(["0:1:3"], "gamma") == [0, sp.Rational(1, 2), 1]
    assert parse_values(["2:4:3"], "depth", "int") == [2, 3, 4]
