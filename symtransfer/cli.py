"""Command line: ``symtransfer report | risk | simulate | check``.

* ``symtransfer report [--out DIR] [--quick] [--workers N] [--scheduler ADDRESS]`` prints the
  main tables (risks and transferabilities of every method over gamma, the exact fine-tuning
  form against the paper's, the phase boundaries), then builds the full report in DIR
  (default ``report``): Monte-Carlo sweeps, figures (PNG and PDF), formulas with their
  derivation status and the theory vs Monte-Carlo table, in ``DIR/report.md``
  (:func:`symtransfer.report.build_report`).
* ``symtransfer risk METHOD --gamma G... [--theta T...] [...] [--quantity Q] [--format F]``
  evaluates a risk, transferability or phase boundary over the cartesian product of the
  values given (numbers, pi expressions, lists, START:STOP:NUM ranges;
  :mod:`symtransfer.cli_grid`) and prints a table, CSV or JSON.
* ``symtransfer simulate METHOD --gamma G... [...] [--d D] [--instances K] [--seed S]`` runs
  the Monte-Carlo twin at each point and prints mean +- sem beside the theory.
* ``symtransfer check`` re-derives every formula (``python -m derivations``) and verifies
  that the shipped expressions and generated kernels are current.
* ``symtransfer check EXPR --reference METHOD|EXPR [--form ...] [--latex]`` checks your
  formula (plain text or LaTeX) against a shipped one or another formula
  (:func:`symtransfer.check`) and prints the verdict and any counterexample; exit status 0
  when equal, 1 when not (or only on part of the domain), 2 on bad input.
"""
from __future__ import annotations

import argparse
import math
import sys

from . import methods, theory
from .tables import MC_CASES, monte_carlo_table, report, theory_tables  # noqa: F401


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {value}")
    return value


DESCRIPTION = """symtransfer: derived, checked and fast theory of transfer learning in
high-dimensional regression (deep linear networks; scratch, linear/ridge transfer and
fine-tuning). Run 'symtransfer COMMAND --help' for a command's options.

Parameter values: numbers, pi expressions (pi/4, 3pi/8), comma lists (0.1,0.2) or ranges
START:STOP:NUM. Exit status: 0 success, 1 a check that fails, 2 bad input."""



def __getattr__(name: str):
    """``METHODS``: the registered method names (:mod:`symtransfer.methods`), read live."""
    if name == "METHODS":
        return methods.names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _methods_text(oneline: bool = False) -> str:
    """Every registered method, its name and what it does (one line each, or one paragraph)."""
    if oneline:
        return "Methods: " + "; ".join(f"{m.name} ({m.label}): {m.description}"
                                       for m in methods.all_methods()) + "."
    return "Methods:\n" + "\n".join(f"  {m.name:<10} {m.label}: {m.description}"
                                     for m in methods.all_methods())


def _forms() -> tuple[str, ...]:
    """Every form some registered method has, the default first."""
    return tuple(dict.fromkeys(f for m in methods.all_methods() for f in m.forms))


def _add_method(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("method", choices=methods.names(),
                        help="training method: " + ", ".join(
                            f"{m.name} ({m.label})" for m in methods.all_methods()))


def _add_parameters(parser: argparse.ArgumentParser, *, simulate: bool = False) -> None:
    """One option per API parameter (see symtransfer.cli_grid.PARAMETERS)."""
    from .cli_grid import PARAMETERS

    for name, flag, _kind, _default, help_text in PARAMETERS:
        if simulate and name == "d":
            help_text = "dimension of the simulated problem (default 200)"
        parser.add_argument(flag, dest=name, nargs="+", metavar="V", help=help_text)
    parser.add_argument("--form", choices=_forms(), default="exact",
                        help="fine-tuning form: exact (conservation laws, default) or the "
                             "paper's closed form")
    parser.add_argument("--baseline", choices=("ridgeless", "optimal_ridge", "fair"),
                        default="ridgeless",
                        help="scratch learner: ridgeless min-norm/least squares (default) or "
                             "ridge at its optimal penalty lam* = sigma^2/gamma; fair: tuned "
                             "scratch against the tuned method (L2-SP at its lam*)")
    from .cli_spectra import SOURCE_HELP, SPECTRUM_HELP, TEACHER_HELP

    parser.add_argument("--spectrum", metavar="SPEC", help=SPECTRUM_HELP)
    parser.add_argument("--source-spectrum", dest="source_spectrum", metavar="SPEC",
                        help=SOURCE_HELP)
    parser.add_argument("--teacher", metavar="PROFILE", help=TEACHER_HELP)


def _covariance(args: argparse.Namespace) -> dict:
    """The --spectrum, --source-spectrum and --teacher options as API keywords (only those
    given, so the isotropic commands call the API exactly as before)."""
    from .cli_spectra import parse_spectrum, parse_teacher

    out = {}
    if args.spectrum is not None:
        out["spectrum"] = parse_spectrum(args.spectrum, "--spectrum")
    if args.source_spectrum is not None:
        out["source_spectrum"] = parse_spectrum(args.source_spectrum, "--source-spectrum")
    if args.teacher is not None:
        out["teacher"] = parse_teacher(args.teacher, "--teacher")
    return out


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="symtransfer", description=DESCRIPTION,
                                     epilog=_methods_text(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"symtransfer {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    rep = sub.add_parser("report", help="build the report: tables, figures, formulas, "
                                        "theory vs Monte-Carlo (DIR/report.md)")
    rep.add_argument("--out", default="report", metavar="DIR",
                     help="report folder (default: report); rerunning reuses its data/")
    rep.add_argument("--quick", action="store_true",
                     help="small d and few instances: a fast smoke test of the whole report")
    rep.add_argument("--workers", type=_workers, metavar="N",
                     help="local worker processes (default: one per core, at least 2); "
                          "they run the simulations, derivations and figures from one queue, "
                          "the simulations first; 0 or 1: the simulations in this process")
    rep.add_argument("--scheduler", metavar="ADDRESS",
                     help="run the simulations on this dask.distributed scheduler "
                          "(e.g. tcp://host:8786) instead of local processes")
    risk = sub.add_parser("risk", help="evaluate a risk, transferability or phase boundary",
                          description="Evaluate over the cartesian product of the values "
                                      "given. Example: symtransfer risk finetune --gamma "
                                      "0.1:0.9:9 --theta pi/4 --sigma 0.2 --format csv",
                          epilog=_methods_text(oneline=True))
    _add_method(risk)
    _add_parameters(risk)
    risk.add_argument("--quantity", choices=("risk", "transferability", "boundary"),
                      default="risk", help="risk R (default), transferability T = R_scratch "
                                           "- R, or the phase boundary theta* (T = 0)")
    risk.add_argument("--transferability", action="store_true",
                      help="same as --quantity transferability")
    risk.add_argument("--precision", type=int, metavar="DIGITS",
                      help="evaluate with mpmath at this many significant digits and print "
                           "them all (default: float64)")
    risk.add_argument("--format", choices=("table", "csv", "json"), default="table",
                      help="output format (default: an aligned table)")
    sim = sub.add_parser("simulate", help="Monte-Carlo gradient flow beside the theory",
                         description="Run symtransfer.simulate at each point of the grid and "
                                     "print the mean +- sem of the per-instance risks beside "
                                     "the theory (exact form; and the paper's for finetune).",
                         epilog=_methods_text(oneline=True))
    _add_method(sim)
    _add_parameters(sim, simulate=True)
    sim.add_argument("--instances", type=int, default=8,
                     help="independent instances per point (default 8)")
    sim.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sim.add_argument("--optimizer", choices=("flow", "gd", "sgd"), default="flow",
                     help="target-phase training: gradient flow (default), gd or sgd")
    sim.add_argument("--lr", type=float, help="step of gd/sgd (loss (1/2n)|X beta - y|^2)")
    sim.add_argument("--batch-size", type=int, help="minibatch rows of sgd")
    sim.add_argument("--epochs", type=int, help="gd/sgd epochs (default: max_steps steps)")
    sim.add_argument("--replacement", action="store_true",
                     help="sgd minibatches drawn with replacement")
    sim.add_argument("--format", choices=("table", "csv", "json"), default="table",
                     help="output format (default: an aligned table)")
    chk = sub.add_parser("check", help="check a formula against symtransfer's (or re-derive "
                                       "every shipped formula when no formula is given)",
                         description="Without EXPR: re-derive every shipped formula. With "
                                     "EXPR: check it against --reference.")
    chk.add_argument("expression", nargs="?", metavar="EXPR",
                     help="your formula, plain text ('1 - cos(theta)^2') or LaTeX "
                          "('1-\\cos^2\\theta', detected by a backslash or $)")
    chk.add_argument("--reference", metavar="METHOD|EXPR",
                     help=", ".join(methods.names()) + ", or another formula")
    chk.add_argument("--quantity", choices=("risk", "transferability", "boundary"),
                     help="of a method reference (default risk)")
    chk.add_argument("--form", choices=_forms(), help="fine-tuning form")
    chk.add_argument("--source", choices=("population", "finite", "penalized"),
                     help="pretraining of a method reference")
    chk.add_argument("--depth", type=int, help="network depth L (default: symbolic L)")
    chk.add_argument("--finite-size", action="store_true", dest="finite_size",
                     help="the exact finite-d expectation (" + ", ".join(
                         m.name for m in methods.all_methods() if m.finite_size) + ")")
    chk.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                     help="fix a parameter of the reference, e.g. --set lam=0 (repeatable)")
    chk.add_argument("--domain", action="append", default=[], metavar="NAME=LO:HI",
                     help="sample NAME only in (LO, HI), e.g. --domain gamma=0:1")
    chk.add_argument("--latex", action="store_true", default=None,
                     help="read the formulas as LaTeX (default: detect)")
    chk.add_argument("--samples", type=int, default=60, help="numeric points (default 60)")
    chk.add_argument("--digits", type=int, default=50,
                     help="agreement required per point, in digits (default 50, >= 15)")
    chk.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    return parser


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"--{what} expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def _check_formula(args: argparse.Namespace) -> int:
    """``symtransfer check EXPR --reference ...``: print the verdict; 0 equal, 1 not."""
    from .checker import check
    from .parsing import parse_number

    if args.reference is None:
        raise ValueError("--reference is required with EXPR (a method name or a formula)")
    options = {k: v for k, v in dict(quantity=args.quantity, form=args.form,
                                     source=args.source, depth=args.depth).items()
               if v is not None}
    if args.finite_size:
        options["finite_size"] = True
    options.update(_pairs(args.set, "set"))
    domain = {}
    for name, bounds in _pairs(args.domain, "domain").items():
        lo, sep, hi = bounds.partition(":")
        if not sep:
            raise ValueError(f"--domain expects NAME=LO:HI, got {name}={bounds}")
        domain[name] = (parse_number(lo, f"--domain {name} LO"),
                        parse_number(hi, f"--domain {name} HI"))
    result = check(args.expression, args.reference, samples=args.samples, digits=args.digits,
                   seed=args.seed, latex=args.latex, domain=domain or None, **options)
    print(result)
    return 0 if result else 1


def _points(args: argparse.Namespace) -> tuple[list[dict], list[str]]:
    """The grid of the parameter options given, and the names given."""
    from .cli_grid import PARAMETERS, grid, parse_values

    values = {}
    for name, _flag, kind, _default, _help in PARAMETERS:
        items = getattr(args, name)
        if items is not None:
            values[name] = parse_values(items, name.replace("_", "-"), kind)
    if "gamma" not in values:
        raise ValueError("--gamma is required")
    points = grid(values)
    if len(points) > 1_000_000:
        raise ValueError(f"the grid has {len(points)} points; at most 1000000")
    return points, list(values)


def _numeric(point: dict, precision: int | None) -> dict:
    """Values for the API: floats, or decimal strings with guard digits at a precision."""
    out = {}
    for name, value in point.items():
        if isinstance(value, int):
            out[name] = value
        elif precision is not None:
            out[name] = str(value.evalf(precision + 10))
        else:
            out[name] = float(value)
    return out


def _risk_command(args: argparse.Namespace) -> int:
    from .cli_grid import Row, limit_note, render

    quantity = "transferability" if args.transferability else args.quantity
    covariance = _covariance(args)
    points, _ = _points(args)
    fn = {"risk": theory.risk, "transferability": theory.transferability,
          "boundary": theory.phase_boundary}[quantity]
    options = dict(form=args.form, **covariance)
    if args.baseline != "ridgeless":
        if quantity == "boundary":
            raise ValueError("--baseline applies to risk and transferability, not boundary")
        options["baseline"] = args.baseline
    if args.precision is not None:
        options["precision"] = args.precision
    rows = []
    for point in points:
        kw = _numeric(point, args.precision)
        if quantity == "boundary":
            for name in ("theta", "d"):
                if name in kw:
                    raise ValueError(f"--{name} does not apply to --quantity boundary")
        value = fn(args.method, **kw, **options)
        rows.append(Row(point, value, limit_note(point, value)))
    column = {"risk": "R", "transferability": "T", "boundary": "theta*"}[quantity]
    print(render(rows, column, args.format, args.precision), end="")
    return 0


def _simulate_command(args: argparse.Namespace) -> int:
    from .cli_grid import Row, as_float, render
    from .mc import simulate

    if args.form != "exact":
        raise ValueError("--form applies to the theory only; simulate runs the dynamics "
                         "(both forms are printed for finetune)")
    covariance = _covariance(args)
    points, _ = _points(args)
    if len(points) > 1000:
        raise ValueError(f"simulate runs at most 1000 points, got {len(points)}")
    rows = []
    for point in points:
        kw = _numeric(point, None)
        d = kw.pop("d", 200)
        result = simulate(args.method, **kw, d=d, instances=args.instances, seed=args.seed,
                          baseline=args.baseline, progress=False, optimizer=args.optimizer,
                          lr=args.lr, batch_size=args.batch_size, epochs=args.epochs,
                          replacement=args.replacement, **covariance)
        theory_kw = dict(kw, baseline=args.baseline, **covariance)
        exact = theory.risk(args.method, **theory_kw)
        extra = {}
        for form in methods.get(args.method).forms[1:]:  # the other forms (paper)
            extra[form] = theory.risk(args.method, form=form, **theory_kw)
        converged = int(result.converged.sum())
        mean = result.mean if converged == result.instances else float("nan")
        rows.append(Row({**point, "d": d, "theory": float(exact),
                         **{k: float(v) for k, v in extra.items()},
                         "converged": f"{converged}/{result.instances}",
                         "MC mean": float(mean)}, float(result.sem)))
    text = render(rows, "sem", args.format, None)
    print(text, end="")
    bad = [r for r in rows if not math.isfinite(as_float(r.params["MC mean"]))]
    if bad:
        print(f"{len(bad)} point(s) did not converge in every instance: no mean is given "
              "there", file=sys.stderr)
    return 0


def _report_preflight(args: argparse.Namespace) -> None:
    """Errors that would otherwise appear after minutes of work: missing matplotlib, a dask
    scheduler that cannot be reached."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise ValueError("the report needs matplotlib (pip install 'symtransfer[plots]')")
    if args.scheduler:
        if importlib.util.find_spec("distributed") is None:
            raise ValueError("--scheduler needs dask.distributed "
                             "(pip install 'symtransfer[distributed]')")
        _reachable(args.scheduler)


def _reachable(address: str, timeout: float = 3.0) -> None:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port or 8786
    except ValueError:
        raise ValueError(f"--scheduler: not an address: {address!r}") from None
    if not host:
        raise ValueError(f"--scheduler: not an address: {address!r}")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        raise ValueError(f"--scheduler: cannot reach {host}:{port} ({error})") from None


def _report_command(args: argparse.Namespace) -> int:
    _report_preflight(args)
    from .report import build_report

    print(theory_tables(quick=args.quick))
    try:
        path = build_report(args.out, quick=args.quick, workers=args.workers,
                            client=args.scheduler)
    except OSError as error:
        print(f"symtransfer report: error: {error}", file=sys.stderr)
        return 1
    print(f"\nreport: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; bad input (ValueError, TypeError, arithmetic errors) is one line
    on stderr and exit status 2, never a traceback."""
    from ._malloc import keep_freed_memory

    keep_freed_memory()  # our process: reuse freed numpy temporaries (speed only)
    try:
        return _main(argv)
    except (ValueError, TypeError, ArithmeticError) as error:
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"symtransfer: error: {message}", file=sys.stderr)
        return 2


def _main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"report": _report_command, "risk": _risk_command,
                "simulate": _simulate_command}
    if args.command == "check" and args.expression is None:
        from symtransfer import derivations  # noqa: F401 - installed, or the checkout's folder
        from symtransfer.derivations.__main__ import main as derive_main

        return derive_main()
    if args.command == "check":
        commands["check"] = _check_formula
    try:
        return commands[args.command](args)
    except (ValueError, TypeError, ArithmeticError, RuntimeError) as error:
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"symtransfer {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
