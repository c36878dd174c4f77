"""symtransfer: derived, checked and fast theory of transfer learning in high-dimensional regression.

Numeric API (numpy only; sympy is imported on first symbolic use):

* :func:`risk` — generalization error of 'scratch', 'linear' (ridge) or 'finetune' training;
* :func:`transferability` — T = R_scratch - R_method;
* :func:`phase_boundary` — theta* where T changes sign;
* :func:`optimal_penalty` — the pretraining penalty mu* that maximizes fine-tuning's T;
* :func:`simulate` — the Monte-Carlo twin of :func:`risk` (gradient flow at finite d).

Symbolic API: :func:`expr` (the sympy expression behind each number) and :func:`check`
(does a user's expression equal ours?), :func:`evaluate` (recompute one at a point).
"""
from __future__ import annotations

from typing import Any

from .mc import ConvergenceError, SimulationResult, simulate
from .theory import anomalous_transfer, optimal_penalty, phase_boundary, risk, transferability

__version__ = "0.1.0"
__all__ = ["risk", "transferability", "phase_boundary", "anomalous_transfer", "optimal_penalty",
           "simulate",
           "SimulationResult", "ConvergenceError", "expr", "check", "evaluate", "__version__"]


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
