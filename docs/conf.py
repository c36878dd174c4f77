"""Sphinx configuration of symtransfer's documentation (built by ``python docs/build.py``).

The API pages are generated from the docstrings (autodoc + napoleon); the theory page and
the notebooks (rendered without executing them, myst-nb) sit beside them.
"""
from __future__ import annotations

import re

project = "symtransfer"
author = "symtransfer developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "myst_nb"]
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath"]
# the theory page links to its own headings by their GitHub anchors (#the-model)
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}
exclude_patterns = ["_build", "build.py"]
suppress_warnings = ["myst.header"]
html_theme = "alabaster"

# docstrings write norms as |x|; reST would read |...| as a substitution reference
_BARS = re.compile(r"(?<![\\`|])\|(?!\|)")


def _escape_bars(app, what, name, obj, options, lines):  # noqa: ARG001
    in_literal = False
    for i, line in enumerate(lines):
        if line.strip().startswith(">>>") or line.rstrip().endswith("::"):
            in_literal = True
        elif not line.strip():
            in_literal = False
        if not in_literal:
            parts = line.split("``")  # leave inline literals alone
            lines[i] = "``".join(p if k % 2 else _BARS.sub(r"\\|", p)
                                 for k, p in enumerate(parts))


# the docstrings' "name : meaning" blocks (continuation lines indented) become bullet lists
_PARAM = re.compile(r"^(\w+(?:, \w+)*) : (.*)$")


def _parameter_lists(app, what, name, obj, options, lines):  # noqa: ARG001
    out: list[str] = []
    in_list = False
    for line in lines:
        match = _PARAM.match(line)
        if match:
            if out and out[-1].strip() and not in_list:
                out.append("")
            out.append(f"* ``{match.group(1)}`` : {match.group(2)}")
            in_list = True
            continue
        if in_list:
            if line.startswith(" ") and line.strip():
                out.append("  " + line.strip())
                continue
            if line.strip():
                out.append("")
            in_list = False
        out.append(line)
    lines[:] = out


def setup(app):
    app.connect("autodoc-process-docstring", _parameter_lists)
    app.connect("autodoc-process-docstring", _escape_bars)
