"""Reading a user's formula safely: plain text or LaTeX, in symtransfer's vocabulary.

Nothing here evaluates user text as Python. Plain text is first split into Python tokens and
only names, numbers and arithmetic/comparison operators are allowed through (no strings, no
attribute access, no dunder names, no keywords, no brackets other than parentheses); only then
does :func:`sympy.parsing.sympy_parser.parse_expr` build the expression, with a namespace that
holds nothing but the whitelisted functions and constants below (``__builtins__`` empty) and
with ``evaluate=False``. LaTeX goes through :func:`sympy.parsing.latex.parse_latex` (the ANTLR
backend; its runtime ``antlr4-python3-runtime`` 4.11 is a core dependency), which builds sympy
objects without Python evaluation at all.

Both front ends then pass the same checks (:func:`normalize`):

* every node must be of a whitelisted kind (arithmetic, the functions in :data:`FUNCTIONS`,
  piecewise definitions with comparisons, numbers, pi, E, I);
* numeric powers are bounded (``2**2**2**2**2**2`` is refused rather than computed) and so are
  the expression's size and integer exponents of symbols;
* symbols are matched *by name*: ``gamma, theta, sigma, lam`` (also ``lambda``), ``L`` (also
  ``depth``), ``gamma_s, sigma_s, mu, d, n`` become symtransfer's own symbols whatever
  assumptions the user's symbols carried; every other name becomes an ordinary real symbol
  (positive or nonnegative if the user's sympy symbol said so). A name that looks like a
  parameter but is not one (``Gamma``, ``gamma_t``, ``lambda_0``) is ambiguous and refused.

Conventions: ``^`` is a power, multiplication may be implicit (``2(1-gamma)``, ``2 gamma``),
decimals are exact (``0.1`` is 1/10), ``e``/``E`` is Euler's number and ``i``/``I`` the
imaginary unit, in text and LaTeX alike.
"""
from __future__ import annotations

import io
import keyword
import re
import tokenize
import warnings
from typing import Any

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.utilities.exceptions import SymPyDeprecationWarning
from sympy.logic.boolalg import Boolean, BooleanAtom
from sympy.parsing.sympy_parser import (
    auto_number, auto_symbol, convert_xor, factorial_notation, function_exponentiation,
    implicit_application, implicit_multiplication, lambda_notation, parse_expr, rationalize,
    repeated_decimals,
)

from .formulas import PositiveRoot
from .symbols import BY_NAME

#: longest text accepted (characters).
MAX_LENGTH = 4000
#: most nodes an expression may have.
MAX_NODES = 5000
#: largest |exponent * log10|base|| of a numeric power (a number of at most ~1000 digits).
MAX_POWER_DIGITS = 1000
#: largest integer exponent of a non-numeric base (expanding (1 + x)**N costs ~N terms).
MAX_SYMBOLIC_EXPONENT = 1000

#: function names usable in text (and the LaTeX parser's names for them) -> sympy functions.
FUNCTIONS: dict[str, Any] = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "cot": sp.cot, "sec": sp.sec, "csc": sp.csc,
    "asin": sp.asin, "acos": sp.acos, "atan": sp.atan, "acot": sp.acot, "atan2": sp.atan2,
    "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "asinh": sp.asinh, "acosh": sp.acosh,
    "atanh": sp.atanh, "exp": sp.exp, "log": sp.log, "ln": sp.log, "sqrt": sp.sqrt,
    "cbrt": sp.cbrt, "root": sp.root, "Abs": sp.Abs, "abs": sp.Abs, "sign": sp.sign,
    "Min": sp.Min, "Max": sp.Max, "min": sp.Min, "max": sp.Max, "re": sp.re, "im": sp.im,
    "floor": sp.floor, "ceiling": sp.ceiling, "Heaviside": sp.Heaviside,
    "Piecewise": sp.Piecewise, "PositiveRoot": PositiveRoot,
    "And": sp.And, "Or": sp.Or, "Not": sp.Not,
}
#: constants usable in text.
CONSTANTS: dict[str, Any] = {"pi": sp.pi, "E": sp.E, "e": sp.E, "I": sp.I, "i": sp.I,
                             "oo": sp.oo, "inf": sp.oo, "True": sp.true, "False": sp.false}
#: canonical parameter name for every spelling accepted.
ALIASES: dict[str, str] = {name: name for name in BY_NAME}
ALIASES.update({"lambda": "lam", "L": "depth", "λ": "lam", "γ": "gamma", "θ": "theta",
                "σ": "sigma", "μ": "mu"})
_PARAMETER_BASES = {"gamma", "theta", "sigma", "lam", "lambda", "mu", "depth"}

_OPERATORS = {"+", "-", "*", "/", "**", "^", "(", ")", ",", "<", ">", "<=", ">=", "==", "!=",
              "&", "|", "~"}
_TRANSFORMS = (auto_symbol, repeated_decimals, auto_number, rationalize, factorial_notation,
               convert_xor, implicit_multiplication, implicit_application,
               function_exponentiation)
# sympy's standard_transformations include lambda_notation; ours never produce a lambda
assert lambda_notation not in _TRANSFORMS

_ALLOWED_NODES = (sp.Symbol, sp.Number, sp.NumberSymbol, sp.core.numbers.ImaginaryUnit,
                  sp.Add, sp.Mul, sp.Pow, sp.Piecewise, sp.functions.elementary.piecewise.ExprCondPair,
                  sp.core.relational.Relational, sp.And, sp.Or, sp.Not, BooleanAtom,
                  sp.core.numbers.NaN, sp.core.numbers.ComplexInfinity,
                  sp.core.numbers.Infinity, sp.core.numbers.NegativeInfinity)
_ALLOWED_FUNCTIONS = tuple({f for f in FUNCTIONS.values() if isinstance(f, type)}) + (
    sp.Min, sp.Max, sp.exp, sp.log)


class ParseError(ValueError):
    """A formula could not be read (or was refused); the message says why and where."""


def is_latex(text: str) -> bool:
    """LaTeX is recognized by a backslash or by ``$...$`` delimiters."""
    return "\\" in text or "$" in text


def parse(item: Any, *, what: str = "expression", latex: bool | None = None) -> sp.Expr:
    """A sympy expression from user input, checked and in symtransfer's symbols.

    ``item`` is a string (plain text, or LaTeX when ``latex`` is True or, with ``latex=None``,
    when :func:`is_latex` says so), a sympy object, or a Python/numpy number. Raises
    :class:`ParseError` (a ValueError) naming ``what`` when the input cannot be read or is
    refused, TypeError for other types.
    """
    if isinstance(item, str):
        if len(item) > MAX_LENGTH:
            raise ParseError(f"{what} is too long ({len(item)} characters; at most "
                             f"{MAX_LENGTH})")
        if not item.strip():
            raise ParseError(f"{what} is empty")
        use_latex = is_latex(item) if latex is None else bool(latex)
        raw = _parse_latex(item, what) if use_latex else _parse_text(item, what)
        return normalize(raw, what=what, from_text=True)
    if isinstance(item, bool):
        raise TypeError(f"{what} must be an expression, got a bool")
    if isinstance(item, sp.Basic):
        return normalize(item, what=what)
    if isinstance(item, (int, float)) or type(item).__module__ == "numpy":
        try:
            value = sp.sympify(item.item() if hasattr(item, "item") else item)
        except (sp.SympifyError, TypeError, ValueError):
            value = None
        if isinstance(value, sp.Number):
            return value
    raise TypeError(f"{what} must be a sympy expression, a string, or a method name, "
                    f"got {type(item).__name__}")


def _tokens(text: str, what: str) -> list[tokenize.TokenInfo]:
    """Python tokens of ``text``, refusing anything but names, numbers and operators."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError) as error:
        raise ParseError(f"{what} could not be parsed: {text!r} ({error})") from None
    for tok in tokens:
        if tok.type in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT,
                        tokenize.DEDENT):
            continue
        if tok.type == tokenize.NAME:
            if tok.string.startswith("_") or "__" in tok.string:
                raise ParseError(f"{what}: the name {tok.string!r} is not allowed "
                                 "(no underscore-prefixed or dunder names)")
            if keyword.iskeyword(tok.string) and tok.string not in ("lambda", "True", "False"):
                raise ParseError(f"{what}: the Python keyword {tok.string!r} is not allowed "
                                 "in a formula")
            continue
        if tok.type == tokenize.NUMBER:
            if tok.string[-1] in "jJ":
                raise ParseError(f"{what}: complex literal {tok.string!r}; write I for the "
                                 "imaginary unit")
            if len(tok.string) > 200:
                raise ParseError(f"{what}: the number {tok.string[:20]}... is too long")
            continue
        if tok.type == tokenize.OP and tok.string in _OPERATORS:
            continue
        shown = tok.string if tok.string.strip() else repr(tok.string)
        raise ParseError(f"{what}: {shown!r} is not allowed in a formula (only names, numbers, "
                         "+ - * / ** ^ ( ) , and comparisons; no strings, attributes, "
                         "indexing or lambdas)")
    return tokens


def _parse_text(text: str, what: str) -> sp.Basic:
    tokens = _tokens(text, what)
    if any(t.type == tokenize.NAME and t.string == "lambda" for t in tokens):
        # 'lambda' is the ridge penalty; the token check refused ':' so no lambda can remain
        text = re.sub(r"\blambda\b", "lam", text)
    names = {t.string for t in tokens if t.type == tokenize.NAME}
    local = {name: sp.Symbol(name) for name in names
             if name not in FUNCTIONS and name not in CONSTANTS}
    if "lambda" in names:
        local["lam"] = sp.Symbol("lam")
    namespace = {"__builtins__": {}, **_CONSTRUCTORS, "factorial": _no_factorial,
                 **FUNCTIONS, **CONSTANTS}
    try:
        with warnings.catch_warnings():  # e.g. beta(1, 2) -> beta*(1, 2): an error, not a warning
            warnings.simplefilter("error", SymPyDeprecationWarning)
            return parse_expr(text, local_dict=local, global_dict=namespace,
                              transformations=_TRANSFORMS, evaluate=False)
    except ParseError:
        raise
    except (SymPyDeprecationWarning, SyntaxError, TypeError, ValueError, AttributeError, IndexError, KeyError,
            sp.SympifyError, tokenize.TokenError, RecursionError) as error:
        raise ParseError(f"{what} could not be parsed: {text!r} ({type(error).__name__}: "
                         f"{error})") from None


# what parse_expr's generated code calls (with evaluate=False it spells out every operation)
_CONSTRUCTORS = {c.__name__: c for c in (
    sp.Symbol, sp.Integer, sp.Float, sp.Rational, sp.Add, sp.Mul, sp.Pow, sp.Lt, sp.Le, sp.Gt,
    sp.Ge, sp.Eq, sp.Ne)}
_CONSTRUCTORS.update({"Lt": sp.Lt, "Le": sp.Le, "Gt": sp.Gt, "Ge": sp.Ge, "Eq": sp.Eq,
                      "Ne": sp.Ne})


def _no_factorial(*_args):
    raise ParseError("factorials are not supported in formulas")


_LATEX_FUNCS = "sin|cos|tan|cot|sec|csc|arcsin|arccos|arctan|sinh|cosh|tanh|ln|log|exp"
# \cos^2\theta\frac{..}{..}: the parser would take everything after \cos as its argument; a
# single-atom argument written without parentheses is wrapped in them.
_BARE_ARGUMENT = re.compile(
    r"\\(" + _LATEX_FUNCS + r")\s*(\^\s*(?:\{[^{}]*\}|[0-9A-Za-z]))?\s*"
    r"(\\[A-Za-z]+|[A-Za-z0-9])(?![A-Za-z0-9_^{])")


def _latex_source(text: str) -> str:
    """Preprocess LaTeX: strip math delimiters, spacing and roman markup of single letters."""
    s = text.strip()
    s = re.sub(r"^\$+|\$+$", "", s).strip()
    if "$" in s:
        raise ParseError("LaTeX must be one formula (one pair of $...$)")
    s = re.sub(r"\\(displaystyle|textstyle|!|,|;|:|quad|qquad)(?![A-Za-z])", " ", s)
    s = re.sub(r"\\(mathrm|operatorname|text|mathit|mathsf)\{([A-Za-z])\}", r"\2", s)
    s = re.sub(r"\\(mathrm|operatorname|text|mathit|mathsf)\{([A-Za-z]+)\}", r"\\\2", s)
    s = re.sub(r"\\[lr]vert|\\[lr]Vert|\\mid", "|", s)
    s = s.replace(r"\cdot", "*").replace(r"\times", "*")
    s = re.sub(r"\\(left|right|big|Big|bigg|Bigg)(?![A-Za-z])", "", s)
    s = re.sub(r"\\(t|d)frac", r"\\frac", s)
    s = re.sub(r"\\(arccos|arcsin|arctan)", r"\\\1", s)
    return _BARE_ARGUMENT.sub(lambda m: f"\\{m.group(1)}{m.group(2) or ''}({m.group(3)})", s)


_GREEK = ("alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda "
          "mu nu xi pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega")
#: LaTeX commands accepted (after preprocessing); any other command is refused, not guessed.
LATEX_COMMANDS = frozenset(
    _GREEK.split() + [w.capitalize() for w in _GREEK.split() if not w.startswith("var")]
    + _LATEX_FUNCS.split("|") + "frac sqrt cdot times le leq ge geq lt gt neq max min".split())


def _check_latex_commands(source: str, what: str) -> None:
    for command in re.findall(r"\\([A-Za-z]+)", source):
        if command not in LATEX_COMMANDS:
            raise ParseError(f"{what}: unknown LaTeX command \\{command}; known commands are "
                             "Greek letters, \\frac, \\sqrt, \\cdot, \\left/\\right "
                             "and the elementary functions")
    if "_" in re.sub(r"[A-Za-z}]_", "", source):
        raise ParseError(f"{what}: a subscript must follow a name")


def _parse_latex(text: str, what: str) -> sp.Basic:
    source = _latex_source(text)
    _check_latex_commands(source, what)
    try:
        from sympy.parsing.latex import parse_latex
    except ImportError as error:  # pragma: no cover - the runtime is a core dependency
        raise ParseError(f"reading LaTeX needs antlr4-python3-runtime 4.11 ({error})") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return parse_latex(source, backend="antlr")
    except ImportError as error:  # pragma: no cover
        raise ParseError(f"reading LaTeX needs antlr4-python3-runtime 4.11 ({error})") from None
    except Exception as error:  # the LaTeX parser raises its own LaTeXParsingError
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ParseError(f"{what} could not be parsed as LaTeX: {text!r} ({message})") from None


def canonical_symbol_name(name: str) -> str:
    """``gamma_{s}`` -> ``gamma_s``, ``\\lambda`` -> ``lambda``: LaTeX markup off a name."""
    return re.sub(r"[{}\\\s]", "", name)


def parameter_name(name: str, what: str = "expression") -> str | None:
    """The API parameter a symbol name denotes, None for an ordinary symbol.

    Raises ParseError for names that look like a parameter but are not one.
    """
    name = canonical_symbol_name(name)
    if name in ALIASES:
        return ALIASES[name]
    base = name.split("_")[0]
    if name.lower() in ALIASES or base in _PARAMETER_BASES or base.lower() in _PARAMETER_BASES:
        valid = ", ".join(sorted(set(ALIASES) - {"λ", "γ", "θ", "σ", "μ"}))
        raise ParseError(f"{what}: ambiguous identifier {name!r}: it looks like a parameter "
                         f"but is not one; parameters are {valid} (rename your own symbols, "
                         "e.g. x or beta_t)")
    return None


def _user_symbol(sym: sp.Symbol, what: str) -> sp.Symbol:
    name = canonical_symbol_name(sym.name)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise ParseError(f"{what}: symbol name {sym.name!r} is not an identifier")
    if sym.is_positive:
        return sp.Symbol(name, positive=True)
    if sym.is_nonnegative:
        return sp.Symbol(name, nonnegative=True)
    return sp.Symbol(name, real=True)


def _symbol_map(expr: sp.Basic, what: str, from_text: bool) -> dict:
    mapping: dict = {}
    for sym in expr.free_symbols:
        if not isinstance(sym, sp.Symbol):
            raise ParseError(f"{what}: unsupported free object {sym!r}")
        name = canonical_symbol_name(sym.name)
        if from_text and name in ("e", "i"):  # LaTeX parses these as symbols
            mapping[sym] = sp.E if name == "e" else sp.I
            continue
        param = parameter_name(name, what)
        mapping[sym] = BY_NAME[param] if param else _user_symbol(sym, what)
    return mapping


def normalize(expr: sp.Basic, *, what: str = "expression", from_text: bool = False) -> sp.Expr:
    """Validate ``expr`` node by node, rebuild it with bounded evaluation, and put it in
    symtransfer's symbols (see the module docstring)."""
    count = 0
    for node in sp.preorder_traversal(expr):
        count += 1
        if count > MAX_NODES:
            raise ParseError(f"{what} is too large (more than {MAX_NODES} nodes)")
        _check_node(node, what, from_text)
    try:
        rebuilt = _rebuild(expr, what)
    except RecursionError:
        raise ParseError(f"{what} is nested too deeply") from None
    mapping = _symbol_map(rebuilt, what, from_text)
    out = rebuilt.xreplace(mapping) if mapping else rebuilt
    if isinstance(out, Boolean) and not isinstance(out, sp.Expr):
        raise ParseError(f"{what} is a condition ({out}), not an expression")
    return out


def _check_node(node: sp.Basic, what: str, from_text: bool) -> None:
    if isinstance(node, AppliedUndef):
        name = type(node).__name__
        if from_text and name in FUNCTIONS:
            return
        raise ParseError(f"{what}: unknown function {name!r}; known functions are "
                         f"{', '.join(sorted(FUNCTIONS))}")
    if isinstance(node, _ALLOWED_NODES) or isinstance(node, _ALLOWED_FUNCTIONS):
        return
    if not from_text and isinstance(node, (sp.Function, sp.Tuple)):
        return  # a user's own sympy object with an evaluable function: numerics will tell
    raise ParseError(f"{what}: {type(node).__name__} is not supported in a formula "
                     "(arithmetic, elementary functions and Piecewise only)")


def _rebuild(node: sp.Basic, what: str) -> sp.Basic:
    """Evaluate the (unevaluated) tree bottom-up, refusing powers too large to compute."""
    if not node.args or isinstance(node, (sp.Symbol, sp.Number)):
        return node
    args = [_rebuild(arg, what) for arg in node.args]
    if isinstance(node, sp.Pow):
        _check_power(args[0], args[1], what)
    func = node.func
    if isinstance(node, AppliedUndef) and type(node).__name__ in FUNCTIONS:
        func = FUNCTIONS[type(node).__name__]
    try:
        return func(*args)
    except (TypeError, ValueError) as error:
        raise ParseError(f"{what}: {type(node).__name__} {error}") from None


def _check_power(base: sp.Basic, exponent: sp.Basic, what: str) -> None:
    if not exponent.is_number:
        return
    try:
        e = abs(sp.Float(sp.N(exponent, 15)))
    except (TypeError, ValueError):
        return
    if base.is_number:
        try:
            b = abs(sp.N(base, 15))
        except (TypeError, ValueError):
            return
        if b in (0, 1) or not b.is_finite:
            return
        if e * abs(sp.log(b, 10)) > MAX_POWER_DIGITS:
            raise ParseError(f"{what}: the power {base}**{exponent} is too large to evaluate "
                             f"(more than {MAX_POWER_DIGITS} digits)")
    elif e > MAX_SYMBOLIC_EXPONENT and exponent.is_integer:
        raise ParseError(f"{what}: integer exponent {exponent} of a symbolic base is too large "
                         f"(at most {MAX_SYMBOLIC_EXPONENT})")


def parse_number(value: Any, what: str) -> sp.Expr:
    """A parameter value for substitution: a number, or text such as '1/3', '0.1', 'pi/4'
    parsed exactly and safely (no free symbols allowed)."""
    if isinstance(value, str):
        out = parse(value, what=what)
        if out.free_symbols:
            raise ParseError(f"{what} must be a number, got {value!r}")
        return out
    if isinstance(value, sp.Basic):
        return value
    return parse(value, what=what)
