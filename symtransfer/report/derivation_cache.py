"""The derivations behind the report: ``derivations.run_all()``, cached by a hash of their
sources (and sympy/mpmath versions) or run in the report's worker processes beside the
Monte-Carlo.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from .._ranked_pool import RankedPool
from .config import _Log


def _derivation_sources() -> list[Path]:
    """Every file the derivations read: their own modules and all of symtransfer's Python
    sources (they import the shipped expressions, roots, teachers, spectra, simulators), so
    a change anywhere there re-derives rather than reusing a stale verdict."""
    from symtransfer import derivations

    here = Path(__file__).resolve().parent.parent  # symtransfer/
    root = Path(derivations.__file__).resolve().parent
    return sorted(root.glob("*.py")) + sorted(here.rglob("*.py"))


def _derivation_key() -> str:
    import mpmath
    import sympy

    h = hashlib.sha256(f"sympy {sympy.__version__} mpmath {mpmath.__version__}".encode())
    for path in _derivation_sources():
        if path.exists():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()


#: CPU seconds of each derivation module (measured one after another in one process,
#: 2026-12-03, after the L2-SP and distance checks got cheaper; only their ratios matter);
#: a module not listed counts as :data:`_UNKNOWN_COST`. Used only to balance the tasks the
#: report hands its workers.
_COST = {"primitives": 1.2, "scratch": 0.1, "source": 0.2, "linear": 0.3, "finetune": 3.1,
         "phase": 5.6, "properties": 0.3, "ridge": 1.0, "distances": 2.8, "penalty": 1.8,
         "spectra": 2.0, "spectra_source": 2.8, "spectra_aligned": 1.2, "optimizers": 1.0,
         "early_stopping": 3.6, "lp_ft": 5.1, "l2sp": 2.5}
_UNKNOWN_COST = 3.0
#: modules that share derived results (phase reuses finetune's risks): one process each
_TOGETHER = (("phase", "finetune"),)


def _groups(modules: tuple[str, ...], count: int) -> list[tuple[str, ...]]:
    """``modules`` in ``count`` groups of similar cost (largest first onto the lightest
    group), each group in the order of ``modules``."""
    units = [tuple(m for m in unit if m in modules) for unit in _TOGETHER]
    units = [u for u in units if u]
    units += [(m,) for m in modules if not any(m in u for u in units)]
    cost = lambda unit: sum(_COST.get(m, _UNKNOWN_COST) for m in unit)  # noqa: E731
    groups: list[list[str]] = [[] for _ in range(count)]
    for unit in sorted(units, key=cost, reverse=True):
        min(groups, key=lambda g: cost(g)).extend(unit)
    return [tuple(m for m in modules if m in g) for g in groups if g]


def _derive(modules: tuple[str, ...] | None = None) -> tuple[list[tuple], float]:
    """derivations.run_all() (of ``modules``) as plain tuples, and the CPU seconds it took
    (runs in a worker process)."""
    from symtransfer import derivations

    t = time.process_time()
    results = derivations.run_all(modules)
    return [(r.name, bool(r.ok), r.how, r.detail) for r in results], time.process_time() - t


class _Derivations:
    """derivations.run_all(), from the cache when its sources are unchanged, otherwise as
    ``groups`` tasks (modules of similar cost) of rank ``rank`` in ``pool``, the report's
    worker processes: fillers that any worker the more urgent work leaves free takes while
    the Monte-Carlo runs."""

    def __init__(self, data: Path, pool: RankedPool, groups: int, log: _Log,
                 rank: int = 0) -> None:
        self.path = data / "derivations.json"
        self.key = _derivation_key()
        self.log = log
        self.cached = None
        self.future = []
        if self.path.exists():
            try:
                saved = json.loads(self.path.read_text())
                if saved.get("key") == self.key:
                    self.cached = ([tuple(r) for r in saved["results"]], saved["seconds"])
            except (OSError, ValueError, KeyError):
                pass
        if self.cached is None:
            from symtransfer import derivations

            chosen = _groups(tuple(derivations.MODULES), max(1, groups))
            self.future = [pool.submit_ranked(rank, _derive, g) for g in chosen]
            log(f"derivations: re-deriving every formula in {len(chosen)} background "
                "tasks")

    def result(self) -> tuple[list[tuple], float, bool]:
        if self.cached is not None:
            self.log("derivations: sources unchanged, reused derivations.json")
            return (*self.cached, True)
        parts = [f.result() for f in self.future]
        results = [r for part, _ in parts for r in part]
        seconds = sum(s for _, s in parts)  # CPU time of the tasks, added up
        self.path.write_text(json.dumps({"key": self.key, "seconds": seconds,
                                         "results": results}, indent=1))
        failed = sum(1 for r in results if not r[1])
        self.log(f"derivations: {len(results)} checks, {failed} failed ({seconds:.1f} s of CPU)")
        return results, seconds, False
