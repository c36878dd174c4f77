"""The report: figures, formulas, derivation status and theory vs Monte-Carlo, in one page.

``build_report(out)`` runs the Monte-Carlo it needs (sweeps with
:func:`symtransfer.sweep.run_sweep`, saved under ``out/data``, so a rerun reuses them and an
interrupted run resumes), draws every figure family of :mod:`symtransfer.plots` as PNG and PDF
under ``out/figures``, re-derives every formula (``derivations.run_all``, cached under
``out/data`` by a hash of the derivation and formula sources) and writes ``out/report.md``:

* the figures with captions;
* every shipped formula in LaTeX with its derivation status;
* the theory vs Monte-Carlo agreement: the cases of ``symtransfer.tables.MC_CASES`` and every
  point of the sweeps, each judged by ``|mean - theory| <= 4 sem + allowance``, the
  allowance being zero where the theory is an exact finite-d expectation (scratch, ridgeless
  linear transfer with population pretraining, fine-tuning above gamma = 1) and the stated
  finite-size effect otherwise; for fine-tuning also the per-run distances to the endpoint
  each form predicts (:func:`symtransfer.mc.mechanism.endpoint_distances`), and a
  finite-size-scaling check: the fine-tuning mean at d = 100 ... 800 fitted by a + b/d, its
  intercept (with its standard error) against both forms from the means alone.

Modules: :mod:`.config` (settings), :mod:`.runs` (Monte-Carlo), :mod:`.checks` (agreement
verdicts), :mod:`.derivation_cache`, :mod:`.latex` (formulas), :mod:`.figures` (one function
per figure family, each with its caption), :mod:`.markdown` and :mod:`.build`.

The default finishes in about 62-68 s on two idle cores (about 125 s of CPU: re-deriving
the formulas is a quarter of it); ``quick=True`` (small d, few instances: a smoke test of the
whole pipeline, whose time is mostly the derivations) in about 45 s.
"""

from __future__ import annotations

from .build import build_report
from .checks import (
    Check,
    ScalingCheck,
    agreement_checks,
    fit_inverse_d,
    reference,
    scaling_check,
    sweep_checks,
)
from .config import FULL, QUICK, Config
from .markdown import _scaling_markdown  # noqa: F401  (used by the tests)

__all__ = ["build_report", "Check", "ScalingCheck", "fit_inverse_d", "scaling_check", "agreement_checks", "reference", "sweep_checks", "Config",
           "FULL", "QUICK"]
