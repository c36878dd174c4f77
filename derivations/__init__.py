"""Re-derivations of every expression :mod:`symtransfer.formulas` ships.

Each module derives one result with sympy from stated primitives (:mod:`.primitives`) and checks
that the expression symtransfer ships is the same expression:

* :mod:`.primitives` -- projection moments, inverse-Wishart / inverse-chi-square means (with a
  Marchenko-Pastur cross-check), gradient-flow facts of deep linear networks;
* :mod:`.scratch`, :mod:`.source`, :mod:`.linear`, :mod:`.finetune` -- the risks;
* :mod:`.phase` -- transferability and phase boundaries;
* :mod:`.properties` -- monotonicity and sign properties;
* :mod:`.ridge` -- ridge regression on the target and its optimal penalty (Marchenko-Pastur);
* :mod:`.l2sp` -- L2-SP (ridge toward the pretrained vector), its optimal penalty, the fair
  comparison, the depth-2 network version and weight-decayed scratch;
* :mod:`.distances` -- dataset distances and the feature overlap;
* :mod:`.penalty` -- pretraining with a penalty toward the initialization, and its best value;
* :mod:`.spectra` -- risks with an input covariance (deterministic equivalents), reducing to
  the isotropic ones; :mod:`.spectra_source` -- a finite source with its own covariance;
  :mod:`.spectra_aligned` -- aligned teacher profiles;
* :mod:`.optimizers` -- finite-step gradient descent and SGD: what stays exact (the frozen
  null space, the rank-1 alignment), how the imbalance drifts, and the fine-tuning scale c
  with the drift;
* :mod:`.early_stopping` -- the risk along gradient flow: the mean-field moment equations of the
  balanced rank-1 trajectory (fine-tuning, scratch), their fixed point, depth 1's spectral filter.
* :mod:`.lp_ft` -- LP-FT: the probe's imbalance and the endpoint it fixes, risk, boundary.

``python -m derivations`` runs :func:`run_all` and prints one line per check.

The comparison helper :func:`same` first tries a cheap symbolic zero test of the difference
(region by region of the Piecewise conditions; ``cancel``/``together``/``expand``, ``simplify``
only on small expressions), then evaluates both sides at random points of the domain at 50
digits.  A check is reported ``symbolic`` when the zero test succeeded (the numeric points then
only confirm it) and ``numeric@50 digits`` when only the numeric comparison (relative tolerance
1e-40) decided.
"""
from __future__ import annotations

import importlib
import itertools
import math
import random
import traceback
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable, Mapping

import mpmath
import sympy as sp
from sympy.core.relational import Relational

from symtransfer import formulas
from symtransfer._roots import MPMATH as _ROOTS
from symtransfer.lp_ft_expressions import BoundaryRoot, ProbedRoot
from symtransfer.symbols import d, depth, gamma, gamma_s, lam, mu, n, sigma, sigma_s, theta

SYMBOLIC = "symbolic"
NUMERIC = "numeric@50 digits"
DIGITS = 50
#: working digits of every numeric evaluation (the check itself is at DIGITS).
WORK_DIGITS = DIGITS + 15
RTOL = mpmath.mpf("1e-40")
#: absolute floor of the tolerance, for values that vanish on both sides.
ATOL = mpmath.mpf("1e-45")
N_POINTS = 24
#: count_ops above which sympy.simplify is never tried.
SIMPLIFY_MAX_OPS = 40
#: count_ops above which the zero test tries cancel alone (the other rewrites cost seconds
#: on such expressions and none of the shipped checks needs them there).
REWRITE_MAX_OPS = 300

MODULES = ("primitives", "scratch", "source", "linear", "finetune", "phase", "properties",
           "ridge", "distances", "penalty", "spectra", "spectra_source", "spectra_aligned",
           "optimizers", "early_stopping", "lp_ft", "l2sp")


@dataclass(frozen=True)
class Result:
    """Outcome of one check: ``how`` is ``symbolic``, ``numeric@50 digits`` or a stated method."""

    name: str
    ok: bool
    how: str
    detail: str = ""


# --------------------------------------------------------------------------- numeric sampling

Sampler = Callable[[random.Random, int], sp.Expr]


def rational(rng: random.Random, lo: float, hi: float, den: int = 10 ** 6) -> sp.Rational:
    """A random exact rational in [lo, hi]."""
    return sp.Rational(rng.randint(math.ceil(lo * den), math.floor(hi * den)), den)


def ratio(rng: random.Random, below: bool) -> sp.Rational:
    """A sample-per-dimension ratio in (0, 3), below or above 1 and away from it."""
    return rational(rng, 0.02, 0.98) if below else rational(rng, 1.02, 2.98)


DEFAULT_DOMAIN: dict[sp.Symbol, Sampler] = {
    gamma: lambda rng, i: ratio(rng, i % 2 == 0),
    gamma_s: lambda rng, i: ratio(rng, (i // 2) % 2 == 0),
    theta: lambda rng, i: rational(rng, 0, math.pi),
    sigma: lambda rng, i: rational(rng, 0, 1.5),
    sigma_s: lambda rng, i: rational(rng, 0, 1.5),
    lam: lambda rng, i: rational(rng, 0, 3),
    depth: lambda rng, i: sp.Integer(rng.randint(2, 6)),
    mu: lambda rng, i: rational(rng, 0, 0.98),
}


def sample_point(rng: random.Random, i: int, symbols: Iterable[sp.Symbol],
                 domain: Mapping[sp.Symbol, Sampler] | None = None) -> dict[sp.Symbol, sp.Expr]:
    """Point ``i`` of the domain: gamma alternates below/above 1, gamma_s every second point.

    With ``d`` present, ``d`` is an integer and ``n = gamma*d`` an integer with ``3 <= n <= d-2``
    (gamma < 1) or ``n >= d+2`` (gamma > 1).
    """
    dom = {**DEFAULT_DOMAIN, **(domain or {})}
    symbols = set(symbols)
    point: dict[sp.Symbol, sp.Expr] = {}
    if d in symbols and d not in (domain or {}):
        dim = rng.randint(10, 200)
        count = rng.randint(3, dim - 2) if i % 2 == 0 else rng.randint(dim + 2, 3 * dim - 1)
        point[d], point[n] = sp.Integer(dim), sp.Integer(count)
        point[gamma] = sp.Rational(count, dim)
    for sym in sorted(symbols, key=str):
        if sym in point:
            continue
        if sym not in dom:
            raise KeyError(f"no sampling domain for symbol {sym}")
        point[sym] = dom[sym](rng, i)
    return point


def evaluate(expr: sp.Expr, point: Mapping[sp.Symbol, sp.Expr]) -> mpmath.mpc | None:
    """``expr`` at ``point`` (exact rationals substituted) evaluated at WORK_DIGITS by sympy's
    evalf (adaptive precision); None = NaN. This is the reference evaluation: every
    disagreement is decided by it."""
    value = sp.N(sp.sympify(expr).xreplace(dict(point)), WORK_DIGITS)
    if value is sp.nan or value.has(sp.nan):
        return None
    re, im = value.as_real_imag()
    with mpmath.workdps(WORK_DIGITS):
        return mpmath.mpc(mpmath.mpf(sp.Float(re, WORK_DIGITS)._mpf_),
                          mpmath.mpf(sp.Float(im, WORK_DIGITS)._mpf_))


@lru_cache(maxsize=512)
def _compiled(expr: sp.Expr, symbols: tuple[sp.Symbol, ...]) -> Callable:
    """``expr`` as an mpmath function of ``symbols`` (sympy.lambdify; the roots by
    :data:`symtransfer._roots.MPMATH`)."""
    return sp.lambdify(symbols, expr, modules=[_ROOTS, "mpmath"])


def evaluate_fast(expr: sp.Expr, point: Mapping[sp.Symbol, sp.Expr]) -> mpmath.mpc | None:
    """``expr`` at ``point`` by its lambdified mpmath function at WORK_DIGITS (exact rationals
    rounded once to the working precision), ~5x faster than :func:`evaluate`; None where it
    gives no finite number (an exception, NaN, inf), where only :func:`evaluate` decides.

    Fixed working precision does not track cancellation as evalf does, so
    :func:`numeric_compare` accepts agreement from it but re-evaluates any disagreement
    with :func:`evaluate` before reporting a mismatch."""
    symbols = tuple(sorted(point, key=str))
    try:
        fn = _compiled(sp.sympify(expr), symbols)
        with mpmath.workdps(WORK_DIGITS):
            args = [mpmath.mpf(v.p) / v.q if isinstance(v, sp.Rational)
                    else mpmath.mpf(sp.Float(v, WORK_DIGITS)._mpf_)
                    for v in (point[s] for s in symbols)]
            value = mpmath.mpmathify(fn(*args))
            return mpmath.mpc(value) if mpmath.isfinite(value) else None
    except Exception:  # noqa: BLE001 - no fast value: the reference evaluation decides
        return None


def close(x: mpmath.mpc | None, y: mpmath.mpc | None) -> tuple[bool, mpmath.mpf]:
    """Relative agreement to RTOL (NaN only matches NaN); returns (ok, relative error)."""
    if x is None or y is None:
        return (x is None and y is None), mpmath.mpf(0 if x is y else 1)
    with mpmath.workdps(WORK_DIGITS):
        if not (mpmath.isfinite(x) and mpmath.isfinite(y)):
            return False, mpmath.inf
        scale = max(abs(x), abs(y))
        err = abs(x - y)
        return err <= RTOL * scale + ATOL, (err / scale if scale else err)


def _show(x: mpmath.mpc | None) -> str:
    if x is None:
        return "nan"
    return mpmath.nstr(x.real if x.imag == 0 else x, 15)


def numeric_compare(derived: sp.Expr, shipped: sp.Expr, *, points: int = N_POINTS, seed: int = 0,
                    domain: Mapping[sp.Symbol, Sampler] | None = None) -> tuple[bool, str]:
    """Both sides at ``points`` random points of the domain; (all agree, summary).

    NaN matches only NaN, and at least half of the points must give finite values. Values
    come from :func:`evaluate_fast`; a point where it gives none or the sides disagree is
    evaluated again by :func:`evaluate` (evalf), which alone can report a mismatch.
    """
    rng = random.Random(seed)
    symbols = sp.sympify(derived).free_symbols | sp.sympify(shipped).free_symbols
    worst, nans = mpmath.mpf(0), 0
    for i in range(points):
        point = sample_point(rng, i, symbols, domain)
        x, y = evaluate_fast(derived, point), evaluate_fast(shipped, point)
        ok, err = close(x, y) if x is not None and y is not None else (False, None)
        if not ok:  # no fast value (None is not NaN here), or a disagreement: evalf decides
            x, y = evaluate(derived, point), evaluate(shipped, point)
            ok, err = close(x, y)
        if not ok:
            at = ", ".join(f"{k}={sp.N(v, 6)}" for k, v in sorted(point.items(), key=str))
            return False, (f"mismatch at {at}: derived {_show(x)} vs shipped {_show(y)} "
                           f"(rel err {mpmath.nstr(err, 3)})")
        nans += x is None
        worst = max(worst, err)
    if 2 * nans > points:
        return False, f"only {points - nans} of {points} points gave finite values"
    tail = f", NaN on both sides at {nans} (no boundary there)" if nans else ""
    return True, f"{points} pts agree, max rel err {mpmath.nstr(worst, 3)}{tail}"


# --------------------------------------------------------------------------- symbolic zero test

@lru_cache(maxsize=4096)
def _canonical_root(root: sp.Expr) -> sp.Expr:
    """``root`` rebuilt with cancelled arguments (cached: the zero tests meet the same roots
    in every region of a Piecewise and on both sides)."""
    return root.func(root.args[0], *(sp.cancel(sp.together(a)) for a in root.args[1:]))


def _canonical(expr: sp.Expr) -> sp.Expr:
    """Rebuild every PositiveRoot (and LP-FT's ProbedRoot, BoundaryRoot) with cancelled
    arguments, so equal roots compare equal."""
    return expr.replace(
        lambda e: isinstance(e, (formulas.PositiveRoot, ProbedRoot, BoundaryRoot)),
        _canonical_root)


def _sin_as_cos(expr: sp.Expr) -> sp.Expr:
    """sin(theta) -> sqrt(1 - cos(theta)^2), valid for theta in [0, pi]."""
    return expr.xreplace({sp.sin(theta): sp.sqrt(1 - sp.cos(theta) ** 2)})


def is_zero(expr: sp.Expr) -> bool:
    """Cheap symbolic zero test: True only if ``expr`` was shown to be 0 (no verdict otherwise)."""
    if expr == 0:
        return True
    if expr.has(sp.nan, sp.zoo, sp.Piecewise):
        return False
    # (powsimp / expand_power_exp and radsimp variants were tried here too; over all 296
    # checks they never decided one that these two had not, and cost ~2.5 s, so they went)
    steps: list[Callable[[sp.Expr], sp.Expr]] = [
        lambda e: sp.cancel(sp.together(e)),
        lambda e: sp.cancel(sp.together(_sin_as_cos(e))),
    ]
    ops = sp.count_ops(expr)
    for step in steps if ops <= REWRITE_MAX_OPS else steps[:1]:
        try:
            if step(expr) == 0:
                return True
        except Exception:  # noqa: BLE001 - a failed simplification is no verdict
            continue
    if ops <= SIMPLIFY_MAX_OPS:
        try:
            return sp.simplify(expr) == 0
        except Exception:  # noqa: BLE001
            return False
    return False


def _equal(ea: sp.Expr, eb: sp.Expr) -> bool:
    """ea == eb shown symbolically; same one-argument head (acos, sqrt, ...): compare inside first."""
    if ea == eb:
        return True
    same_head = (ea.func == eb.func and len(ea.args) == 1 and isinstance(ea, sp.Function)) or (
        ea.is_Pow and eb.is_Pow and ea.exp == eb.exp)
    if same_head and _equal(ea.args[0], eb.args[0]):
        return True
    return is_zero(_canonical(ea) - _canonical(eb))


def symbolic_equal(a: sp.Expr, b: sp.Expr) -> bool:
    """Region by region of the Piecewise conditions: every relational atom set true / false.

    Piecewise expressions collapse to one branch in each region; the branch expressions are
    zero-tested with :func:`is_zero`.  (Inconsistent combinations of atoms are also tried: they
    can only make the test fail, never wrongly succeed.)
    """
    a, b = _canonical(sp.sympify(a)), _canonical(sp.sympify(b))
    atoms = sorted(a.atoms(Relational) | b.atoms(Relational), key=sp.default_sort_key)
    if len(atoms) > 4:
        return False
    for values in itertools.product((sp.true, sp.false), repeat=len(atoms)):
        region = dict(zip(atoms, values))
        if not _equal(a.xreplace(region), b.xreplace(region)):
            return False
    return True


def same(derived: sp.Expr, shipped: sp.Expr, name: str, *, points: int = N_POINTS, seed: int = 0,
         domain: Mapping[sp.Symbol, Sampler] | None = None, symbolic: bool = True) -> Result:
    """Compare a derived expression with the shipped one: symbolic zero test, then numerics.

    The numeric comparison always runs (``points`` random points, 50 digits); a disagreement
    fails the check even when the symbolic test claimed equality.
    """
    proved = False
    if symbolic:
        try:
            proved = symbolic_equal(derived, shipped)
        except Exception:  # noqa: BLE001 - fall back to numerics
            proved = False
    try:
        ok, summary = numeric_compare(derived, shipped, points=points, seed=seed, domain=domain)
    except Exception as exc:  # noqa: BLE001
        return Result(name, False, NUMERIC, f"numeric evaluation failed: {exc!r}")
    if proved and not ok:
        return Result(name, False, SYMBOLIC, "symbolic zero test passed but numerics disagree: "
                      + summary)
    return Result(name, ok, SYMBOLIC if proved else NUMERIC, summary)


def holds(name: str, ok: bool, detail: str = "", how: str = SYMBOLIC) -> Result:
    """A check that is a statement (not a derived-vs-shipped comparison)."""
    return Result(name, bool(ok), how, detail)


# --------------------------------------------------------------------------- driver

def run_all(modules: Iterable[str] | None = None) -> list[Result]:
    """Run every module's ``checks()`` (or those of ``modules``, in the order of
    :data:`MODULES`); a module that raises is one failed result."""
    results: list[Result] = []
    chosen = MODULES if modules is None else [m for m in MODULES if m in set(modules)]
    for module_name in chosen:
        try:
            module = importlib.import_module(f"{__name__}.{module_name}")
            results.extend(module.checks())
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            tb = traceback.format_exc(limit=3).strip().splitlines()[-1]
            results.append(Result(f"{module_name}: crashed", False, "error", f"{exc!r} ({tb})"))
    return results
