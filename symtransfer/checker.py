"""Checking a user's derivation against symtransfer's expressions (or against another one).

:func:`check` answers "is my formula the same function as yours?" and says how it knows:

1. Both sides are read safely (:mod:`symtransfer.parsing`: text or LaTeX, symbols matched by
   name, whatever assumptions they carry).
2. Symbolic step, piecewise-aware: every comparison in either side's ``Piecewise`` conditions
   becomes an atom; for each feasible assignment of truth values the branches selected on both
   sides are compared by cancellation (and, within a time budget, by ``simplify`` and a
   rewrite in complex exponentials). All zero: ``equal (symbolic)``, a proof.
3. Numeric step: ``samples`` points drawn over each parameter's whole domain
   (:mod:`symtransfer.domains`), both sides evaluated with mpmath at ``digits + 20`` digits.
   They agree at a point when their relative difference is below ``10**-digits``; an apparent
   disagreement is re-evaluated at twice the precision and counts only if it is stable (a
   cancellation residue shrinks with the precision, a real difference does not). An imaginary
   part below ``10**-digits`` of the modulus is a rounding residue of a complex intermediate
   form and is dropped. A side is *undefined* at a point where it is not a finite real number.
4. Verdict. ``equal (numeric, N points, D digits)``: agreement everywhere sampled, evidence and
   not proof. ``different``: a counterexample that reproduces exactly (exact rational point
   keyed by parameter name, both values recomputed by sympy's evalf, a one-line command).
   ``equal on part of the domain``: agreement on a region (a branch region of the Piecewise
   conditions, or a threshold in one variable found from the samples) and disagreement, or
   an undefined reference, elsewhere; the region is named.

Power of the numeric step: a candidate that differs from the reference on a set of
parameter values of probability p under the sampling law is missed with probability
``(1 - p)**N``; every stratum (scales of gamma from 1e-4 to 1e4, both sides of gamma = 1 down
to 1e-6, zero noise, large depth) holds about N/3 of the points.
"""
from __future__ import annotations

import difflib
import itertools
import json
import math
import random
import re
import shlex
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import mpmath
import sympy as sp
from sympy.core.relational import Relational

from . import domains
from . import validation as V
from ._roots import MPMATH as _ROOTS
from .formulas import PositiveRoot
from .parsing import ALIASES, ParseError, parameter_name, parse
from .symbols import BY_NAME

#: symbol -> API name for symtransfer's own symbols.
API_NAME = {sym: name for name, sym in BY_NAME.items()}
MIN_DIGITS, MAX_DIGITS = 15, 1000
_GUARD = 20  # extra working digits of the numeric step
_MAX_ATOMS = 8  # Piecewise conditions enumerated branch by branch at most


class CheckTimeout(ValueError):
    """The check could not be completed within its time limit."""


class _Alarm(Exception):
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (SIGALRM; main thread on POSIX only, elsewhere
    the limit is checked between steps)."""
    if seconds <= 0:
        raise _Alarm
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal,
                                                                                 "setitimer"):
        yield
        return

    def handler(signum, frame):  # noqa: ARG001
        raise _Alarm

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ----------------------------------------------------------------------------- results


@dataclass
class Region:
    """A part of the domain and what the check found there."""

    description: str
    status: str  # 'equal', 'different', 'reference undefined', 'equal where defined'
    points: int
    how: str = "numeric"  # 'symbolic' when the branches there were proven equal

    def __str__(self) -> str:
        how = " (symbolic)" if self.how == "symbolic" and self.status == "equal" else ""
        return f"{self.description}: {self.status}{how}, {self.points} points"


@dataclass
class CheckResult:
    """Outcome of :func:`check`. Truthy only when the expressions are equal on the whole
    domain.

    verdict : 'equal', 'different' or 'partial' (equal on part of the domain).
    how : 'symbolic' (proof), 'numeric' (agreement at every sampled point: evidence, not
        proof) or 'counterexample'.
    point : on disagreement, the counterexample as exact rationals keyed by parameter name
        (``gamma, theta, sigma, lam, depth, gamma_s, sigma_s, mu, d, n``; other symbols by
        their own names); ``candidate_value`` and ``reference_value`` are both sides there
        (sympy evalf at ``digits``; NaN where a side is undefined) and ``command`` is a
        shell line that recomputes them.
    agree_region : for 'partial', the region where the two agree; ``regions`` lists every
        region found with its status.
    """

    verdict: str
    how: str
    points_tested: int = 0
    digits: int = 50
    point: dict[str, sp.Expr] | None = None
    candidate_value: Any = None
    reference_value: Any = None
    command: str | None = None
    agree_region: str | None = None
    regions: list[Region] = field(default_factory=list)
    candidate: sp.Expr | None = field(default=None, repr=False)
    reference: sp.Expr | None = field(default=None, repr=False)

    @property
    def equal(self) -> bool:
        return self.verdict == "equal"

    @property
    def partial(self) -> bool:
        return self.verdict == "partial"

    @property
    def difference(self) -> sp.Expr | None:
        if self.candidate is None or self.reference is None:
            return None
        return sp.Integer(0) if self.how == "symbolic" and self.equal else \
            self.candidate - self.reference

    def __bool__(self) -> bool:
        return self.equal

    def _point_text(self) -> str:
        return ", ".join(f"{k}={v}" + ("" if v.is_Integer else f" (~{_short(v)})")
                         for k, v in (self.point or {}).items())

    def __str__(self) -> str:
        if self.equal:
            if self.how == "symbolic":
                return "equal (symbolic)"
            return (f"equal (numeric, {self.points_tested} points, {self.digits} digits; "
                    "evidence not proof)")
        lines = []
        if self.partial:
            lines.append(f"equal on part of the domain: equal where {self.agree_region}")
            lines += [f"  {region}" for region in self.regions]
        else:
            lines.append("different")
        if self.point is not None:
            lines.append(f"  counterexample: {self._point_text()}")
            lines.append(f"  candidate = {_show(self.candidate_value)}, "
                         f"reference = {_show(self.reference_value)}")
        if self.command:
            lines.append(f"  recompute: {self.command}")
        return "\n".join(lines)


def _show(value: Any) -> str:
    if value is None or value is sp.nan:
        return "undefined (not a finite real number)"
    return sp.sstr(value, full_prec=False) if isinstance(value, sp.Basic) else str(value)


# ----------------------------------------------------------------------------- inputs


def _reference_text_error(text: str, what: str) -> None:
    """A bare identifier close to a method name is taken for a misspelled method name."""
    from .methods import names

    METHODS = names()
    if not re.fullmatch(r"[A-Za-z_]\w*", text.strip()) or text.strip() in ALIASES:
        return
    close = difflib.get_close_matches(text.strip(), METHODS, n=1, cutoff=0.6)
    if close:
        raise ValueError(f"{what}: unknown method {text.strip()!r} (did you mean "
                         f"{close[0]!r}?); methods are {', '.join(METHODS)}, or give an "
                         "expression")


def read(item: Any, what: str, latex: bool | None = None, **options: Any) -> sp.Expr:
    """A side of a comparison: a method name (with :func:`symtransfer.expr` options), a
    string (text or LaTeX) or a sympy expression, in symtransfer's symbols."""
    from .methods import names
    from .symbolic import expr

    if isinstance(item, str) and item.strip() in names():
        return expr(item.strip(), **options)
    if options:
        raise ValueError(f"{what}: the options {sorted(options)} apply to a method name "
                         "only (e.g. reference='finetune', form='paper')")
    if isinstance(item, str):
        _reference_text_error(item, what)
    return parse(item, what=what, latex=latex)


def _unify_symbols(a: sp.Expr, b: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """One symbol per name across both sides (the weakest assumptions win)."""
    by_name: dict[str, list[sp.Symbol]] = {}
    for sym in a.free_symbols | b.free_symbols:
        by_name.setdefault(sym.name, []).append(sym)
    mapping = {}
    for name, syms in by_name.items():
        if len(syms) < 2:
            continue
        if any(s in API_NAME for s in syms):
            target = next(s for s in syms if s in API_NAME)
        elif all(s.is_positive for s in syms):
            target = syms[0]
        elif all(s.is_nonnegative for s in syms):
            target = sp.Symbol(name, nonnegative=True)
        else:
            target = sp.Symbol(name, real=True)
        mapping.update({s: target for s in syms if s != target})
    return (a.xreplace(mapping), b.xreplace(mapping)) if mapping else (a, b)


def _name(sym: sp.Symbol) -> str:
    return API_NAME.get(sym, sym.name)


def _validate(samples: Any, digits: Any, seed: Any, timeout: Any) -> tuple[int, int, int, float]:
    samples = V.integer("samples", samples, minimum=1)
    if samples > 100_000:
        raise ValueError(f"samples must be at most 100000, got {samples}")
    digits = V.integer("digits", digits, minimum=MIN_DIGITS)
    if digits > MAX_DIGITS:
        raise ValueError(f"digits must be at most {MAX_DIGITS}, got {digits}")
    seed = V.integer("seed", seed, minimum=0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or \
            not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return samples, digits, seed, float(timeout)


def _bound(value: Any, key: str) -> sp.Expr:
    """A domain end: a number, sympy number or safely parsed text ('1/2', 'oo')."""
    from .parsing import parse_number

    if isinstance(value, float) and math.isinf(value):
        return sp.oo if value > 0 else -sp.oo
    try:
        out = parse_number(value, f"domain of {key!r}")
    except TypeError:
        raise ValueError(f"domain of {key!r} must be a pair of real numbers, got "
                         f"{value!r}") from None
    if not (out.is_real or out in (sp.oo, -sp.oo)):
        raise ValueError(f"domain of {key!r} must be a pair of real numbers, got {value!r}")
    return out


def _domain(domain: dict | None, symbols: list[sp.Symbol]) -> dict[str, tuple]:
    """User domains keyed by our names (symbol keys and aliases such as 'lambda' accepted)."""
    if domain is None:
        return {}
    if not isinstance(domain, dict):
        raise TypeError(f"domain must be a dict of name -> (lo, hi), got "
                        f"{type(domain).__name__}")
    names = {_name(s) for s in symbols}
    out = {}
    for key, bounds in domain.items():
        if isinstance(key, sp.Symbol):
            key = _name(key) if key in API_NAME else key.name
        if not isinstance(key, str):
            raise TypeError(f"domain keys must be names or symbols, got {key!r}")
        name = ALIASES.get(key, key)
        if name not in names:
            raise ValueError(f"domain: {key!r} is not a symbol of either expression; they "
                             f"have {', '.join(sorted(names)) or 'no symbols'}")
        if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
            raise ValueError(f"domain of {key!r} must be a pair (lo, hi), got {bounds!r}")
        lo, hi = (_bound(b, key) for b in bounds)
        out[name] = (lo, hi)
    return out


# ----------------------------------------------------------------------------- symbolic


def _canonical(rel: Relational) -> tuple[Relational, bool]:
    """(atom, sign): ``rel`` is ``atom`` (sign True) or its negation (sign False)."""
    c = rel.canonical
    n = c.negated.canonical
    return (c, True) if sp.default_sort_key(c) <= sp.default_sort_key(n) else (n, False)


def _atoms(*exprs: sp.Expr) -> list[Relational]:
    found = set()
    for e in exprs:
        for rel in e.atoms(Relational):
            found.add(_canonical(rel)[0])
    return sorted(found, key=sp.default_sort_key)


def _assign(exprs: tuple[sp.Expr, ...], values: dict[Relational, bool]) -> list[sp.Expr]:
    """Each expression with every comparison replaced by its truth value."""
    out = []
    for e in exprs:
        subs = {}
        for rel in e.atoms(Relational):
            atom, sign = _canonical(rel)
            subs[rel] = sp.true if values[atom] == sign else sp.false
        out.append(e.xreplace(subs))
    return out


def _base_set(sym: sp.Symbol) -> sp.Set:
    name = _name(sym)
    if name == "theta":
        return sp.Interval(0, sp.pi)
    if name in ("depth",):
        return sp.Interval(2, sp.oo)
    if sym.is_positive:
        return sp.Interval.open(0, sp.oo)
    if sym.is_nonnegative:
        return sp.Interval(0, sp.oo)
    return sp.Reals


def _interval_of(atom: Relational, truth: bool) -> tuple[sp.Symbol, sp.Set] | None:
    syms = atom.free_symbols
    if len(syms) != 1:
        return None
    (sym,) = syms
    try:
        s = atom.as_set() if truth else atom.negated.as_set()
    except (NotImplementedError, TypeError, ValueError):
        return None
    return sym, s


def _region_sets(values: dict[Relational, bool], bounds: dict | None = None
                 ) -> tuple[dict, list[str]]:
    """Per-symbol sets implied by the single-variable atoms (within ``bounds``, the user's
    domain by symbol), and the other literals."""
    bounds = bounds or {}
    sets: dict[sp.Symbol, sp.Set] = {}
    others = []
    for atom, truth in values.items():
        found = _interval_of(atom, truth)
        if found is None:
            others.append(str(atom if truth else atom.negated))
            continue
        sym, s = found
        base = _base_set(sym).intersect(bounds.get(sym, sp.Reals))
        sets[sym] = sets.get(sym, base).intersect(s)
    return sets, others


def _bounds(user_domain: dict, symbols: list[sp.Symbol]) -> dict:
    """The user's domain as open intervals by symbol (for the feasibility of branches)."""
    out = {}
    for sym in symbols:
        if _name(sym) in user_domain:
            lo, hi = user_domain[_name(sym)]
            out[sym] = sp.Interval.open(lo, hi)
    return out


def _describe_set(name: str, s: sp.Set) -> str:
    if isinstance(s, sp.Interval):
        parts = []
        if s.start.is_finite:
            parts.append(f"{s.start} {'<' if s.left_open else '<='} ")
        parts.append(name)
        if s.end.is_finite:
            parts.append(f" {'<' if s.right_open else '<='} {s.end}")
        return "".join(parts) if len(parts) > 1 else f"{name} any"
    if isinstance(s, sp.Union):
        return " or ".join(_describe_set(name, arg) for arg in s.args)
    return f"{name} in {s}"


def describe(values: dict[Relational, bool]) -> str:
    """Readable conjunction for a truth assignment of the atoms, e.g. 'gamma < 1'."""
    sets, others = _region_sets(values)
    parts = [_describe_set(_name(sym), s) for sym, s in
             sorted(sets.items(), key=lambda kv: _name(kv[0]))]
    text = " and ".join(parts + others)
    return text or "everywhere"


def _feasible(values: dict[Relational, bool], bounds: dict | None = None) -> bool:
    sets, _ = _region_sets(values, bounds)
    return all(s is not sp.EmptySet and s != sp.EmptySet for s in sets.values())


def _undefined(e: sp.Expr) -> bool:
    return e.has(sp.nan, sp.zoo, sp.oo, -sp.oo)


def _zero(diff: sp.Expr, heavy: bool) -> bool:
    """Is ``diff`` identically 0? Cancellation first; simplify and exp rewrites if heavy."""
    if diff == 0:
        return True
    if diff.has(sp.nan) or diff.has(sp.zoo):
        return False
    if diff.has(PositiveRoot):
        diff = diff.doit()
        if diff.has(PositiveRoot):
            return False
    if sp.expand(diff) == 0 or sp.cancel(sp.expand(diff)) == 0:
        return True
    if not heavy or sp.count_ops(diff) > 200:
        return False
    if sp.expand(sp.powsimp(sp.expand(diff.rewrite(sp.exp)))) == 0:
        return True
    return sp.simplify(diff) == 0


def _symbolic(cand: sp.Expr, ref: sp.Expr, deadline: float, heavy: bool,
              bounds: dict | None = None) -> dict[tuple, bool] | None:
    """Branch-by-branch symbolic comparison. Returns {assignment key: proven equal} over the
    feasible assignments (key () when there is no Piecewise), or None on timeout or when
    there are too many conditions."""
    atoms = _atoms(cand, ref)
    if len(atoms) > _MAX_ATOMS:
        return None
    out: dict[tuple, bool] = {}
    for key in itertools.product((True, False), repeat=len(atoms)):
        values = dict(zip(atoms, key))
        if atoms and not _feasible(values, bounds):
            continue
        a, b = _assign((cand, ref), values) if atoms else (cand, ref)
        single = {sym: next(iter(v)) for sym, v in _region_sets(values, bounds)[0].items()
                  if isinstance(v, sp.FiniteSet) and len(v) == 1} if atoms else {}
        if single:  # a region of one point (gamma = 1, say): compare the values there
            a, b = a.xreplace(single), b.xreplace(single)
            if _undefined(a) and _undefined(b):
                out[key] = True
                continue
        try:
            with _time_limit(deadline - time.monotonic()):
                out[key] = _zero(sp.piecewise_fold(a - b), heavy)
        except _Alarm:
            return None
        except (TypeError, ValueError, ZeroDivisionError, RecursionError, AttributeError,
                NotImplementedError):
            out[key] = False
    return out


# ----------------------------------------------------------------------------- numeric


def _compile(e: sp.Expr, symbols: list[sp.Symbol]):
    """mpmath function of ``symbols`` (printed from the validated tree, arguments dummified)."""
    return sp.lambdify(symbols, e, modules=[_ROOTS, "mpmath"], dummify=True)


def _evaluate(f, args: list, dps: int, digits: int):
    """A finite real mpf, or None where the value is not a finite real number."""
    with mpmath.workdps(dps):
        try:
            v = mpmath.mpmathify(f(*args))
        except (ZeroDivisionError, ValueError, OverflowError, TypeError, ArithmeticError):
            return None
        if isinstance(v, mpmath.mpc):
            if not (mpmath.isfinite(v.real) and mpmath.isfinite(v.imag)):
                return None
            if abs(v.imag) > mpmath.mpf(10) ** -digits * abs(v):
                return None
            v = v.real
        return v if mpmath.isfinite(v) else None


def _agree(a, b, digits: int) -> bool:
    if a == b:
        return True
    return abs(a - b) <= mpmath.mpf(10) ** -digits * max(abs(a), abs(b))


def _args(symbols: list[sp.Symbol], point: dict) -> list:
    """Exact rationals as mpf at the working precision (integers stay ints)."""
    return [int(point[s]) if point[s].is_Integer else mpmath.mpf(point[s].p) / point[s].q
            for s in symbols]


@dataclass
class _Point:
    values: dict  # symbol -> exact value
    key: tuple  # truth values of the atoms
    status: str  # 'agree', 'differ', 'ref undefined', 'cand undefined', 'none'


def _classify(fc, fr, symbols, point, digits) -> str:
    dps = digits + _GUARD
    with mpmath.workdps(dps):
        args = _args(symbols, point)
    a, b = _evaluate(fc, args, dps, digits), _evaluate(fr, args, dps, digits)
    if a is None and b is None:
        return "none"
    if b is None:
        return "ref undefined"
    if a is None:
        return "cand undefined"
    if _agree(a, b, digits):
        return "agree"
    # a real difference is stable under more precision; a cancellation residue is not
    dps2 = 2 * dps
    with mpmath.workdps(dps2):
        args2 = _args(symbols, point)
    a2, b2 = _evaluate(fc, args2, dps2, digits), _evaluate(fr, args2, dps2, digits)
    if a2 is None or b2 is None:
        return "ref undefined" if b2 is None and a2 is not None else "differ"
    with mpmath.workdps(dps2):
        if _agree(a2, b2, digits):
            return "agree"
        d1, d2 = a - b, a2 - b2
        if abs(d1 - d2) > abs(d2) / 100:  # unstable: cancellation in one side
            return "agree" if _agree(a2, b2, digits) else "differ"
    return "differ"


def _key(atoms: list[Relational], point: dict) -> tuple:
    key = []
    for atom in atoms:
        value = atom.xreplace(point)
        if value not in (sp.true, sp.false):
            try:
                value = sp.true if bool(value.evalf(30)) else sp.false
            except TypeError:
                value = sp.false
        key.append(value is sp.true)
    return tuple(key)


def _threshold(points: list[_Point], symbols: list[sp.Symbol]) -> tuple[str, str] | None:
    """A one-variable threshold separating agreeing from other points, if the samples show
    one (at least 3 points on each side, 3 distinct agreeing values): (agree, rest)
    descriptions."""
    good = [p for p in points if p.status == "agree"]
    bad = [p for p in points if p.status in ("differ", "cand undefined", "ref undefined")]
    if len(good) < 3 or len(bad) < 3:
        return None
    for sym in symbols:
        g = [p.values[sym] for p in good]
        if len(set(g)) < 3:  # agreement at one special value (sigma = 0, say) is no region
            continue
        b = [p.values[sym] for p in bad]
        name = _name(sym)
        if max(g) < min(b):
            between = f"(the change lies in ({_short(max(g))}, {_short(min(b))}), by sampling)"
            return f"{name} <= {_short(max(g))} {between}", f"{name} >= {_short(min(b))}"
        if min(g) > max(b):
            between = f"(the change lies in ({_short(max(b))}, {_short(min(g))}), by sampling)"
            return f"{name} >= {_short(min(g))} {between}", f"{name} <= {_short(max(b))}"
    return None


def _short(x: sp.Rational) -> str:
    return sp.sstr(sp.Float(x, 6), full_prec=False)


# ----------------------------------------------------------------------------- check


def check(candidate: Any, reference: Any, *, samples: int = 60, digits: int = 50,
          domain: dict | None = None, seed: int = 0, latex: bool | None = None,
          timeout: float = 20.0, **reference_options: Any) -> CheckResult:
    """Does ``candidate`` equal ``reference``, as functions of the parameters?

    candidate, reference : a sympy expression, a string (plain text such as
        ``"1 - cos(theta)^2 (1 + 2 lambda)/(1 + lambda)^2"`` or LaTeX such as
        ``r"1 - \\cos^2\\theta \\frac{1 + 2\\lambda}{(1+\\lambda)^2}"``; see
        :mod:`symtransfer.parsing`) or a method name (``'scratch'``, ``'linear'``,
        ``'finetune'``) with :func:`symtransfer.expr` options as keywords (``form``, ``depth``,
        ``source``, ``quantity``, ``finite_size`` and parameter values such as ``lam=0``).
    samples : number of sampled points of the numeric step (>= 1).
    digits : agreement required at each point, in significant digits (>= 15).
    domain : ``{name: (lo, hi)}`` restricting where parameters (or your own symbols) are
        sampled; by default each parameter's whole domain (:mod:`symtransfer.domains`).
    seed : the sampling stream; the same seed gives the same points.
    latex : True/False forces the LaTeX/text front end; None detects LaTeX (a backslash or $).
    timeout : seconds for the whole check; an expression that cannot be evaluated within it
        raises :class:`CheckTimeout` (a ValueError).

    Returns a :class:`CheckResult`; see the module docstring for what each verdict means.
    """
    start = time.monotonic()
    samples, digits, seed, timeout = _validate(samples, digits, seed, timeout)
    deadline = start + timeout
    cand = read(candidate, "candidate", latex)
    ref = read(reference, "reference", latex, **reference_options)
    cand, ref = _unify_symbols(sp.sympify(cand), sp.sympify(ref))
    symbols = sorted(cand.free_symbols | ref.free_symbols, key=_name)
    user_domain = _domain(domain, symbols)
    result = dict(digits=digits, candidate=cand, reference=ref)

    bounds = _bounds(user_domain, symbols)
    cheap = _symbolic(cand, ref, min(deadline, time.monotonic() + 0.5 * timeout), heavy=False,
                      bounds=bounds)
    if cheap is not None and cheap and all(cheap.values()):
        return CheckResult("equal", "symbolic", **result)

    atoms = _atoms(cand, ref)
    points = _sample_points(cand, ref, symbols, atoms, user_domain, samples, digits, seed,
                            deadline)
    tested = sum(p.status != "none" for p in points)
    if tested == 0:
        raise ValueError("neither expression evaluates to a finite real number at any sampled "
                         "point; give a domain")
    bad = [p for p in points if p.status not in ("agree", "none")]
    if not bad:
        budget = min(deadline, time.monotonic() + min(5.0, 0.25 * timeout))
        proof = _symbolic(cand, ref, budget, heavy=True, bounds=bounds)
        if proof is not None and proof and all(proof.values()):
            return CheckResult("equal", "symbolic", tested, **result)
        return CheckResult("equal", "numeric", tested, **result)

    regions = _regions(points, atoms, cheap, symbols)
    agreeing = [r for r in regions if r.status == "equal" and r.points >= 3]
    agree_region = " or ".join(r.description for r in agreeing) if agreeing else None
    verdict = "partial" if agree_region else "different"
    witness = next((p for p in bad if p.status in ("differ", "cand undefined")), bad[0])
    return CheckResult(verdict, "counterexample", tested, agree_region=agree_region,
                       regions=regions,
                       **_counterexample(candidate, reference, reference_options, latex, cand,
                                         ref, witness.values, digits), **result)


def _sample_points(cand, ref, symbols, atoms, user_domain, samples, digits, seed,
                   deadline) -> list[_Point]:
    rng = random.Random(seed)
    samplers = [domains.sampler_for(s, _name(s), user_domain) for s in symbols]
    fc, fr = _compile(cand, symbols), _compile(ref, symbols)
    # each symbol visits its strata in turn, in its own shuffled order: every stratum of
    # every parameter is covered, and the strata of different parameters are not paired
    orders = []
    for _ in symbols:
        order = list(range(samples))
        rng.shuffle(order)
        orders.append(order)
    points = []
    for k in range(samples):
        point = {s: sampler(rng, order[k])
                 for s, sampler, order in zip(symbols, samplers, orders)}
        try:
            with _time_limit(deadline - time.monotonic()):
                status = _classify(fc, fr, symbols, point, digits)
                key = _key(atoms, point) if atoms else ()
        except _Alarm:
            raise CheckTimeout("the expressions could not be evaluated within the time limit "
                               f"after {k} of {samples} points; raise timeout= or simplify "
                               "them") from None
        points.append(_Point(point, key, status))
    return points


def _status(members: list[_Point]) -> str | None:
    statuses = {p.status for p in members} - {"none"}
    if not statuses:
        return None
    if statuses <= {"agree"}:
        return "equal"
    if statuses <= {"ref undefined"}:
        return "reference undefined"
    if statuses <= {"agree", "ref undefined"}:
        return "equal where defined"
    return "different"


def _regions(points: list[_Point], atoms: list[Relational], proofs: dict[tuple, bool] | None,
             symbols: list[sp.Symbol]) -> list[Region]:
    """Regions of the Piecewise conditions with their status; a region with both agreeing
    and other points is split further by a sampled threshold in one variable if one exists."""
    groups: dict[tuple, list[_Point]] = {}
    for p in points:
        groups.setdefault(p.key, []).append(p)
    out = []
    for key, members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        status = _status(members)
        if status is None:
            continue
        described = describe(dict(zip(atoms, key))) if atoms else ""
        n = sum(p.status != "none" for p in members)
        split = _threshold(members, symbols) if status == "different" else None
        if split is not None:
            good, rest = split
            n_good = sum(p.status == "agree" for p in members)
            join = (lambda t: f"{described} and {t}") if described else (lambda t: t)
            out.append(Region(join(good), "equal", n_good))
            out.append(Region(join(rest), "different", n - n_good))
            continue
        how = "symbolic" if proofs and proofs.get(key) else "numeric"
        out.append(Region(described or "everywhere sampled", status, n, how))
    return out


def _source(item: Any, parsed: sp.Expr) -> str:
    return item if isinstance(item, str) else sp.sstr(parsed, order="none")


def _counterexample(candidate, reference, options, latex, cand, ref, values, digits) -> dict:
    """The reported point (exact, by name), both values by sympy evalf, and a command."""
    point = {_name(s): v for s, v in sorted(values.items(), key=lambda kv: _name(kv[0]))}
    a, b = (_evalf(e, values, digits) for e in (cand, ref))
    code = (f"import symtransfer as st; p = {_literal({k: str(v) for k, v in point.items()})}; "
            f"print(st.evaluate({_literal(_source(candidate, cand))}, p{_kwargs(dict(latex=latex))})); "
            f"print(st.evaluate({_literal(_source(reference, ref))}, p"
            f"{_kwargs(dict(latex=latex, **options))}))")
    quoted = f"'{code}'" if "'" not in code else shlex.quote(code)
    return dict(point=point, candidate_value=a, reference_value=b,
                command=f"python -c {quoted}")


def _literal(value: Any) -> str:
    """A Python literal in double quotes (so the shell line can use single quotes)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, sp.Basic):
        return json.dumps(str(value))
    return repr(value)


def _kwargs(options: dict) -> str:
    return "".join(f", {k}={_literal(v)}" for k, v in options.items() if v is not None)


def _evalf(e: sp.Expr, values: dict, digits: int):
    """Value at an exact point by sympy's evalf (independent of the mpmath screening);
    NaN where not a finite real number."""
    try:
        v = sp.sympify(e.xreplace(values)).evalf(digits)
    except (TypeError, ValueError, ZeroDivisionError, ArithmeticError):
        return sp.nan
    if v.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or not v.is_number:
        return sp.nan
    re_part, im_part = v.as_real_imag()
    if im_part != 0 and abs(im_part) > sp.Float(10) ** -digits * abs(v):
        return sp.nan
    return re_part


def evaluate(expression: Any, point: dict, *, digits: int = 50, latex: bool | None = None,
             **reference_options: Any) -> sp.Expr:
    """``expression`` (text, LaTeX, sympy, or a method name with :func:`symtransfer.expr`
    options) at ``point`` ({name: value}, values exact: numbers or text such as '7/5'),
    by sympy's evalf at ``digits``; NaN where it is not a finite real number. Recomputes a
    counterexample of :func:`check`."""
    from .parsing import parse_number

    digits = V.integer("digits", digits, minimum=1)
    e = read(expression, "expression", latex, **reference_options)
    if not isinstance(point, dict):
        raise TypeError(f"point must be a dict of name -> value, got {type(point).__name__}")
    by_name = {_name(s): s for s in e.free_symbols}
    values = {}
    for key, value in point.items():
        name = ALIASES.get(key, key) if isinstance(key, str) else key
        if name in by_name:
            values[by_name[name]] = parse_number(value, f"point[{key!r}]")
    missing = sorted(set(by_name) - {_name(s) for s in values})
    if missing:
        raise ValueError(f"point has no value for {', '.join(missing)}")
    return _evalf(e, values, digits)


__all__ = ["check", "evaluate", "CheckResult", "Region", "CheckTimeout", "ParseError",
           "parameter_name"]
