"""Input validation shared by theory and simulation: clear errors naming the parameter.

Numbers are checked elementwise (arrays broadcast); every failure is a ``ValueError`` or
``TypeError`` that names the offending parameter, never a silent NaN downstream.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

METHODS = ("scratch", "linear", "finetune")
FORMS = ("exact", "paper")


def choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    """``value`` must be one of the strings in ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def integer(name: str, value: Any, *, minimum: int) -> int:
    """An integer (not bool, not float) >= minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _as_array(name: str, value: Any, precision: int | None) -> np.ndarray:
    """float64 array, or (with a precision) an object array of mpmath numbers."""
    if value is None:
        raise TypeError(f"{name} must be a real number or array of them, got None")
    if isinstance(value, (str, bytes)) and precision is None:
        raise TypeError(f"{name} must be a real number or array of them, got {value!r}")
    if isinstance(value, bool) or (isinstance(value, np.ndarray) and value.dtype == bool):
        raise TypeError(f"{name} must be a real number or array of them, got a boolean")
    if precision is None:
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a real number or array of them, got {value!r}") from None
        return arr
    return _as_mp_array(name, value, precision)


def _to_mpf(name: str, value: Any, precision: int):
    import mpmath

    try:
        if hasattr(value, "_to_mpmath"):  # sympy numbers: exact to the working precision
            value = value._to_mpmath(mpmath.mp.prec)
        result = mpmath.mpf(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number or array of them, got {value!r}") from None
    return result


def _as_mp_array(name: str, value: Any, precision: int) -> np.ndarray:
    raw = np.asarray(value, dtype=object)
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
    choice("method", method, METHODS)
    if theta is None and method != "scratch":
        raise ValueError(f"theta is required for method={method!r}")
    pi = math.pi if precision is None else _mp_pi()
    params: dict[str, Any] = {
        "gamma": real("gamma", gamma, precision=precision, lower=0, lower_open=True),
        "theta": real("theta", 0.0 if theta is None else theta, precision=precision,
                      lower=0, upper=pi),
        "sigma": real("sigma", sigma, precision=precision, lower=0),
        "lam": real("lam", lam, precision=precision, lower=0),
        "depth": integer("depth", depth, minimum=2),
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
    if method == "scratch":
        raise ValueError("mu is the penalty of pretraining; method='scratch' does not pretrain")
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
    return integer("precision", precision, minimum=1)
