"""Command-line text for input spectra and teacher profiles, parsed without eval.

Grammar (whitespace ignored; numbers are decimal literals, finite):

* ``--spectrum`` / ``--source-spectrum``:

  - ``discrete:E1,E2,...`` -- atoms at E1, E2, ... with equal weights;
  - ``discrete:E1,E2,...@W1,W2,...`` -- with weights W1, W2, ... (summing to 1);
  - ``powerlaw:alpha=A`` or ``powerlaw:alpha=A,atoms=N`` -- ``lambda_k = k^-A``, k = 1..N
    (default N = 1000), rescaled to mean 1 (:class:`symtransfer.spectra.PowerLaw`);

* ``--teacher``: ``generic`` (default) or ``aligned:P`` (energy per eigendirection
  proportional to eigenvalue**P, :class:`symtransfer.teachers.Aligned`).

A malformed text raises ValueError naming the option, which the command line prints as one
line (exit status 2).
"""
from __future__ import annotations

import math
import re

from .spectra import Discrete, PowerLaw, Spectrum
from .teachers import GENERIC, Aligned, Teacher

SPECTRUM_HELP = ("input covariance spectrum: discrete:E1,E2[@W1,W2] (atoms, optional weights "
                 "summing to 1) or powerlaw:alpha=A[,atoms=N] (k^-A, mean 1); default: "
                 "isotropic x ~ N(0, I)")
SOURCE_HELP = ("source inputs' spectrum (covariate shift; same grammar as --spectrum; matters "
               "with a finite source --gamma-s)")
TEACHER_HELP = ("teacher profile: generic (default) or aligned:P (energy per eigendirection "
                "~ eigenvalue^P; needs --spectrum)")

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _number(text: str, option: str, what: str) -> float:
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{option}: {what} must be a number, got {text!r}")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{option}: {what} must be finite, got {text!r}")
    return value


def _numbers(text: str, option: str, what: str) -> list[float]:
    items = [t for t in text.split(",")]
    if not text.strip() or any(not t.strip() for t in items):
        raise ValueError(f"{option}: {what} must be a comma list of numbers, got {text!r}")
    return [_number(t, option, what) for t in items]


def parse_spectrum(text: str | None, option: str = "--spectrum") -> Spectrum | None:
    """The spectrum that ``text`` names (module docstring); None for None."""
    if text is None:
        return None
    kind, sep, body = text.strip().partition(":")
    kind = kind.strip().lower()
    if not sep:
        raise ValueError(f"{option}: expected discrete:E1,E2[@W1,W2] or powerlaw:alpha=A"
                         f"[,atoms=N], got {text!r}")
    try:
        if kind == "discrete":
            atoms, at, weights = body.partition("@")
            eig = _numbers(atoms, option, "eigenvalues")
            w = _numbers(weights, option, "weights") if at else None
            return Discrete(eig, w)
        if kind == "powerlaw":
            return _powerlaw(body, option)
    except (ValueError, TypeError) as error:
        message = str(error)
        raise ValueError(message if message.startswith(option) else f"{option}: {message}") \
            from None
    raise ValueError(f"{option}: unknown spectrum {kind!r} (discrete or powerlaw)")


def _powerlaw(body: str, option: str) -> PowerLaw:
    fields: dict[str, str] = {}
    for item in body.split(","):
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq or key not in ("alpha", "atoms") or key in fields:
            raise ValueError(f"{option}: powerlaw takes alpha=A and optionally atoms=N, got "
                             f"{body!r}")
        fields[key] = value
    if "alpha" not in fields:
        raise ValueError(f"{option}: powerlaw needs alpha=A, got {body!r}")
    alpha = _number(fields["alpha"], option, "alpha")
    atoms = 1000
    if "atoms" in fields:
        text = fields["atoms"].strip()
        if not text.isdigit():
            raise ValueError(f"{option}: atoms must be a positive whole number, got {text!r}")
        atoms = int(text)
    return PowerLaw(alpha, atoms=atoms)


def parse_teacher(text: str | None, option: str = "--teacher") -> Teacher:
    """The teacher profile that ``text`` names: generic or aligned:P."""
    if text is None or text.strip().lower() == "generic":
        return GENERIC
    kind, sep, body = text.strip().partition(":")
    if kind.strip().lower() != "aligned" or not sep:
        raise ValueError(f"{option}: expected generic or aligned:P, got {text!r}")
    return Aligned(_number(body, option, "the power P"))
