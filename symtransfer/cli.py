"""Command line: ``symtransfer report | risk | check``.

* ``symtransfer report`` prints the main tables: risks and transferabilities of every method
  over gamma, the exact fine-tuning form against the paper's, and the phase boundaries.
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
    """The text report: tables of theory values (figures come with issue #4)."""
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="symtransfer", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="print the report of theory tables")
    rep.add_argument("--quick", action="store_true", help="fewer rows")
    rep.add_argument("--out", help="also write the report to this directory (report.md)")
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
    args = _parser().parse_args(argv)
    if args.command == "report":
        text = report(quick=args.quick)
        print(text)
        if args.out:
            from pathlib import Path

            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            (out / "report.md").write_text("```\n" + text + "```\n")
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
            print(f"gamma={g:g}\t{v}")
        return 0
    from derivations.__main__ import main as derive_main

    return derive_main()


if __name__ == "__main__":
    raise SystemExit(main())
