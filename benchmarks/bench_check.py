"""Time symtransfer.check over the test battery (tests/check_battery.py).

Prints each case's time and verdict, then the median and the worst (targets: median < 0.2 s,
worst < 5 s). The first pass includes one-time costs (sympy caches, the LaTeX parser's
import); the second pass is what a session of checks sees. Run: python benchmarks/bench_check.py
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import symtransfer as st  # noqa: E402
from check_battery import CASES  # noqa: E402


def run_pass() -> list[tuple[str, float, str, bool]]:
    rows = []
    for case in CASES:
        start = time.perf_counter()
        result = st.check(case.candidate, case.reference, **case.options)
        rows.append((case.id, time.perf_counter() - start, result.verdict,
                     result.verdict == case.verdict))
    return rows


def main() -> None:
    for label in ("first pass (cold)", "second pass"):
        rows = run_pass()
        times = [t for _, t, _, _ in rows]
        if label.startswith("second"):
            for name, t, verdict, ok in sorted(rows, key=lambda r: -r[1])[:10]:
                print(f"  {name:32s} {t:7.3f} s  {verdict:9s} {'ok' if ok else 'WRONG'}")
        wrong = [name for name, _, _, ok in rows if not ok]
        worst = max(rows, key=lambda r: r[1])
        print(f"{label}: {len(rows)} checks, median {statistics.median(times):.3f} s, "
              f"worst {worst[1]:.3f} s ({worst[0]}), total {sum(times):.1f} s; "
              f"verdicts right: {len(rows) - len(wrong)}/{len(rows)}"
              + (f" WRONG: {wrong}" if wrong else ""))


if __name__ == "__main__":
    main()
