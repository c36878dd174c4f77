"""``python -m derivations``: re-derive everything, print one line per check, exit 1 on failure."""
from __future__ import annotations

import sys
import time

from . import run_all


def main() -> int:
    """Run all checks and print the table; the exit code is the number of failures (capped at 1)."""
    start = time.perf_counter()
    results = run_all()
    elapsed = time.perf_counter() - start
    width = max(len(r.name) for r in results)
    how_width = max(len(r.how) for r in results)
    for r in results:
        print(f"{r.name:<{width}}  {'PASS' if r.ok else 'FAIL'}  {r.how:<{how_width}}  {r.detail}")
    failed = [r for r in results if not r.ok]
    print(f"\n{len(results)} checks, {len(results) - len(failed)} passed, {len(failed)} failed "
          f"({elapsed:.1f} s)")
    for r in failed:
        print(f"FAILED: {r.name}: {r.detail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
