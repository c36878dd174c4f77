"""symtransfer.check over a battery of candidates with known verdicts (tests/check_battery.py).

Every verdict must be right, and every counterexample is recomputed here from the reported
point, independently of the checker's numeric screening: exact substitution and sympy's evalf
(for plain-text candidates also re-parsed with sympy itself), both values compared with the
reported ones and shown to differ by more than the checker's tolerance.
"""
from __future__ import annotations

import subprocess
import sys

import pytest
import sympy as sp

import symtransfer as st
from symtransfer.symbols import BY_NAME

from check_battery import CASES, Case

DIGITS = 50


def _run(case: Case):
    options = dict(case.options)
    return st.check(case.candidate, case.reference, **options)


def test_battery_is_large_and_varied():
    assert len(CASES) >= 60
    verdicts = {c.verdict for c in CASES}
    assert verdicts == {"equal", "different", "partial"}
    assert sum(isinstance(c.candidate, str) and "\\" in c.candidate for c in CASES) >= 8
    assert sum(isinstance(c.candidate, sp.Basic) for c in CASES) >= 6
    assert len({c.id for c in CASES}) == len(CASES)


def _independent(expression, point: dict):
    """Value at the point without the checker: sympy.sympify on trusted test text (our
    symbols by name), else the expression given; NaN where not a finite real number."""
    if isinstance(expression, str) and expression in ("scratch", "linear", "finetune"):
        raise AssertionError("method references are recomputed via st.expr")
    if isinstance(expression, str):
        names = {**BY_NAME, "lambda": BY_NAME["lam"], "L": BY_NAME["depth"]}
        names.update({n: sp.Symbol(n, real=True) for n in ("x", "y", "beta", "beta_t")})
        e = sp.sympify(expression.replace("lambda", "lam"), locals=names)
    else:
        e = expression
    subs = {sym: point[_api(sym)] for sym in e.free_symbols}
    return _value(e.xreplace(subs))


def _api(sym):
    inverse = {v: k for k, v in BY_NAME.items()}
    if sym in inverse:
        return inverse[sym]
    return {"lambda": "lam", "L": "depth"}.get(sym.name, sym.name)


def _value(e):
    v = sp.sympify(e).evalf(DIGITS)
    if v.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        return sp.nan
    re, im = v.as_real_imag()
    return re if abs(im) <= sp.Float(10) ** -DIGITS * abs(v) else sp.nan


def _reference_value(case: Case, point: dict):
    ref = case.reference
    if isinstance(ref, str) and ref in ("scratch", "linear", "finetune"):
        opts = {k: v for k, v in case.options.items() if k != "domain"}
        ref = st.expr(ref, **opts)
    elif isinstance(ref, str) and "\\" in ref:
        ref = st.check(ref, ref).reference
    return _independent(ref, point)


def _candidate_value(case: Case, result, point: dict):
    if isinstance(case.candidate, str) and "\\" in case.candidate:
        return _independent(result.candidate, point)  # LaTeX: parsed by sympy's parse_latex
    return _independent(case.candidate, point)


def _close(a, b) -> bool:
    if a is sp.nan or b is sp.nan:
        return a is sp.nan and b is sp.nan
    return abs(a - b) <= sp.Float(10) ** -(DIGITS - 5) * max(abs(a), abs(b), 1e-300)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_verdict(case: Case):
    result = _run(case)
    assert result.verdict == case.verdict, str(result)
    assert bool(result) is (case.verdict == "equal")
    if case.how is not None:
        assert result.how == case.how, str(result)
    if case.verdict == "equal":
        assert result.point is None
        assert ("symbolic" in str(result)) == (result.how == "symbolic")
        return
    # a counterexample that reproduces exactly
    assert result.how == "counterexample" and result.point
    assert all(isinstance(v, sp.Rational) for v in result.point.values())
    point = result.point
    a, b = _candidate_value(case, result, point), _reference_value(case, point)
    assert _close(a, result.candidate_value), (a, result.candidate_value)
    assert _close(b, result.reference_value), (b, result.reference_value)
    if a is not sp.nan and b is not sp.nan:
        assert abs(a - b) > sp.Float(10) ** -DIGITS * max(abs(a), abs(b))
    else:
        assert not (a is sp.nan and b is sp.nan)
    if case.where is not None:
        assert case.where(point), point
    if case.verdict == "partial":
        assert result.agree_region and case.region is None or case.region in result.agree_region
        assert "equal on part of the domain" in str(result)
    else:
        assert str(result).startswith("different")
    assert "recompute: python -c" in str(result)


@pytest.mark.parametrize("case_id", ["ridge-wrong-denominator", "latex-above-only"])
def test_recompute_command_reproduces_the_values(case_id):
    case = next(c for c in CASES if c.id == case_id)
    result = _run(case)
    code = result.command.split("python -c ", 1)[1]
    import shlex

    argv = shlex.split(f"python -c {code}")
    out = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()
    cand, ref = (sp.Float(v, DIGITS) if v != "nan" else sp.nan for v in out)
    assert _close(cand, sp.Float(result.candidate_value, DIGITS))
    assert _close(ref, sp.Float(result.reference_value, DIGITS))


def test_seed_changes_points_not_verdicts():
    case = next(c for c in CASES if c.id == "wrong-above-5")
    results = [st.check(case.candidate, case.reference, seed=k) for k in range(3)]
    assert all(r.verdict == "partial" and r.point["gamma"] > 5 for r in results)
    assert len({tuple(r.point.items()) for r in results}) == 3
    again = st.check(case.candidate, case.reference, seed=1)
    assert again.point == results[1].point
