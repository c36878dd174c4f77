"""The generated kernels are current, complete, and keep sympy off the numeric path."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from symtransfer import _catalog, codegen

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("backend", ["numpy", "mpmath"])
def test_generated_kernels_are_up_to_date(backend):
    """Regenerating from formulas.py gives exactly the committed file."""
    assert codegen.TARGETS[backend].read_text() == codegen.render(backend), (
        "stale kernels: run `python -m symtransfer.codegen`")


def test_check_mode_detects_a_stale_file(tmp_path, monkeypatch):
    stale = tmp_path / "_kernels_numpy.py"
    stale.write_text("# edited by hand\n")
    monkeypatch.setitem(codegen.TARGETS, "numpy", stale)
    assert codegen.main(["--check"]) == 1
    assert stale.read_text() == "# edited by hand\n"


def test_every_catalogued_kernel_exists_in_both_modules():
    from symtransfer import _kernels_mpmath, _kernels_numpy

    for spec in _catalog.catalog():
        name = _catalog.kernel_name(**spec)
        assert callable(getattr(_kernels_numpy, name)), name
        assert callable(getattr(_kernels_mpmath, name)), name


def test_numeric_path_never_imports_sympy():
    code = ("import sys, symtransfer; "
            "symtransfer.risk('finetune', gamma=0.5, theta=1.0, sigma=0.2, depth=5); "
            "symtransfer.transferability('linear', gamma=[0.5, 2.0], theta=1.0, lam=0.1, "
            "gamma_s=0.5, sigma_s=0.1, depth=3); "
            "symtransfer.risk('finetune', gamma=0.5, theta=1.0, sigma=0.2, precision=30); "
            "print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
