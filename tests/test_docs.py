"""The API reference builds with Sphinx, warnings as errors (docs/build.py)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("sphinx") is None
                    or importlib.util.find_spec("myst_nb") is None,
                    reason="needs the docs extra (sphinx, myst-nb)")
def test_docs_build_without_warnings(tmp_path):
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import build
    finally:
        sys.path.remove(str(ROOT / "docs"))
    out = tmp_path / "html"
    assert build.build(out) == 0
    checking = (out / "api" / "checking.html").read_text()
    assert "symtransfer.checker.check" in checking and "counterexample" in checking
    assert (out / "notebooks" / "03_finetuning.html").exists()
    theory = (out / "api" / "theory.html").read_text()
    for name in ("risk", "transferability", "phase_boundary", "optimal_penalty", "expr"):
        assert f"symtransfer.theory.{name}" in theory or f"symtransfer.symbolic.{name}" in theory


def test_a_docstring_error_fails_the_build(tmp_path, monkeypatch):
    """The build must be able to fail: a broken docstring is an error under -W."""
    pytest.importorskip("sphinx")
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import build
    finally:
        sys.path.remove(str(ROOT / "docs"))
    import symtransfer.domains as domains

    monkeypatch.setattr(domains, "__doc__", "Broken.\n\n   indented\n unindented *emphasis\n")
    assert build.build(tmp_path / "html") != 0
