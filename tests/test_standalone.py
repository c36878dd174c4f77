"""The repository stands on its own: no tracked file refers outside it, the documentation's
links resolve, the theory page covers what symtransfer ships (and its numbers reproduce), a
built wheel installs one top-level package (``symtransfer``, with ``symtransfer.derivations``),
and the subpackages are lazy attributes of ``import symtransfer``.

Every scanner here is first run on a synthetic text it must reject, so that a scanner that
finds nothing cannot pass for a clean repository.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import math
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

import symtransfer as st
from symtransfer import formulas

ROOT = Path(__file__).resolve().parents[1]
PAGE_PATH = ROOT / "docs" / "theory.md"

# Spelled in pieces so that this file, which is scanned too, does not contain them.
OUTSIDE_MARKERS = ("shared" + "/", "THE" + "ORY.md", "/" + "work/")


# ------------------------------------------------------------------------------ helpers

def tracked_files() -> list[Path]:
    """The files git tracks (relative paths), as a fresh clone has them."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [Path(p) for p in out.stdout.decode().split("\0") if p]


def tracked_set() -> set[str]:
    """Tracked files and the folders that contain them, as posix paths relative to ROOT."""
    names: set[str] = set()
    for path in tracked_files():
        names.add(path.as_posix())
        names.update(parent.as_posix() for parent in path.parents if parent != Path("."))
    return names


def text_of(path: Path) -> str | None:
    """The file's text, or None for a binary file (NUL bytes or not UTF-8)."""
    data = (ROOT / path).read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def inside(relative_to: Path, target: str, tracked: set[str]) -> bool:
    """Whether ``target``, relative to the folder ``relative_to`` (relative to ROOT), names a
    tracked file or folder of the repository."""
    resolved = (ROOT / relative_to / target).resolve()
    try:
        rel = resolved.relative_to(ROOT)
    except ValueError:
        return False  # leaves the repository
    return rel == Path(".") or rel.as_posix() in tracked


_DOTDOT = re.compile(r"(?<![\w.])((?:\.\./)+[\w\-.]*(?:/[\w\-.]+)*)")


def outside_references(path: Path, text: str, tracked: set[str]) -> list[str]:
    """Every place in ``text`` (the content of ``path``) that refers outside the repository:
    a marker of the developers' workspace, or a ``../`` path that does not resolve (from the
    file's folder) to a tracked file or folder."""
    found = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for marker in OUTSIDE_MARKERS:
            if marker in line:
                found.append(f"{path}:{lineno}: {marker!r} in {line.strip()[:100]!r}")
        for match in _DOTDOT.finditer(line):
            if not inside(path.parent, match.group(1), tracked):
                found.append(f"{path}:{lineno}: {match.group(1)!r} leaves the repository or "
                             "names no tracked file")
    return found


_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^()\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
_HTML = re.compile(r"""<(?:a|img)\s[^>]*?(?:href|src)\s*=\s*["']([^"']+)["']""", re.I)


def prose(markdown: str) -> str:
    """Markdown without fenced code blocks and inline code (links there are not links)."""
    return _CODE_SPAN.sub("", _FENCE.sub("", markdown))


def links(markdown: str) -> list[str]:
    """Targets of inline links and images, reference definitions and HTML a/img tags."""
    text = prose(markdown)
    return ([m.group(1) for m in _INLINE_LINK.finditer(text)]
            + [m.group(1) for m in _REFERENCE.finditer(text)]
            + [m.group(1) for m in _HTML.finditer(text)])


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Anchors of every heading (duplicates numbered -1, -2, ... as on GitHub)."""
    seen: dict[str, int] = {}
    out = set()
    for match in re.finditer(r"^#{1,6}\s+(.*?)\s*#*\s*$", _FENCE.sub("", markdown), re.M):
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def broken_links(path: Path, markdown: str, tracked: set[str]) -> list[str]:
    """Relative links of ``path`` that name no tracked file, or an anchor no heading has."""
    bad = []
    for target in links(markdown):
        if re.match(r"^[a-zA-Z][\w+.-]*:", target):  # http:, https:, mailto:, ...
            continue
        file_part, _, anchor = target.partition("#")
        if file_part:
            if not inside(path.parent, file_part, tracked):
                bad.append(f"{path}: link {target!r} names no tracked file")
                continue
            linked = (ROOT / path.parent / file_part).resolve()
            headings = linked.read_text() if linked.suffix == ".md" else None
        else:
            headings = markdown  # an anchor in this file
        if anchor and headings is not None and anchor not in anchors(headings):
            bad.append(f"{path}: link {target!r}: no heading with anchor #{anchor}")
    return bad


_PATH_SPAN = re.compile(r"`([\w\-.]+(?:/[\w\-.]+)+/?)`")


def ignored(names: list[str]) -> set[str]:
    """The names git ignores (build outputs such as ``docs/_build``), as files or folders."""
    if not names:
        return set()
    query = "\n".join(f"{name}\n{name}/" for name in names)
    proc = subprocess.run(["git", "check-ignore", "--stdin"], cwd=ROOT, input=query,
                          capture_output=True, text=True)
    return {line.rstrip("/") for line in proc.stdout.split()}


def missing_paths(markdown: str, tracked: set[str]) -> list[str]:
    """Repository paths written in inline code (``derivations/finetune.py``) whose first part
    is a tracked top-level folder but which name no tracked file or folder (outputs that git
    ignores, such as ``docs/_build``, aside)."""
    tops = {name.split("/")[0] for name in tracked if "/" in name}
    bad = []
    for match in _PATH_SPAN.finditer(_FENCE.sub("", markdown)):
        name = match.group(1).rstrip("/")
        if name.split("/")[0] in tops and name not in tracked and name not in bad:
            bad.append(name)
    outputs = ignored(bad)
    return [name for name in bad if name not in outputs]


def markdown_files() -> list[Path]:
    return [p for p in tracked_files()
            if p.suffix == ".md" and (p == Path("README.md") or p.parts[0] == "docs")]


def module_path(dotted: str) -> str:
    """The repository path of an installed module name (``symtransfer.derivations.x`` lives in
    ``derivations/x``), without the ``.py`` / ``/__init__.py`` ending."""
    parts = dotted.split(".")
    if parts[:2] == ["symtransfer", "derivations"]:
        parts = parts[1:]
    return "/".join(parts)


def installed_name(path: Path) -> str:
    """The module name a tracked file of symtransfer/ or derivations/ has once installed."""
    parts = list(path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["symtransfer"] + parts if parts[0] == "derivations" else parts)


def unresolved_imports(path: Path, source: str, tracked: set[str]) -> list[str]:
    """Imports of symtransfer's own modules in ``source`` (the file ``path``) that no tracked
    file provides (a fresh clone would fail on them), and, inside the package, imports of a
    top-level ``derivations`` (which works only from the repository root)."""
    in_package = path.parts[0] in ("symtransfer", "derivations")
    here = installed_name(path).split(".") if in_package else []
    is_package = path.name == "__init__.py"
    bad = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if not in_package:
                    continue
                base = here if is_package else here[:-1]
                base = base[:len(base) - (node.level - 1)]
                names = [".".join(base + ([node.module] if node.module else []))]
            elif node.module:
                names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top == "derivations" and in_package:
                bad.append(f"{path}:{node.lineno}: imports top-level {name!r}; use "
                           "symtransfer.derivations")
            elif top == "symtransfer":
                where = module_path(name)
                if where not in tracked and f"{where}.py" not in tracked \
                        and f"{where}/__init__.py" not in tracked:
                    bad.append(f"{path}:{node.lineno}: {name!r} is not a tracked module")
    return bad


# ------------------------------------------------------------------------------ the scanners fail

def test_scanners_reject_what_they_must():
    tracked = tracked_set()
    readme, page = Path("README.md"), Path("docs/theory.md")
    assert outside_references(readme, "see ../" + "shar" + "ed/notes.md", tracked)
    assert outside_references(readme, "see `.." + "/other/README.md`", tracked)
    assert outside_references(page, "[up](.." + "/../README.md)", tracked)  # above the root
    assert outside_references(readme, "read " + "THE" + "ORY.md first", tracked)
    assert outside_references(readme, "cd /" + "work/main", tracked)
    assert not outside_references(page, "[readme](../README.md) and ../derivations/", tracked)
    assert not outside_references(readme, "a ... b, x../y", tracked)

    assert broken_links(readme, "[t](docs/nothing.md)", tracked)
    assert broken_links(readme, "![fig](docs/no_such.png)", tracked)
    assert broken_links(readme, "[t][r]\n\n[r]: derivations/nope.py\n", tracked)
    assert broken_links(readme, '<img src="docs/missing.png">', tracked)
    assert broken_links(readme, "[t](docs/theory.md#no-such-heading)", tracked)
    assert broken_links(readme, "# Title\n[t](#not-here)", tracked)
    assert not broken_links(readme, "# Two words\n[t](#two-words) [u](https://x.org/a.md) "
                            "`[code](nothing.md)`\n```\n[fenced](nothing.md)\n```", tracked)
    assert slug("Where the published forms are not exact") == \
        "where-the-published-forms-are-not-exact"
    assert slug("Fine-tuning: the exact form ($c$)") == "fine-tuning-the-exact-form-c"

    cli, init = Path("symtransfer/cli.py"), Path("derivations/__init__.py")
    assert unresolved_imports(cli, "from .report_gone import build", tracked)
    assert unresolved_imports(cli, "def f():\n    import symtransfer.nothing.here", tracked)
    assert unresolved_imports(cli, "def f():\n    import derivations", tracked)
    assert unresolved_imports(init, "from .no_such_module import x", tracked)
    assert not unresolved_imports(cli, "from . import theory\nfrom .mc import simulate\n"
                                  "from symtransfer.derivations.__main__ import main", tracked)
    assert not unresolved_imports(init, "from . import run_all\nfrom .finetune import risk\n"
                                  "from symtransfer import formulas", tracked)
    assert not unresolved_imports(Path("tests/test_x.py"), "import derivations", tracked)

    assert missing_paths("`derivations/nope.py` and `symtransfer/gone/`", tracked) == \
        ["derivations/nope.py", "symtransfer/gone"]
    assert missing_paths("`derivations/finetune.py`, `DIR/report.md`, "
                         "`symtransfer/__pycache__`", tracked) == []


# ------------------------------------------------------------------------------ the repository

def test_no_tracked_text_file_refers_outside_the_repository():
    tracked = tracked_set()
    found = []
    for path in tracked_files():
        text = text_of(path)
        if text is not None:
            found += outside_references(path, text, tracked)
    assert not found, "\n".join(found)


def test_own_imports_resolve_to_tracked_files():
    """A fresh clone has every module symtransfer imports (an ignored package folder would not
    be there), and the package never imports a top-level ``derivations``."""
    tracked = tracked_set()
    bad = []
    for path in tracked_files():
        if path.suffix == ".py":
            bad += unresolved_imports(path, (ROOT / path).read_text(), tracked)
    assert not bad, "\n".join(bad)


def test_readme_and_docs_links_resolve():
    tracked = tracked_set()
    files = markdown_files()
    assert Path("README.md") in files and Path("docs/theory.md") in files
    bad = []
    for path in files:
        text = (ROOT / path).read_text()
        bad += broken_links(path, text, tracked)
        bad += [f"{path}: `{name}` names no tracked file" for name in missing_paths(text, tracked)]
    assert not bad, "\n".join(bad)
    # the README leads to the theory page
    assert "docs/theory.md" in links((ROOT / "README.md").read_text())


# ------------------------------------------------------------------------------ the theory page

def _page() -> str:
    return PAGE_PATH.read_text()


def shipped_formulas() -> list[str]:
    """Public functions and classes defined in symtransfer/formulas.py."""
    return sorted(name for name, obj in vars(formulas).items()
                  if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
                  and getattr(obj, "__module__", "") == formulas.__name__)


API = ("risk", "transferability", "phase_boundary", "optimal_penalty", "anomalous_transfer",
       "simulate", "expr", "check")


def theory_page_gaps(page: str) -> list[str]:
    """What the theory page fails to mention (every method, form, derivation module, shipped
    formula and API function), and the ``formulas.NAME`` it mentions that do not exist."""
    from symtransfer import derivations

    missing = [f'method "{m}"' for m in formulas.METHODS if f'"{m}"' not in page]
    missing += [f'form "{f}"' for f in formulas.FORMS if f'"{f}"' not in page]
    missing += [f"derivations/{m}.py" for m in derivations.MODULES
                if f"derivations/{m}.py" not in page]
    missing += [f"formulas.{name}" for name in shipped_formulas()
                if not re.search(rf"`(?:formulas\.)?{name}(?:\([^`]*\))?`", page)]
    missing += [f"st.{api}" for api in API
                if f"st.{api}(" not in page and f"symtransfer.{api}" not in page]
    missing += [f"formulas.{name} (no such function)"
                for name in sorted(set(re.findall(r"formulas\.(?!py\b)(\w+)", page)))
                if not hasattr(formulas, name)]
    return missing


def test_theory_page_mentions_every_method_module_and_formula():
    gaps = theory_page_gaps(_page())
    assert not gaps, "docs/theory.md: " + ", ".join(gaps)


def test_theory_page_coverage_check_can_fail():
    page = _page()
    assert "derivations/penalty.py" in theory_page_gaps(page.replace("derivations/penalty.py", ""))
    assert 'method "linear"' in theory_page_gaps(page.replace('"linear"', "'linear'"))
    assert "formulas.ridge_shrinkage" in theory_page_gaps(page.replace("ridge_shrinkage", "rs"))
    assert "formulas.nowhere (no such function)" in theory_page_gaps(page + "`formulas.nowhere`")
    assert "st.optimal_penalty" in theory_page_gaps(page.replace("optimal_penalty", "op"))


_QUOTED = re.compile(r"^(?P<code>[^#]+?)\s+#\s*(?P<value>-?(?:\d+\.\d+|\d+)(?:e-?\d+)?|-?inf|nan"
                     r"|True|False)(?=[\s,;)]|$)")


def quoted_numbers(markdown: str) -> list[tuple[str, str, str]]:
    """(setup code, expression, quoted value) for every ``expr  # value`` line of the page's
    python blocks; the setup is the block's code before that line."""
    out = []
    for block in re.findall(r"^```python\n(.*?)^```", markdown, re.S | re.M):
        lines = block.splitlines()
        for i, line in enumerate(lines):
            match = _QUOTED.match(line)
            if match:
                out.append(("\n".join(lines[:i]), match.group("code").strip(),
                            match.group("value")))
    return out


def agrees(value, quoted: str) -> bool:
    """``value`` rounds to ``quoted`` at the digits quoted."""
    if quoted in ("True", "False"):
        return bool(value) == (quoted == "True")
    value = float(value)
    if quoted.lstrip("-") in ("inf", "nan"):
        return str(value) == quoted if quoted != "nan" else math.isnan(value)
    mantissa, _, exponent = quoted.partition("e")
    decimals = len(mantissa.partition(".")[2])
    unit = 10.0 ** (-decimals + int(exponent or 0))
    return abs(value - float(quoted)) <= 0.5 * unit * (1 + 1e-9)


def test_quoted_numbers_reproduce():
    """Every number the theory page quotes next to a call is what the call returns."""
    cases = quoted_numbers(_page())
    assert len(cases) >= 20
    wrong = []
    for setup, code, quoted in cases:
        scope = {"st": st, "np": np, "math": math}
        exec(setup, scope)  # noqa: S102 - the page's own examples
        value = eval(code, scope)  # noqa: S307
        if not agrees(value, quoted):
            wrong.append(f"{code} -> {value!r}, the page says {quoted}")
    assert not wrong, "\n".join(wrong)


def test_quoted_number_check_can_fail():
    cases = quoted_numbers("```python\nx = 2\nx / 3  # 0.667\nx / 3  # 0.666\n"
                           "np.inf  # inf\n1e-50  # 1e-50\n```\n")
    assert [agrees(eval(code, {"x": 2, "np": np}), q) for _, code, q in cases] == \
        [True, False, True, True]
    assert not agrees(0.9470, "0.949")


# ------------------------------------------------------------------------------ packaging

def _copy_tracked(dest: Path) -> None:
    for path in tracked_files():
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, target)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built offline from a copy of the tracked files (what a fresh clone has)."""
    pytest.importorskip("wheel", reason="the test extra installs 'wheel' to build offline")
    base = tmp_path_factory.mktemp("wheel")
    _copy_tracked(base / "src")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(base / "src"), "--no-deps",
                           "--no-build-isolation", "--no-index", "-q", "-w", str(base / "dist")],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = (base / "dist").glob("symtransfer-*.whl")
    return built


def test_wheel_holds_one_top_level_package(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
        assert z.read(top_level).decode().split() == ["symtransfer"]
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"symtransfer"}, tops
    assert not any(n.startswith("derivations/") for n in names)
    # everything the repository ships is inside: every module of symtransfer/ and of
    # derivations/ (as symtransfer/derivations/), so a package the build misses fails
    expected = {p.as_posix() for p in tracked_files()
                if p.suffix == ".py" and p.parts[0] == "symtransfer"}
    expected |= {"symtransfer/derivations/" + p.name for p in tracked_files()
                 if p.suffix == ".py" and p.parts[0] == "derivations"}
    assert "symtransfer/derivations/__init__.py" in expected
    assert "symtransfer/derivations/__main__.py" in expected
    assert expected <= set(names), sorted(expected - set(names))


def test_installed_wheel_runs_derivations_and_check_outside_the_repository(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:  # a pure-python wheel installs by unpacking
        z.extractall(site)
    script = textwrap.dedent(f"""
        import sys
        import symtransfer
        from symtransfer.derivations import scratch
        assert symtransfer.__file__.startswith({str(site)!r}), symtransfer.__file__
        assert scratch.__file__.startswith({str(site)!r}), scratch.__file__
        results = scratch.checks()
        assert results and all(r.ok for r in results), results
        # symtransfer check (cli's final branch), with run_all limited to this cheap module
        import symtransfer.derivations.__main__ as derive
        derive.run_all = lambda modules=None: results
        from symtransfer.cli import main
        sys.exit(main(["check"]))
        """)
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"\b(\d+) checks, \1 passed, 0 failed", proc.stdout), proc.stdout


def test_derivations_subpackage_runs_a_derivation_module():
    derivations = st.derivations
    assert derivations.__name__ == "symtransfer.derivations"
    assert Path(derivations.__file__).resolve() == ROOT / "derivations" / "__init__.py"
    module = importlib.import_module("symtransfer.derivations.scratch")
    results = module.checks()
    assert len(results) >= 2 and all(r.ok for r in results), results


def _run(script: str, cwd: Path, **env) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=cwd,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_source_checkout_finds_its_derivations_without_the_installed_mapping(tmp_path):
    """A checkout that pip's mapping does not reach (not installed, or shadowing another
    installed copy) still has symtransfer.derivations: its own derivations/ folder."""
    _run(f"""
        import sys
        sys.meta_path[:] = [f for f in sys.meta_path
                            if "__editable__" not in getattr(f, "__module__", "")]
        sys.path.insert(0, {str(ROOT)!r})
        import symtransfer
        from symtransfer import derivations
        from symtransfer.derivations.__main__ import main
        import symtransfer.derivations.scratch as scratch
        assert derivations.__file__ == {str(ROOT / "derivations" / "__init__.py")!r}
        assert all(r.ok for r in scratch.checks())
        """, tmp_path)


# ------------------------------------------------------------------------------ lazy subpackages

LAZY = ("checker", "derivations", "distances", "mc", "relu", "sweep")


def test_import_is_light_and_subpackages_are_attributes(tmp_path):
    proc = _run("""
        import sys
        import symtransfer
        heavy = [m for m in ("sympy", "matplotlib") if m in sys.modules]
        assert not heavy, heavy
        print(symtransfer.distances.kl(norm_s=1.0, norm_t=1.0, cos=0.5, sigma_s=0.2,
                                       sigma_t=0.2))
        """, tmp_path, PYTHONPATH=str(ROOT))
    # KL between equal-noise tasks: |beta_s - beta_t|^2 / (2 sigma^2) = (2 - 2 cos)/0.08
    assert float(proc.stdout) == pytest.approx(12.5)


def test_every_lazy_subpackage_resolves(tmp_path):
    proc = _run(f"""
        import types
        import symtransfer
        for name in {LAZY!r}:
            assert name in dir(symtransfer), name
            module = getattr(symtransfer, name)
            assert isinstance(module, types.ModuleType), name
            assert module.__name__ == "symtransfer." + name, module.__name__
        try:
            symtransfer.no_such_thing
        except AttributeError as error:
            print(error)
        """, tmp_path, PYTHONPATH=str(ROOT))
    assert "no attribute 'no_such_thing'" in proc.stdout
    assert st.relu.simulate_relu is importlib.import_module("symtransfer.relu").simulate_relu
    assert st.sweep.run_sweep is importlib.import_module("symtransfer.sweep").run_sweep
