"""Input validation shared by theory and simulation: clear errors naming the parameter.

Numbers are checked elementwise (arrays broadcast); every failure is a ``ValueError`` or
``TypeError`` that names the offending parameter, never a silent NaN downstream.
"""
from __future__ import annotations

import math
import numbers
import sys
from typing import Any

import numpy as np

from . import methods

FORMS = ("exact", "paper")


def __getattr__(name: str):
    """``METHODS``: the registered method names (:mod:`symtransfer.methods`), read live."""
    if name == "METHODS":
        return methods.names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    """``value`` must be one of the strings in ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def method_name(value: Any) -> str:
    """``value`` must name a registered method (:mod:`symtransfer.methods`); the ValueError
    lists every registered method and suggests the closest name."""
    if not isinstance(value, str):
        raise methods.unknown_method(value)
    return methods.get(value).name


#: the most significant digits ``precision`` may ask for (mpmath cost grows faster than linearly)
MAX_PRECISION = 5000
#: the deepest network the theory evaluates (the fine-tuning root is solved in log space, but
#: powers x**(L-1) of float64 roots carry a relative error of about L ulps)
MAX_DEPTH = 1_000_000


def integer(name: str, value: Any, *, minimum: int, maximum: int | None = None) -> int:
    """An integer (not bool, not float) in ``[minimum, maximum]``."""
    bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer {bounds}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer {bounds}, got {value!r}")
    return int(value)


_NOT_REAL_KINDS = {"b": "a boolean", "c": "a complex number", "M": "a datetime",
                   "m": "a timedelta", "U": "a string", "S": "bytes", "V": "a structured value"}


def _not_real(name: str, what: str) -> TypeError:
    return TypeError(f"{name} must be a real number or array of them, got {what}")


def _check_item_type(name: str, item: Any, allow_str: bool) -> None:
    """TypeError for an element that is no real number (bool, complex, datetime, ...)."""
    if item is None:
        raise _not_real(name, "None")
    if isinstance(item, (bool, np.bool_)):
        raise _not_real(name, "a boolean")
    if isinstance(item, (str, bytes)):
        if allow_str and isinstance(item, str):
            return
        raise _not_real(name, repr(item))
    if isinstance(item, (complex, np.complexfloating)):
        raise _not_real(name, f"a complex number ({item!r})")
    if isinstance(item, np.generic) and item.dtype.kind in _NOT_REAL_KINDS:
        raise _not_real(name, _NOT_REAL_KINDS[item.dtype.kind])
    mpmath = sys.modules.get("mpmath")  # without mpmath imported no item is an mpc
    if mpmath is not None and isinstance(item, mpmath.mpc):
        raise _not_real(name, f"a complex number ({item!r})")
    if getattr(item, "is_real", True) is False:  # sympy: I, 1 + I, ...
        raise _not_real(name, f"a non-real number ({item!r})")


def _as_array(name: str, value: Any, precision: int | None) -> np.ndarray:
    """float64 array, or (with a precision) an object array of mpmath numbers.

    Booleans, complex numbers, datetimes and (on the float64 path) strings are refused with a
    TypeError; numbers beyond the float64 range with a ValueError (they need ``precision``).
    """
    allow_str = precision is not None
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiu":
        raw = value
    else:
        if isinstance(value, np.ndarray):
            kind = value.dtype.kind
            if kind in _NOT_REAL_KINDS and not (allow_str and kind == "U"):
                raise _not_real(name, f"an array of dtype {value.dtype}")
        else:
            _check_item_type(name, value, allow_str)
        try:
            raw = np.asarray(value, dtype=object)
        except (TypeError, ValueError):  # ragged sequences
            raise _not_real(name, repr(value)) from None
        for item in raw.flat:
            _check_item_type(name, item, allow_str)
    if precision is None:
        return _as_float_array(name, raw)
    return _as_mp_array(name, raw, precision)


def _as_float_array(name: str, raw: np.ndarray) -> np.ndarray:
    if raw.dtype.kind in "fiu":
        return np.asarray(raw, dtype=float)
    out = np.empty(raw.shape, dtype=float)
    for index, item in np.ndenumerate(raw):
        try:
            out[index] = float(item)
        except OverflowError:
            text = repr(item)
            text = text if len(text) <= 40 else f"{text[:12]}...({len(text)} characters)"
            raise ValueError(f"{name}={text} is beyond the float64 range (|x| < 1.8e308); "
                             "give precision=... to evaluate it with mpmath") from None
        except (TypeError, ValueError):
            raise _not_real(name, repr(item)) from None
    return out


def _guard_bits(item: Any) -> int:
    """Extra bits for exact-ish conversion of decimal or rational input: a value with k
    decimal digits (or denominator q) is at least 10**-k (1/q) away from 1, so parsing it
    with that many more bits keeps ``1 - x`` correct to the working precision."""
    from fractions import Fraction

    if isinstance(item, str):
        return int(3.33 * len(item)) + 64
    if isinstance(item, Fraction):
        return item.denominator.bit_length() + 64
    if hasattr(item, "q") and hasattr(item, "p"):  # sympy Rational
        return int(item.q).bit_length() + 64
    return 64


def _to_mpf(name: str, value: Any, precision: int):
    """An mpf of ``value``; floats and integers exactly, decimal strings, fractions and sympy
    numbers with guard bits beyond the working precision (so that ``1 - gamma`` keeps every
    requested digit near gamma = 1)."""
    import mpmath
    from decimal import Decimal
    from fractions import Fraction

    try:
        if isinstance(value, np.floating):  # any width, long double included: exactly
            value = Fraction(*value.as_integer_ratio())
        elif isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, (int, float, mpmath.mpf)):
            return mpmath.mpf(value)  # exact: mpf keeps all bits of its argument
        if isinstance(value, Decimal):
            value = str(value)
        with mpmath.workprec(mpmath.mp.prec + _guard_bits(value)):
            if isinstance(value, Fraction):
                return mpmath.mpf(value.numerator) / value.denominator
            if hasattr(value, "_to_mpmath"):  # sympy numbers
                return mpmath.mpf(value._to_mpmath(mpmath.mp.prec))
            return mpmath.mpf(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, AttributeError):
        raise _not_real(name, repr(value)) from None


def _as_mp_array(name: str, raw: np.ndarray, precision: int) -> np.ndarray:
    out = np.empty(raw.shape, dtype=object)
    for index, item in np.ndenumerate(raw):
        out[index] = _to_mpf(name, item, precision)
    return out


def _isnan(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == object:
        return np.vectorize(lambda x: x != x, otypes=[bool])(arr)
    return np.isnan(arr)


def _isinf(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == object:
        return np.vectorize(lambda x: x in (math.inf, -math.inf), otypes=[bool])(arr)
    return np.isinf(arr)


def real(name: str, value: Any, *, precision: int | None = None, lower: float | None = None,
         lower_open: bool = False, upper: float | None = None) -> np.ndarray:
    """A finite real (array) within ``[lower, upper]`` (``(lower, upper]`` if lower_open)."""
    arr = _as_array(name, value, precision)
    if arr.size == 0:
        return arr
    if arr.dtype == object:
        if _isnan(arr).any():
            raise ValueError(f"{name} must not be NaN")
        if _isinf(arr).any():
            raise ValueError(f"{name} must be finite, got {value!r}")
        lo, hi = min(arr.flat), max(arr.flat)
    else:  # two reductions: NaN propagates through min, inf shows in min/max
        lo, hi = arr.min(), arr.max()
        if np.isnan(lo):
            raise ValueError(f"{name} must not be NaN")
        if np.isinf(lo) or np.isinf(hi):
            raise ValueError(f"{name} must be finite, got {value!r}")
    if lower is not None and (lo <= lower if lower_open else lo < lower):
        op = ">" if lower_open else ">="
        raise ValueError(f"{name} must be {op} {lower}, got {lo}")
    if upper is not None and hi > upper:
        raise ValueError(f"{name} must be <= {upper}, got {hi}")
    return arr


def theory_parameters(method: str, *, gamma, theta, sigma, lam, depth, gamma_s, sigma_s,
                      precision: int | None, mu=0.0) -> dict[str, Any]:
    """Validate the theory's parameters; returns arrays (and ``depth`` as int)."""
    if methods.get(method).uses_theta and theta is None:
        raise ValueError(f"theta is required for method={method!r}")
    pi = math.pi if precision is None else _mp_pi()
    params: dict[str, Any] = {
        "gamma": real("gamma", gamma, precision=precision, lower=0, lower_open=True),
        "theta": real("theta", 0.0 if theta is None else theta, precision=precision,
                      lower=0, upper=pi),
        "sigma": real("sigma", sigma, precision=precision, lower=0),
        "lam": real("lam", lam, precision=precision, lower=0),
        "depth": integer("depth", depth, minimum=2, maximum=MAX_DEPTH),
        "sigma_s": real("sigma_s", sigma_s, precision=precision, lower=0),
        "mu": real("mu", mu, precision=precision, lower=0),
    }
    if gamma_s is not None:
        params["gamma_s"] = real("gamma_s", gamma_s, precision=precision, lower=0,
                                 lower_open=True)
    return params


def pretrain_penalty(method: str, mu: Any, gamma_s: Any) -> bool:
    """Whether the pretraining penalty ``mu`` (validated array, >= 0) is in use; where it is,
    the method must pretrain, on the population source (both theory and simulation)."""
    if not bool(np.asarray(mu != 0, dtype=bool).any()):
        return False
    if not methods.get(method).pretrains:
        raise ValueError(f"mu is the penalty of pretraining; method={method!r} does not pretrain")
    if gamma_s is not None:
        raise ValueError("mu > 0 (penalized pretraining) is modelled for population "
                         "pretraining only; give gamma_s=None")
    return True


def _mp_pi():
    import mpmath

    # theta may be given as pi rounded up in its last digit; allow that rounding
    return mpmath.pi * (1 + mpmath.mpf(2) ** (-mpmath.mp.prec + 2))


def precision_digits(precision: Any) -> int | None:
    """``None`` (float64) or a number of significant digits >= 1."""
    if precision is None:
        return None
    return integer("precision", precision, minimum=1, maximum=MAX_PRECISION)
