"""The checker's input handling: injection refused without executing anything, clear errors
for misspelled methods, ambiguous names, bad options and slow expressions."""
from __future__ import annotations

import builtins
import time

import pytest
import sympy as sp

import symtransfer as st
from symtransfer import parsing
from symtransfer.checker import CheckTimeout


def _injections(sentinel) -> list[str]:
    touch = f"__import__('os').system('touch {sentinel}')"
    return [
        touch,
        f"1 + {touch}",
        "().__class__.__bases__[0].__subclasses__()",
        "theta.__class__",
        "sin.__globals__",
        "theta.func",
        "theta.subs(theta, 1)",
        "getattr(theta, 'func')",
        "lambda: 1",
        "lambda x: x",
        "(lambda: 1)()",
        "[x for x in (1, 2)]",
        "x if theta else 2",
        "import os",
        f"eval(\"{touch}\")",
        f"exec('{touch}')",
        "open('/etc/passwd')",
        "Symbol('x')",
        "theta; x",
        "x = 1",
        "{1: 2}",
        "x[0]",
        "x @ y",
        "1j*theta",
        "2**2**2**2**2**2",
        "10**10**10",
        "9**9**9**9",
        "(1 + theta)**(10**6)",
        "theta\n" + touch,
        "x" * (parsing.MAX_LENGTH + 1),
        "not theta",
        "theta and x",
    ]


def test_injections_are_refused_and_execute_nothing(tmp_path, monkeypatch):
    sentinel = tmp_path / "pwned"
    calls = []
    real_import = builtins.__import__

    def spy(name, *args, **kwargs):
        calls.append(name)
        return real_import(name, *args, **kwargs)

    for text in _injections(sentinel):
        monkeypatch.setattr(builtins, "__import__", spy)
        calls.clear()
        start = time.monotonic()
        for where in ("candidate", "reference"):
            with pytest.raises(ValueError):
                if where == "candidate":
                    st.check(text, "linear")
                else:
                    st.check("sin(theta)**2", text)
        monkeypatch.setattr(builtins, "__import__", real_import)
        assert "os" not in calls, text
        assert time.monotonic() - start < 5, text
        assert not sentinel.exists(), text


def test_expr_values_are_parsed_safely(tmp_path):
    sentinel = tmp_path / "pwned"
    with pytest.raises(ValueError):
        st.expr("linear", lam=f"__import__('os').system('touch {sentinel}')")
    assert not sentinel.exists()
    assert st.expr("linear", lam="1/10") == st.expr("linear", lam=sp.Rational(1, 10))
    assert st.expr("linear", lam="0.1") == st.expr("linear", lam=sp.Rational(1, 10))
    with pytest.raises(ValueError, match="lam must be a number"):
        st.expr("linear", lam="theta")


def test_latex_injection_is_a_parse_error(tmp_path):
    for text in (r"\input{/etc/passwd}", r"\frac{1}{2}\write18{touch x}", r"\__import__",
                 r"\def\x{1}", r"\csname x\endcsname"):
        with pytest.raises(ValueError):
            st.check(text, "linear")


@pytest.mark.parametrize("name,close", [("finetun", "finetune"), ("linaer", "linear"),
                                        ("scrach", "scratch"), ("Finetune", "finetune")])
def test_misspelled_method_names_raise_listing_the_methods(name, close):
    with pytest.raises(ValueError, match=f"did you mean '{close}'.*scratch, linear, finetune"):
        st.check("sin(theta)**2", name)
    with pytest.raises(ValueError, match="unknown method"):
        st.check(name, "linear")


@pytest.mark.parametrize("text", ["Gamma*2", "gamma_t", "lambda_0", "Theta", "SIGMA",
                                  "sigma_t**2", "mu_0", "lam_star"])
def test_ambiguous_identifiers_raise(text):
    with pytest.raises(ValueError, match="ambiguous identifier.*parameters are"):
        st.check(text, "linear")


def test_ambiguous_user_symbol_in_sympy_input():
    with pytest.raises(ValueError, match="ambiguous identifier 'gamma_t'"):
        st.check(sp.Symbol("gamma_t") + 1, "scratch")


def test_beta_is_an_ordinary_symbol_not_the_beta_function():
    result = st.check("beta*theta", "theta*beta")
    assert result.equal
    assert {s.name for s in result.candidate.free_symbols} == {"beta", "theta"}
    with pytest.raises(ValueError):
        st.check("beta(1, 2)", "linear")  # beta is a symbol: calling it is an error


@pytest.mark.parametrize("digits", [0, 10, 14, -3, 1001, 2.5, True, "50"])
def test_digits_out_of_range(digits):
    with pytest.raises(ValueError, match="digits"):
        st.check("sin(theta)**2", "linear", lam=0, digits=digits)


@pytest.mark.parametrize("samples", [0, -1, 1.5, None])
def test_samples_out_of_range(samples):
    with pytest.raises(ValueError, match="samples"):
        st.check("sin(theta)**2", "linear", lam=0, samples=samples)


def test_minimum_digits_still_discriminates():
    assert st.check("sin(theta)**2", "linear", lam=0, digits=15)
    assert not st.check("sin(theta)**2*(1 + 10**-12)", "linear", lam=0, digits=15)


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "1"])
def test_bad_timeout(timeout):
    with pytest.raises(ValueError, match="timeout"):
        st.check("sin(theta)**3", "linear", lam=0, timeout=timeout)


def test_time_limit_raises():
    with pytest.raises(CheckTimeout, match="time limit"):
        st.check("sin(theta)**3 + cos(theta)**5", "linear", lam=0, timeout=1e-4)
    assert issubclass(CheckTimeout, ValueError)


def test_domain_errors():
    with pytest.raises(ValueError, match="'x' is not a symbol of either expression"):
        st.check("sin(theta)**2", "linear", lam=0, domain={"x": (0, 1)})
    with pytest.raises(ValueError, match="lo < hi"):
        st.check("sin(theta)**2", "linear", lam=0, domain={"theta": (1, 0)})
    with pytest.raises(ValueError, match="pair"):
        st.check("sin(theta)**2", "linear", lam=0, domain={"theta": 1})
    with pytest.raises(TypeError, match="domain"):
        st.check("sin(theta)**2", "linear", lam=0, domain=[("theta", 0, 1)])
    with pytest.raises(ValueError, match="domain"):
        st.check("sin(theta)**2", "linear", lam=0,
                 domain={"theta": ("__import__('os').system('true')", 1)})
    with pytest.raises(ValueError, match="real numbers"):
        st.check("sin(theta)**2", "linear", lam=0, domain={"theta": (object(), 1)})
    assert st.check("sin(theta)**2", "linear", lam=0, domain={"theta": ("1/4", "pi/2")})
    # aliases and symbol keys are accepted
    assert st.check("1 - cos(theta)**2*(1 + 2*lam)/(1 + lam)**2", "linear",
                    domain={"lambda": (0, 1), sp.Symbol("theta"): (0, 1)})


def test_options_only_with_a_method_reference():
    with pytest.raises(ValueError, match="apply to a method name"):
        st.check("sin(theta)**2", "1 - cos(theta)**2", form="paper")


def test_conditions_and_empty_input_are_refused():
    for text in ("gamma < 1", "", "   "):
        with pytest.raises(ValueError):
            st.check(text, "linear")


def test_unknown_functions_are_refused():
    with pytest.raises(ValueError, match="unknown function 'f'"):
        st.check(sp.Function("f")(sp.Symbol("theta")), "linear")


def test_latex_detection_and_override():
    assert st.check(r"\sin^2\theta", "sin(theta)**2").equal
    assert st.check("$\\sin^2\\theta$", "sin(theta)**2").equal
    with pytest.raises(ValueError):
        st.check(r"\sin^2\theta", "sin(theta)**2", latex=False)
    assert st.check("theta^2", r"\theta^2", latex=None).equal


def test_two_symbols_with_one_name_collapse_and_reproduce():
    x_pos, x_plain = sp.Symbol("x", positive=True), sp.Symbol("x")
    result = st.check(x_pos ** 2 + 1, x_plain ** 2 + 2)
    assert not result
    assert list(result.point) == ["x"]
    value = st.evaluate("x**2 + 1", {"x": str(result.point["x"])})
    assert abs(value - result.candidate_value) < 1e-40


def test_evaluate_errors():
    with pytest.raises(ValueError, match="no value for gamma"):
        st.evaluate("gamma + theta", {"theta": "1"})
    with pytest.raises(TypeError, match="point"):
        st.evaluate("gamma", [1])
    assert abs(st.evaluate("scratch", {"gamma": "1/2", "sigma": "0"}) - sp.Rational(1, 2)) < 1e-45
