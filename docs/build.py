"""Build the HTML documentation: ``python docs/build.py [OUT]`` (default ``docs/_build``).

Sphinx reads its sources from one folder; the notebooks live in ``notebooks/``, so the build
assembles a temporary source folder (this folder's pages plus the notebooks, outputs as
committed: none) and runs Sphinx on it with warnings as errors.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def build(out: Path, *, warnings_are_errors: bool = True) -> int:
    from sphinx.cmd.build import build_main

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(HERE, src, ignore=shutil.ignore_patterns("_build", "build.py"))
        shutil.copytree(ROOT / "notebooks", src / "notebooks",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        args = ["-b", "html", "-q", "-E", str(src), str(out)]
        if warnings_are_errors:
            args[:0] = ["-W", "--keep-going"]
        return build_main(args)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "_build"
    raise SystemExit(build(target))
