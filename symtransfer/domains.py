"""Where :func:`symtransfer.check` samples each parameter: its whole domain, at every scale.

A candidate that is wrong only for gamma > 5, only within 1e-5 of the interpolation threshold
or only for tiny noise must meet a sampled point where it is wrong. So each parameter is drawn
from a stratified mixture covering its whole domain; sample k uses stratum k mod (number of
strata), so every stratum is visited whatever the seed. All values are exact rationals (or
integers), so a reported point reproduces exactly.

==========================  ===========================================================
parameter                   strata
==========================  ===========================================================
gamma, gamma_s  (0, inf)    log-uniform on [1e-4, 1e4] (decades visited in turn);
                            1 +- 10^-u, u stratified on [1, 6], sides alternating; uniform on (0, 3)
theta  [0, pi]              uniform on [0, pi]; the ends 0 and (a rational just below) pi/2
sigma, sigma_s, lam, mu     0; log-uniform on [1e-4, 1e4]; uniform on (0, 2)
  [0, inf)
depth (L)  integers >= 2    uniform over {2, 3, 4, 5, 6, 8, 12, 20, 50, 100}
d  integers >= 3            log-uniform on [3, 1e6]
n  integers >= 1            log-uniform on [1, 1e6]
other symbols  (-inf, inf)  0; +- log-uniform on [1e-4, 1e4]; uniform on (-3, 3)
  (positive/nonnegative     the [0, inf) strata, without 0 when positive
  sympy symbols)
user domain (lo, hi)        uniform on (lo, hi); log-uniform too when 0 <= lo and hi/lo
                            is large; infinite ends allowed (log scales up to 1e4)
==========================  ===========================================================
"""
from __future__ import annotations

import math
import random
from typing import Any, Callable

import sympy as sp

Sampler = Callable[[random.Random, int], sp.Rational]

DEPTHS = (2, 3, 4, 5, 6, 8, 12, 20, 50, 100)
_SIG = 12  # significant digits of a sampled rational


def _rational(x: float) -> sp.Rational:
    """x rounded to 12 significant digits, as an exact rational."""
    if x == 0:
        return sp.Integer(0)
    return sp.Rational(f"{x:.{_SIG - 1}e}")


def _log_uniform(rng: random.Random, lo: float, hi: float, j: int | None = None
                 ) -> sp.Rational:
    """Log-uniform on [lo, hi]; with a draw index j, stratified: draw j falls in decade
    (3 j mod D) of the D decades, so every scale is visited once every D draws."""
    a, b = math.log10(lo), math.log10(hi)
    if j is not None:
        decades = max(1, math.ceil(b - a))
        i = (3 * j) % decades if decades % 3 else j % decades
        a, b = a + i * (b - a) / decades, a + (i + 1) * (b - a) / decades
    return _rational(10 ** rng.uniform(a, b))


def _uniform(rng: random.Random, lo: float, hi: float) -> sp.Rational:
    while True:
        x = _rational(rng.uniform(lo, hi))
        if lo < x < hi:
            return x


def _near_one(rng: random.Random, j: int) -> sp.Rational:
    """1 +- 10^-u, alternating sides, u stratified over [1, 6] (five bins)."""
    u = 1 + (j // 2) % 5 + rng.random()
    offset = _rational(10 ** -u)
    return 1 + offset if j % 2 == 0 else 1 - offset


def _strata(*draws: Callable[..., sp.Rational]) -> Sampler:
    """Sample k uses stratum k mod S; a stratum that takes a draw index gets k // S."""
    def sample(rng: random.Random, k: int) -> sp.Rational:
        draw = draws[k % len(draws)]
        j = k // len(draws)
        return draw(rng, j) if draw.__code__.co_argcount == 2 else draw(rng)
    return sample


def _log(lo: float, hi: float, sign: int = 1):
    return lambda r, j: sign * _log_uniform(r, lo, hi, j)


_HALF_PI = sp.Rational("1.57079632679")
_PI = sp.Rational("3.14159265358")

PARAMETERS: dict[str, Sampler] = {
    "gamma": _strata(_log(1e-4, 1e4), _near_one,
                     lambda r: _uniform(r, 0, 3)),
    "theta": _strata(lambda r: _uniform(r, 0, float(_PI)), lambda r: _uniform(r, 0, float(_PI)),
                     lambda r: r.choice((sp.Integer(0), _HALF_PI))),
    "sigma": _strata(lambda r: sp.Integer(0), _log(1e-4, 1e4),
                     lambda r: _uniform(r, 0, 2)),
    "depth": lambda rng, k: sp.Integer(rng.choice(DEPTHS)),
    "d": lambda rng, k: sp.Integer(round(_log_uniform(rng, 3, 1e6, k))),
    "n": lambda rng, k: sp.Integer(round(_log_uniform(rng, 1, 1e6, k))),
}
PARAMETERS["gamma_s"] = PARAMETERS["gamma"]
PARAMETERS["sigma_s"] = PARAMETERS["lam"] = PARAMETERS["mu"] = PARAMETERS["sigma"]

_REAL = _strata(lambda r: sp.Integer(0), _log(1e-4, 1e4), _log(1e-4, 1e4, -1),
                lambda r: _uniform(r, -3, 3))
_POSITIVE = _strata(_log(1e-4, 1e4), lambda r: _uniform(r, 0, 2))


def interval_sampler(lo: Any, hi: Any, *, what: str) -> Sampler:
    """Sampler for a user-given domain (lo, hi); ends may be +-inf (math.inf, sympy.oo)."""
    try:
        lo_f, hi_f = float(lo), float(hi)
    except (TypeError, ValueError):
        raise ValueError(f"domain of {what} must be a pair of real numbers (lo, hi), "
                         f"got {(lo, hi)!r}") from None
    if math.isnan(lo_f) or math.isnan(hi_f) or not lo_f < hi_f:
        raise ValueError(f"domain of {what} must have lo < hi, got {(lo, hi)!r}")
    lo_c = max(lo_f, -1e4) if math.isinf(lo_f) else lo_f
    hi_c = min(hi_f, 1e4) if math.isinf(hi_f) else hi_f
    if not lo_c < hi_c:
        raise ValueError(f"domain of {what} lies outside [-1e4, 1e4]: {(lo, hi)!r}")
    draws = [lambda r: _uniform(r, lo_c, hi_c)]
    if lo_c >= 0 and hi_c / max(lo_c, 1e-4) > 100:
        draws.append(_log(max(lo_c, 1e-4), hi_c))
    return _strata(*draws)


def sampler_for(symbol: sp.Symbol, name: str, user_domain: dict) -> Sampler:
    """The sampler of one symbol: the user's domain if given, else its parameter's domain."""
    if name in user_domain:
        lo, hi = user_domain[name]
        sample = interval_sampler(lo, hi, what=name)
        if symbol.is_integer:
            return lambda rng, k: sp.Integer(round(sample(rng, k)))
        return sample
    if name in PARAMETERS:
        return PARAMETERS[name]
    if symbol.is_positive:
        return _POSITIVE
    if symbol.is_nonnegative:
        return _strata(lambda r: sp.Integer(0), _log(1e-4, 1e4), lambda r: _uniform(r, 0, 2))
    return _REAL
