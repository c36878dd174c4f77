"""``python -m derivations [MODULE ...]``: re-derive everything (or the named modules), print
one line per check, exit 1 on failure (2 for an unknown module name)."""
from __future__ import annotations

import sys
import time

from . import MODULES, run_all


def main(argv: list[str] | None = None) -> int:
    """Run the checks (of the modules named in ``argv``; None or empty: all) and print the
    table; the exit code is 1 if any check failed."""
    names = list(argv or [])
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        print(f"derivations: unknown module(s) {unknown}; choose among {list(MODULES)}",
              file=sys.stderr)
        return 2
    start = time.perf_counter()
    results = run_all(names or None)
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
    sys.exit(main(sys.argv[1:]))
