"""The command line's --spectrum, --source-spectrum and --teacher (symtransfer.cli_spectra):
the grammar (parsed without eval), the values they give, and bad input as one line on stderr
with exit status 2 naming the option."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import symtransfer as st
from symtransfer import cli, spectra
from symtransfer.cli_spectra import parse_spectrum, parse_teacher
from symtransfer.teachers import GENERIC, Aligned

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_main(capsys, *args):
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_grammar():
    s = parse_spectrum("discrete:0.3,4.8@0.75,0.25")
    np.testing.assert_array_equal(s.eigenvalues, [0.3, 4.8])
    np.testing.assert_array_equal(s.weights, [0.75, 0.25])
    e = parse_spectrum(" discrete: 1, 2e0 ,3 ")
    np.testing.assert_allclose(e.weights, [1 / 3] * 3)
    p = parse_spectrum("powerlaw:alpha=1.5,atoms=40")
    ref = spectra.PowerLaw(1.5, atoms=40)
    np.testing.assert_array_equal(p.eigenvalues, ref.eigenvalues)
    assert parse_spectrum("PowerLaw:alpha=2").eigenvalues.size == 1000
    assert parse_spectrum(None) is None
    assert parse_teacher(None) is GENERIC and parse_teacher("generic") is GENERIC
    assert parse_teacher("aligned:-0.5") == Aligned(-0.5)


@pytest.mark.parametrize("text,match", [
    ("discrete", "expected discrete"),
    ("discrete:", "comma list"),
    ("discrete:1,,2", "comma list"),
    ("discrete:1,2@0.5", "match"),
    ("discrete:1,2@0.5,0.6", "sum to 1"),
    ("discrete:0,1", "positive"),
    ("discrete:1,inf", "number"),
    ("discrete:1,nan", "number"),
    ("discrete:2**3", "number"),
    ("discrete:__import__('os')", "number"),
    ("powerlaw:1.5", "alpha=A"),
    ("powerlaw:alpha=1,alpha=2", "alpha=A"),
    ("powerlaw:atoms=10", "needs alpha"),
    ("powerlaw:alpha=1,atoms=1.5", "whole number"),
    ("powerlaw:alpha=-1", "exponent"),
    ("gauss:1", "unknown spectrum"),
])
def test_bad_spectrum_text(text, match):
    with pytest.raises(ValueError, match=match) as info:
        parse_spectrum(text, "--source-spectrum")
    assert str(info.value).startswith("--source-spectrum: ")


@pytest.mark.parametrize("text", ["aligned", "aligned:x", "aligned:1e999", "lined:1", "eval"])
def test_bad_teacher_text(text):
    with pytest.raises(ValueError, match="^--teacher: "):
        parse_teacher(text)


def test_risk_with_a_spectrum_matches_the_api(capsys):
    code, out, _ = run_main(capsys, "risk", "finetune", "--gamma", "0.3,0.6", "--theta", "pi/4",
                            "--sigma", "0.2", "--spectrum", "discrete:0.3,4.8@0.75,0.25",
                            "--teacher", "aligned:1", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    two = spectra.Discrete([0.3, 4.8], [0.75, 0.25])
    for row in rows:
        assert row["R"] == st.risk("finetune", gamma=row["gamma"], theta=np.pi / 4, sigma=0.2,
                                   spectrum=two, teacher=Aligned(1.0))
    code, out, _ = run_main(capsys, "risk", "linear", "--gamma", "0.6", "--sigma", "0.6",
                            "--gamma-s", "0.5",
                            "--sigma-s", "0.3", "--spectrum", "powerlaw:alpha=1.5,atoms=50",
                            "--source-spectrum", "discrete:0.5,2", "--quantity", "boundary",
                            "--format", "json")
    assert code == 0
    value = json.loads(out)[0]["theta*"]
    assert 0 < value < np.pi / 2
    assert value == st.phase_boundary("linear", gamma=0.6, sigma=0.6, gamma_s=0.5, sigma_s=0.3,
                                      spectrum=spectra.PowerLaw(1.5, atoms=50),
                                      source_spectrum=spectra.Discrete([0.5, 2.0]))


def test_risk_without_the_options_is_unchanged(capsys):
    args = ("risk", "finetune", "--gamma", "0.5", "--theta", "pi/4", "--sigma", "0.2",
            "--format", "json")
    code, out, _ = run_main(capsys, *args)
    assert code == 0
    assert json.loads(out)[0]["R"] == st.risk("finetune", gamma=0.5, theta=np.pi / 4,
                                              sigma=0.2)


def test_precision_and_simulate_with_a_spectrum(capsys):
    code, out, _ = run_main(capsys, "risk", "finetune", "--gamma", "0.6", "--theta", "pi/4",
                            "--sigma", "0.3", "--spectrum", "discrete:0.5,1.5",
                            "--precision", "30")
    assert code == 0
    assert "0.358148327227865706128276083785" in out  # 30 digits
    code, out, _ = run_main(capsys, "simulate", "scratch", "--gamma", "0.5", "--sigma", "0.2",
                            "--spectrum", "discrete:0.3,4.8@0.75,0.25", "--d", "40",
                            "--instances", "3", "--format", "json")
    assert code == 0
    row = json.loads(out)[0]
    two = spectra.Discrete([0.3, 4.8], [0.75, 0.25])
    assert row["theory"] == st.risk("scratch", gamma=0.5, sigma=0.2, spectrum=two)
    sim = st.simulate("scratch", gamma=0.5, sigma=0.2, d=40, instances=3, seed=0,
                      spectrum=two, progress=False)
    assert row["MC mean"] == pytest.approx(sim.mean, rel=1e-12)


@pytest.mark.parametrize("args,option", [
    (("--spectrum", "discrete:1,2@0.5,0.6"), "--spectrum"),
    (("--source-spectrum", "powerlaw:alpha=x"), "--source-spectrum"),
    (("--teacher", "aligned:__import__"), "--teacher"),
    (("--teacher", "aligned:1"), "spectrum"),  # an aligned teacher needs a spectrum
])
def test_bad_input_is_one_line_and_exit_status_2(capsys, args, option):
    code, out, err = run_main(capsys, "risk", "finetune", "--gamma", "0.6", "--theta", "pi/4",
                              *args)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("symtransfer risk: error: ")
    assert option in lines[0]


def test_bad_input_from_a_subprocess():
    proc = subprocess.run([sys.executable, "-m", "symtransfer", "simulate", "finetune",
                           "--gamma", "0.5", "--theta", "0.3", "--spectrum", "discrete:-1,2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "symtransfer simulate: error: --spectrum: eigenvalues must be positive (Sigma must be "
        "positive definite), got min -1"]


def test_help_lists_the_options(capsys):
    for command in ("risk", "simulate"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        out = capsys.readouterr().out
        for flag in ("--spectrum", "--source-spectrum", "--teacher", "powerlaw:alpha=A",
                     "aligned:P"):
            assert flag in out
