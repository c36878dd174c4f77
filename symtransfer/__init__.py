"""symtransfer: derived, checked and fast theory of transfer learning in high-dimensional regression.

Numeric API (numpy only; sympy is imported on first symbolic use):

* :func:`risk` — generalization error of 'scratch', 'linear' (ridge), 'finetune' or 'lp_ft'
  (linear probe, then fine-tuning) training;
* :func:`transferability` — T = R_scratch - R_method;
* :func:`phase_boundary` — theta* where T changes sign;
* :func:`optimal_penalty` — the pretraining penalty mu* that maximizes fine-tuning's T;
* :func:`simulate` — the Monte-Carlo twin of :func:`risk` (gradient flow at finite d);
* :func:`early_stopping` / :func:`early_stopping_theory` — risk against stopping time, the
  oracle-stopped and validation-stopped risks (simulated / mean-field theory).

Symbolic API: :func:`expr` (the sympy expression behind each number) and :func:`check`
(does a user's expression equal ours?), :func:`evaluate` (recompute one at a point).

Subpackages are attributes, imported on first use (PEP 562), so ``import symtransfer`` stays
light (no sympy, no matplotlib): ``symtransfer.distances`` (dataset distances and the feature
overlap), ``symtransfer.sweep`` (grids of simulations, files, dask), ``symtransfer.relu``
(two-layer ReLU networks), ``symtransfer.mc`` (the gradient-flow simulator),
``symtransfer.checker`` (the machinery of :func:`check`) and ``symtransfer.derivations`` (the
re-derivation of every shipped formula; the repository's ``derivations/`` folder).
"""
from __future__ import annotations

import importlib as _importlib
import importlib.util as _importlib_util
import sys as _sys
from pathlib import Path as _Path
from typing import Any

from .mc import ConvergenceError, SimulationResult, simulate
from .theory import (
    anomalous_transfer,
    optimal_lam,
    optimal_penalty,
    phase_boundary,
    risk,
    transferability,
)

__version__ = "0.1.0"
__all__ = ["risk", "transferability", "phase_boundary", "anomalous_transfer", "optimal_penalty",
            "optimal_lam", "simulate", "early_stopping", "early_stopping_theory",
           "SimulationResult", "ConvergenceError", "expr", "check", "evaluate", "__version__"]


def early_stopping(method: str, **options: Any):
    """Risk against stopping time, oracle and validation-split stopping, simulated; see
    :func:`symtransfer.mc.stopping.early_stopping`."""
    from .mc.stopping import early_stopping as _early_stopping

    return _early_stopping(method, **options)


def early_stopping_theory(method: str, **options: Any):
    """The mean-field (d -> infinity) risk curve along gradient flow and its stopping risks;
    see :func:`symtransfer.dynamics.stopping_theory`."""
    from .dynamics import stopping_theory

    return stopping_theory(method, **options)


def expr(method: str, **options: Any):
    """The sympy expression for ``method``; see :func:`symtransfer.symbolic.expr`."""
    from .symbolic import expr as _expr

    return _expr(method, **options)


def check(candidate: Any, reference: Any, **options: Any):
    """Check a candidate expression; see :func:`symtransfer.symbolic.check`."""
    from .symbolic import check as _check

    return _check(candidate, reference, **options)


def evaluate(expression: Any, point: dict, **options: Any):
    """An expression (text, LaTeX, sympy or a method name) at an exact point; see
    :func:`symtransfer.checker.evaluate`."""
    from .checker import evaluate as _evaluate

    return _evaluate(expression, point, **options)


#: Subpackages and modules that are attributes of ``symtransfer``, imported on first access.
_LAZY = ("checker", "derivations", "distances", "mc", "relu", "sweep")


def _derivations():
    """``symtransfer.derivations``: the installed subpackage (``pip install``, editable or not:
    pyproject.toml maps the repository's ``derivations/`` folder to it), or, when this
    ``symtransfer`` is a source checkout that the installed mapping does not reach (not
    installed, or another copy installed), the checkout's ``derivations/`` folder itself."""
    name = f"{__name__}.derivations"
    try:
        return _importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
    folder = _Path(__file__).resolve().parent.parent / "derivations"
    if not (folder / "__init__.py").is_file():
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    spec = _importlib_util.spec_from_file_location(name, folder / "__init__.py",
                                                   submodule_search_locations=[str(folder)])
    module = _importlib_util.module_from_spec(spec)
    _sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del _sys.modules[name]
        raise
    return module


def __getattr__(name: str):
    """PEP 562: import the subpackages of :data:`_LAZY` on first attribute access."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _derivations() if name == "derivations" else _importlib.import_module(
        f"{__name__}.{name}")
    globals()[name] = module
    return module


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
