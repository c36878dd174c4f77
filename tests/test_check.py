"""symtransfer.check: symbolic and numeric comparison of a user's expression with ours."""
from __future__ import annotations

import pytest
import sympy as sp

import symtransfer as st
from symtransfer.symbols import BY_NAME, NAMES, gamma, lam, sigma, theta

RIDGE = "1 - cos(theta)**2*(1 + 2*lam)/(1 + lam)**2"


def test_paper_ridge_formula_equals_linear_symbolically():
    result = st.check(RIDGE, "linear")
    assert bool(result) is True
    assert result.equal and result.how == "symbolic"
    assert "equal" in str(result)


def test_ridge_with_lambda_spelling():
    assert st.check("1 - cos(theta)**2*(1 + 2*lambda)/(1 + lambda)**2", "linear")


def test_wrong_ridge_candidate_is_refuted_with_a_point():
    wrong = "1 - cos(theta)**2*(1 + 2*lam)/(1 + lam)"
    result = st.check(wrong, "linear")
    assert not result
    assert result.how == "counterexample"
    assert result.point is not None and set(result.point) == {"theta", "lam"}
    a, b = result.candidate_value, result.reference_value
    assert a is not None and b is not None
    # re-evaluate both independently at the reported point
    subs = {BY_NAME[k]: v for k, v in result.point.items()}
    cand = sp.sympify(wrong, locals=NAMES).xreplace(subs).evalf(30)
    ref = (1 - sp.cos(theta) ** 2 * (1 + 2 * lam) / (1 + lam) ** 2).xreplace(subs).evalf(30)
    assert abs(cand - a) < 1e-25 and abs(ref - b) < 1e-25
    assert abs(cand - ref) > 1e-40 * max(abs(cand), abs(ref))
    assert str(result).startswith("different")


def test_candidate_as_explicit_sympy_expression():
    good = 1 - sp.cos(theta) ** 2 * (1 + 2 * lam) / (1 + lam) ** 2
    assert st.check(good, "linear").how == "symbolic"
    bad = 1 - sp.cos(theta) ** 2 * (1 + lam) / (1 + lam) ** 2
    assert not st.check(bad, "linear")
    # expression vs expression, both explicit
    assert st.check(sp.sin(theta) ** 2, 1 - sp.cos(theta) ** 2)
    assert not st.check(sp.sin(theta) ** 2, sp.cos(theta) ** 2)


def test_reference_expression_from_expr():
    ref = st.expr("linear", lam=0)
    assert st.check("sin(theta)**2", ref)
    # keyword options are forwarded to expr(), values included
    assert st.check("sin(theta)**2", "linear", lam=0).how == "symbolic"
    assert not st.check("sin(theta)**2", "linear", lam=1)


def test_tiny_difference_is_caught():
    base = 1 - sp.cos(theta) ** 2 * (1 + 2 * lam) / (1 + lam) ** 2
    assert not st.check(base + sp.Rational(1, 10**30), base)


@pytest.mark.parametrize("text", ["1 - cos(theta", "1 - ", "theta +* 2", "cos(theta))"])
def test_parse_errors_are_value_errors(text):
    with pytest.raises(ValueError, match="candidate"):
        st.check(text, "linear")
    with pytest.raises(ValueError, match="reference"):
        st.check("sin(theta)**2", text)


def test_paper_finetune_form_with_a_domain():
    below = "(1-gamma)*(2-2*cos(theta)) + sigma**2*gamma/(1-gamma)"
    # equal for gamma < 1 only: refuted on the default domain (gamma up to 3) ...
    full = st.check(below, "finetune", form="paper")
    assert not full and full.point["gamma"] > 1
    # ... and equal on gamma in (0.05, 0.95): proven branch by branch, the gamma >= 1 branch
    # lying outside the domain
    restricted = st.check(below, "finetune", form="paper", domain={"gamma": (0.05, 0.95)})
    assert restricted and restricted.how == "symbolic"
    # the exact form differs from the paper's once sigma > 0
    exact = st.check(below, "finetune", domain={"gamma": (0.05, 0.95), "sigma": (0.2, 1.0)})
    assert not exact


def test_paper_transferability():
    t = "(1-gamma)*(2*cos(theta)-1)"
    assert st.check(t, "finetune", form="paper", quantity="transferability",
                    domain={"gamma": (0.05, 0.95)})
    assert not st.check("(1-gamma)*(2*cos(theta)+1)", "finetune", form="paper",
                        quantity="transferability", domain={"gamma": (0.05, 0.95)})


def test_depth3_radicals_vs_positive_root():
    """The L = 3 Cardano form against the PositiveRoot form at fixed gamma."""
    ref = st.expr("finetune", depth=3, gamma=sp.Rational(3, 5))
    radicals = ref.doit()
    assert ref.has(sp.Function) and ref != radicals
    result = st.check(radicals, ref, samples=8)
    # PositiveRoot(3, ...).doit() is Cardano's formula, so the symbolic step proves it
    assert result and result.how == "symbolic"
    # and the numeric path does refute a different depth
    other = st.expr("finetune", depth=2, gamma=sp.Rational(3, 5)).doit()
    assert not st.check(other, ref, samples=8)


def test_depth3_radicals_with_symbolic_gamma_is_fast():
    """With gamma symbolic the old checker's simplify took ~45 s; now bounded."""
    import time

    ref = st.expr("finetune", depth=3)
    start = time.monotonic()
    result = st.check(ref.doit(), ref)
    assert result and time.monotonic() - start < 5


def test_depth3_radicals_vs_positive_root_value():
    # independent of check: evaluate both at a point
    ref = st.expr("finetune", depth=3)
    point = {gamma: sp.Rational(3, 5), theta: sp.Rational(11, 10), sigma: sp.Rational(1, 2)}
    a = ref.xreplace(point).evalf(40)
    b = ref.doit().xreplace(point).evalf(40)
    assert abs(a - b) < 1e-35
    assert abs(float(a) - st.risk("finetune", gamma=0.6, theta=1.1, sigma=0.5, depth=3)) < 1e-12


def test_check_rejects_unparseable_types():
    with pytest.raises(TypeError):
        st.check(object(), "linear")
