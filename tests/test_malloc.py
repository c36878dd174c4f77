"""symtransfer._malloc: the heap setting changes speed only, never a number."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from symtransfer import _malloc

SCRIPT = textwrap.dedent("""
    import json, sys
    from symtransfer import _malloc
    applied = _malloc.keep_freed_memory() if sys.argv[1] == "1" else False
    from symtransfer.relu import simulate_relu
    r = simulate_relu("finetune", gamma=0.5, theta=0.5, d=12, instances=2, seed=3,
                      progress=False)
    print(json.dumps({"applied": applied, "errors": r.errors.tolist()}))
""")


def _run(flag: str) -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT, flag], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_same_numbers_with_and_without_the_heap_setting():
    on, off = _run("1"), _run("0")
    assert on["errors"] == off["errors"]  # bit for bit
    if sys.platform.startswith("linux"):
        assert on["applied"] is True


def test_it_is_idempotent_and_returns_a_bool():
    first = _malloc.keep_freed_memory()
    assert isinstance(first, bool) and _malloc.keep_freed_memory() is first
