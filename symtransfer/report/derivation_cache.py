"""The derivations behind the report: ``derivations.run_all()``, cached by a hash of their
sources (and sympy/mpmath versions) or run in a background process beside the Monte-Carlo.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from ..sweep import process_pool
from .config import _Log


def _derivation_sources() -> list[Path]:
    from symtransfer import derivations

    here = Path(__file__).resolve().parent.parent  # symtransfer/
    root = Path(derivations.__file__).resolve().parent
    return sorted(root.glob("*.py")) + [here / "formulas.py", here / "symbols.py",
                                        here / "_roots.py"]


def _derivation_key() -> str:
    import mpmath
    import sympy

    h = hashlib.sha256(f"sympy {sympy.__version__} mpmath {mpmath.__version__}".encode())
    for path in _derivation_sources():
        if path.exists():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()


#: the derivation modules split in two groups of similar cost (~12 s each on this machine;
#: phase reuses finetune's derived risks, so they share a process)
_GROUPS = (("phase", "finetune", "primitives", "scratch", "source", "linear", "properties",
            "spectra_source"),
           ("distances", "penalty", "ridge", "spectra", "optimizers", "spectra_aligned"))


def _derive(modules: tuple[str, ...] | None = None) -> tuple[list[tuple], float]:
    """derivations.run_all() (of ``modules``) as plain tuples (runs in a worker process)."""
    from symtransfer import derivations

    t = time.perf_counter()
    results = derivations.run_all(modules)
    return [(r.name, bool(r.ok), r.how, r.detail) for r in results], time.perf_counter() - t


class _Derivations:
    """derivations.run_all(), from the cache when its sources are unchanged, otherwise in two
    background processes (two groups of modules of similar cost) while the Monte-Carlo runs."""

    def __init__(self, data: Path, background: bool, log: _Log) -> None:
        self.path = data / "derivations.json"
        self.key = _derivation_key()
        self.log = log
        self.cached = None
        self.future = self.pool = None
        if self.path.exists():
            try:
                saved = json.loads(self.path.read_text())
                if saved.get("key") == self.key:
                    self.cached = ([tuple(r) for r in saved["results"]], saved["seconds"])
            except (OSError, ValueError, KeyError):
                pass
        if self.cached is None and background:
            from symtransfer import derivations

            groups = list(_GROUPS)
            rest = tuple(m for m in derivations.MODULES if not any(m in g for g in groups))
            groups[-1] = groups[-1] + rest  # a module added later still runs
            self.pool = process_pool(len(groups))
            self.future = [self.pool.submit(_derive, g) for g in groups]
            log(f"derivations: re-deriving every formula in {len(groups)} background "
                "processes")

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None

    def result(self) -> tuple[list[tuple], float, bool]:
        if self.cached is not None:
            self.log("derivations: sources unchanged, reused derivations.json")
            return (*self.cached, True)
        if self.future is not None:
            parts = [f.result() for f in self.future]
            self.close()
            results = [r for part, _ in parts for r in part]
            seconds = max(s for _, s in parts)  # wall time: the groups run side by side
        else:
            results, seconds = _derive()
        self.path.write_text(json.dumps({"key": self.key, "seconds": seconds,
                                         "results": results}, indent=1))
        failed = sum(1 for r in results if not r[1])
        self.log(f"derivations: {len(results)} checks, {failed} failed ({seconds:.1f} s)")
        return results, seconds, False
