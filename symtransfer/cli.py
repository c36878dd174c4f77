"""Command line: ``symtransfer report | risk | check``.

* ``symtransfer report [--out DIR] [--quick] [--workers N] [--scheduler ADDRESS]`` prints the
  main tables (risks and transferabilities of every method over gamma, the exact fine-tuning
  form against the paper's, the phase boundaries), then builds the full report in DIR
  (default ``report``): Monte-Carlo sweeps, figures (PNG and PDF), formulas with their
  derivation status and the theory vs Monte-Carlo table, in ``DIR/report.md``
  (:func:`symtransfer.report.build_report`).
* ``symtransfer risk METHOD --gamma G [--theta T ...]`` prints one value (or a column).
* ``symtransfer check`` re-derives every formula (``python -m derivations``) and verifies
  that the shipped expressions and generated kernels are current.
"""
from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from . import theory


def _fmt(x) -> str:
    x = float(x)
    return f"{x:10.4f}" if math.isfinite(x) or math.isinf(x) else f"{'nan':>10}"


def _table(title: str, header: list[str], rows: list[list]) -> str:
    lines = [title, "  ".join(f"{h:>10}" for h in header)]
    lines += ["  ".join(c if isinstance(c, str) else _fmt(c) for c in row) for row in rows]
    return "\n".join(lines) + "\n"


def report(quick: bool = False) -> str:
    """The text report: the theory tables and the theory vs Monte-Carlo table."""
    return theory_tables(quick) + "\n" + monte_carlo_table(quick)


def theory_tables(quick: bool = False) -> str:
    """Tables of theory values: risks over gamma, exact vs paper fine-tuning, boundaries."""
    gammas = [0.2, 0.5, 0.8, 1.0, 1.5, 2.0] if quick else [0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0,
                                                          1.1, 1.5, 2.0, 3.0]
    theta, sigma = math.pi / 4, 0.2
    rows = []
    for g in gammas:
        rows.append([f"{g:10.2f}",
                     theory.risk("scratch", gamma=g, sigma=sigma),
                     theory.risk("linear", gamma=g, theta=theta, sigma=sigma),
                     theory.risk("linear", gamma=g, theta=theta, sigma=sigma, lam=0.1),
                     theory.risk("finetune", gamma=g, theta=theta, sigma=sigma),
                     theory.risk("finetune", gamma=g, theta=theta, sigma=sigma, form="paper"),
                     theory.transferability("finetune", gamma=g, theta=theta, sigma=sigma)])
    out = [_table(f"Risks at theta = pi/4, sigma = {sigma}, depth 2, population pretraining",
                  ["gamma", "scratch", "linear", "ridge 0.1", "ft exact", "ft paper", "T ft"],
                  rows)]
    ft = dict(gamma=0.6, theta=3 * math.pi / 8, sigma=0.5)
    rows = [[f"{L:10d}", theory.risk("finetune", depth=L, **ft),
             theory.risk("finetune", depth=L, form="paper", **ft)] for L in (2, 3, 4, 6)]
    out.append(_table("Fine-tuning, gamma = 0.6, theta = 3pi/8, sigma = 0.5: exact vs paper",
                      ["depth", "exact", "paper"], rows))
    rows = []
    for g in (0.2, 0.5, 0.8):
        rows.append([f"{g:10.2f}",
                     theory.phase_boundary("linear", gamma=g) / math.pi,
                     theory.phase_boundary("linear", gamma=g, sigma=0.2) / math.pi,
                     theory.phase_boundary("finetune", gamma=g, form="paper") / math.pi,
                     theory.phase_boundary("finetune", gamma=g, sigma=0.5, depth=3) / math.pi])
    out.append(_table("Phase boundaries theta*/pi (T > 0 below)",
                      ["gamma", "lin s=0", "lin s=.2", "ft paper", "ft L3 s=.5"], rows))
    return "\n".join(out)


MC_CASES = [
    ("scratch", dict(gamma=0.5, theta=math.pi / 4, sigma=0.3)),
    ("linear", dict(gamma=0.5, theta=math.pi / 4, sigma=0.3)),
    ("linear", dict(gamma=0.5, theta=math.pi / 4, sigma=0.3, lam=0.5)),
    ("linear", dict(gamma=0.5, theta=math.pi / 4, sigma=0.3, lam=0.5, gamma_s=0.5,
                    sigma_s=0.3, depth=3)),
    ("finetune", dict(gamma=0.5, theta=math.pi / 4, sigma=0.0)),
    ("finetune", dict(gamma=0.6, theta=3 * math.pi / 8, sigma=0.5, depth=3)),
    ("finetune", dict(gamma=0.5, theta=0.8, sigma=0.0, depth=3, gamma_s=0.5)),
]


def monte_carlo_table(quick: bool = False) -> str:
    """Theory (exact and, for fine-tuning, the paper's form) beside Monte-Carlo gradient flow;
    for fine-tuning also the distance of each run's endpoint to each form's prediction."""
    from .mc import simulate
    from .mc.mechanism import endpoint_distances

    d, instances = (100, 12) if quick else (200, 24)
    lines = [f"Theory vs Monte-Carlo gradient flow (d = {d}, {instances} instances, seed 0). "
             "Theory is asymptotic: expect O(1/d) offsets.",
             "Endpoint columns: per-run distance |beta_hat - prediction| on the same data "
             "(max for the exact form, min for the paper's).",
             f"{'method':>20}  {'parameters':<62} {'exact':>7} {'paper':>7} {'MC':>7} "
             f"{'+-sem':>6} {'end:exact':>9} {'end:paper':>9}"]
    for method, kw in MC_CASES:
        result = simulate(method, d=d, instances=instances, seed=0, progress=False, **kw)
        exact = theory.risk(method, **kw)
        label = method + ("/ridge" if kw.get("lam") else "") + (
            "/finite" if kw.get("gamma_s") else "")
        params = ",".join(f"{k}={v / math.pi:.3g}pi" if k == "theta" else f"{k}={v:.3g}"
                          for k, v in kw.items())
        paper = ends = ""
        if method == "finetune":
            paper = f"{theory.risk(method, form='paper', **kw):7.4f}"
            gaps = endpoint_distances(result)
            ends = f"{gaps['exact'].max():9.1e} {gaps['paper'].min():9.1e}"
        lines.append(f"{label:>20}  {params:<62} {exact:7.4f} {paper:>7} {result.mean:7.4f} "
                     f"{result.sem:6.4f} {ends}")
    return "\n".join(lines) + "\n"


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="symtransfer", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="build the report: tables, figures, formulas, "
                                        "theory vs Monte-Carlo (DIR/report.md)")
    rep.add_argument("--out", default="report", metavar="DIR",
                     help="report folder (default: report); rerunning reuses its data/")
    rep.add_argument("--quick", action="store_true",
                     help="small d and few instances: a fast smoke test of the whole report")
    rep.add_argument("--workers", type=_workers, metavar="N",
                     help="local worker processes for the simulations (default: one per "
                          "core; with --quick: none; 0 or 1: none)")
    rep.add_argument("--scheduler", metavar="ADDRESS",
                     help="run the simulations on this dask.distributed scheduler "
                          "(e.g. tcp://host:8786) instead of local processes")
    risk = sub.add_parser("risk", help="evaluate a risk or transferability")
    risk.add_argument("method", choices=("scratch", "linear", "finetune"))
    risk.add_argument("--gamma", type=float, nargs="+", required=True)
    risk.add_argument("--theta", type=float)
    risk.add_argument("--sigma", type=float, default=0.0)
    risk.add_argument("--lam", type=float, default=0.0)
    risk.add_argument("--depth", type=int, default=2)
    risk.add_argument("--gamma-s", type=float, dest="gamma_s")
    risk.add_argument("--sigma-s", type=float, default=0.0, dest="sigma_s")
    risk.add_argument("--form", choices=("exact", "paper"), default="exact")
    risk.add_argument("--precision", type=int)
    risk.add_argument("--transferability", action="store_true", help="print T instead of R")
    sub.add_parser("check", help="re-derive every formula and verify what symtransfer ships")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; bad input (ValueError, TypeError, arithmetic errors) is one line
    on stderr and exit status 2, never a traceback."""
    try:
        return _main(argv)
    except (ValueError, TypeError, ArithmeticError) as error:
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"symtransfer: error: {message}", file=sys.stderr)
        return 2


def _main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "report":
        print(theory_tables(quick=args.quick))
        from .report import build_report

        if args.scheduler:
            try:
                import distributed  # noqa: F401
            except ImportError:
                print("symtransfer report: error: --scheduler needs dask.distributed "
                      "(pip install 'symtransfer[distributed]')", file=sys.stderr)
                return 2
        try:
            path = build_report(args.out, quick=args.quick, workers=args.workers,
                                client=args.scheduler)
        except ModuleNotFoundError as error:
            print(f"symtransfer report: error: {error}; the report needs matplotlib "
                  "(pip install 'symtransfer[plots]')", file=sys.stderr)
            return 1
        except OSError as error:
            print(f"symtransfer report: error: {error}", file=sys.stderr)
            return 1
        print(f"\nreport: {path}")
        return 0
    if args.command == "risk":
        fn = theory.transferability if args.transferability else theory.risk
        try:
            values = fn(args.method, gamma=np.array(args.gamma), theta=args.theta,
                        sigma=args.sigma, lam=args.lam, depth=args.depth, gamma_s=args.gamma_s,
                        sigma_s=args.sigma_s, form=args.form, precision=args.precision)
        except (ValueError, TypeError) as error:
            print(f"symtransfer risk: error: {error}", file=sys.stderr)
            return 2
        for g, v in zip(args.gamma, np.atleast_1d(values)):
            if args.precision is not None:  # all requested digits, not mpmath's display default
                import mpmath

                v = mpmath.nstr(v, args.precision)
            print(f"gamma={g:g}\t{v}")
        return 0
    from derivations.__main__ import main as derive_main

    return derive_main()


if __name__ == "__main__":
    raise SystemExit(main())
