"""Parameter grids and output formats of the command line.

A parameter option takes one or more values, each a number, an expression of pi
(``pi/4``, ``3pi/8``, ``0.25*pi``; read by :mod:`symtransfer.parsing`, never evaluated as
Python), a comma list (``0.1,0.2``) or a range ``START:STOP:NUM`` (NUM evenly spaced values,
both ends included). The command evaluates the cartesian product of all given values and
prints it as an aligned table, CSV or JSON.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

#: (API name, option, type, default, help) for every parameter of risk/transferability.
PARAMETERS: list[tuple[str, str, str, Any, str]] = [
    ("gamma", "--gamma", "real", None, "n/d, target samples per dimension (required)"),
    ("theta", "--theta", "real", None, "angle between source and target teachers, radians; "
                                       "pi expressions allowed (pi/4, 3pi/8)"),
    ("sigma", "--sigma", "real", 0.0, "target label-noise standard deviation (default 0)"),
    ("lam", "--lam", "real", 0.0, "ridge penalty of the readout refit (linear) or of "
                                  "scratch ridge (default 0)"),
    ("depth", "--depth", "int", 2, "network depth L >= 2 (default 2)"),
    ("gamma_s", "--gamma-s", "real", None, "n_s/d, source samples per dimension "
                                           "(default: population pretraining)"),
    ("sigma_s", "--sigma-s", "real", 0.0, "source label-noise standard deviation (default 0)"),
    ("mu", "--mu", "real", 0.0, "pretraining penalty mu|w - w0|^2 (depth 2; default 0)"),
    ("d", "--d", "int", None, "dimension: the exact finite-size expectation (scratch, "
                              "ridgeless linear; default: asymptotic)"),
]


def parse_values(items: Iterable[str], name: str, kind: str = "real") -> list:
    """The values of one option: numbers, pi expressions, comma lists, START:STOP:NUM ranges.

    Returns sympy numbers for 'real' (exact: '0.1' is 1/10) and ints for 'int'.
    """
    from .parsing import parse_number

    out: list = []
    for item in items:
        for part in (p.strip() for p in str(item).split(",")):
            if not part:
                raise ValueError(f"--{name}: empty value in {item!r}")
            if ":" in part:
                out.extend(_range(part, name, kind))
            else:
                out.append(_one(part, name, kind, parse_number))
    return out


def _one(text: str, name: str, kind: str, parse_number: Callable) -> Any:
    value = parse_number(text, f"--{name}")
    if not value.is_real:
        raise ValueError(f"--{name} must be a real number, got {text!r}")
    if kind == "int":
        if not value.is_integer:
            raise ValueError(f"--{name} must be a whole number, got {text!r}")
        return int(value)
    return value


def _range(text: str, name: str, kind: str) -> list:
    from .parsing import parse_number

    parts = text.split(":")
    if len(parts) != 3:
        raise ValueError(f"--{name}: a range is START:STOP:NUM, got {text!r}")
    start, stop = (_one(p, name, "real", parse_number) for p in parts[:2])
    count = _one(parts[2], name, "int", parse_number)
    if not 1 <= count <= 100_000:
        raise ValueError(f"--{name}: NUM of a range must be between 1 and 100000, got {count}")
    values = [start + (stop - start) * k / max(count - 1, 1) for k in range(count)]
    if kind == "int":
        if any(not v.is_integer for v in values):
            raise ValueError(f"--{name}: range {text!r} does not give whole numbers")
        return [int(v) for v in values]
    return values


@dataclass
class Row:
    """One evaluated point: the parameters given (by API name) and the value."""

    params: dict[str, Any]
    value: Any
    note: str = ""


def grid(values: dict[str, list]) -> list[dict[str, Any]]:
    """The cartesian product of the given values, in option order."""
    names = list(values)
    return [dict(zip(names, combo)) for combo in itertools.product(*values.values())]


def as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


#: values this small at a singular point are a continuous limit evaluated just off it
LIMIT_FLOOR = 1e-20


def limit_note(params: dict[str, Any], value: Any) -> str:
    """Say when a printed value is the continuous limit at gamma = 1 or gamma_s = 1 (the
    kernels evaluate it at 1 - 10^-(digits+10), so a limit 0 comes out ~1e-50; a square-root
    limit ~1e-25)."""
    at = [k for k in ("gamma", "gamma_s") if k in params and params[k] is not None
          and as_float(params[k]) == 1.0]
    v = as_float(value)
    if at and math.isfinite(v) and 0 < abs(v) < LIMIT_FLOOR:
        return f"limit at {' and '.join(f'{k} = 1' for k in at)}"
    return ""


def _show(value: Any, digits: int | None, note: str) -> str:
    if note:
        return "0"
    if digits is not None:
        import mpmath

        return mpmath.nstr(value, digits, strip_zeros=False)
    v = as_float(value)
    return "inf" if v == math.inf else "-inf" if v == -math.inf else repr(v)


def _param_text(value: Any) -> str:
    if isinstance(value, (int, str)) or value is None:
        return str(value)
    if isinstance(value, float):  # a computed value (simulate's columns): all its digits
        return repr(value)
    v = as_float(value)
    return f"{v:.10g}"


def render(rows: list[Row], column: str, fmt: str, digits: int | None) -> str:
    """Rows as 'table' (aligned, with footnotes for limits), 'csv' or 'json'."""
    names = list(rows[0].params) if rows else []
    cells = [[_param_text(r.params[n]) for n in names] + [_show(r.value, digits, r.note)]
             for r in rows]
    header = names + [column]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header + ["note"])
        for r, c in zip(rows, cells):
            writer.writerow(c + [r.note])
        return buf.getvalue()
    if fmt == "json":
        out = []
        for r, c in zip(rows, cells):
            entry = {n: (r.params[n] if isinstance(r.params[n], (int, str))
                         or r.params[n] is None else as_float(r.params[n])) for n in names}
            v = as_float(r.value)
            entry[column] = (0.0 if r.note else c[-1] if digits is not None
                             else (v if math.isfinite(v) else c[-1]))
            if r.note:
                entry["note"] = r.note
            out.append(entry)
        return json.dumps(out, indent=1) + "\n"
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    for r, c in zip(rows, cells):
        line = "  ".join(x.rjust(w) for x, w in zip(c, widths))
        lines.append(line + ("  *" if r.note else ""))
    notes = sorted({r.note for r in rows if r.note})
    lines += [f"* 0: continuous {n} (evaluated just off it)" for n in notes]
    return "\n".join(lines) + "\n"
