"""The report's finite-size-scaling check of fine-tuning: the a + b/d fit and its verdicts."""
from __future__ import annotations

import math

import numpy as np
import pytest

from symtransfer import report, theory


def test_fit_recovers_a_line_in_one_over_d_with_the_textbook_error():
    ds = np.array([100, 200, 400, 800])
    sems = np.array([0.02, 0.015, 0.01, 0.008])
    a, b = 0.9, 3.0
    fit_a, se, fit_b, chi2 = report.fit_inverse_d(ds, a + b / ds, sems)
    assert fit_a == pytest.approx(a, abs=1e-12) and fit_b == pytest.approx(b, abs=1e-9)
    assert chi2 == pytest.approx(0.0, abs=1e-18)
    # se(a)^2 = [(A^T W A)^-1]_00, A = [1, 1/d]
    w = 1 / sems ** 2
    S0, S1, S2 = w.sum(), (w / ds).sum(), (w / ds ** 2).sum()
    assert se == pytest.approx(math.sqrt(S2 / (S0 * S2 - S1 ** 2)), rel=1e-12)


def test_fit_error_is_the_spread_of_intercepts_over_noisy_means():
    rng = np.random.default_rng(0)
    ds = np.array([100, 200, 400, 800])
    sems = np.array([0.02, 0.015, 0.01, 0.008])
    fits = [report.fit_inverse_d(ds, 0.9 + 3.0 / ds + sems * rng.standard_normal(4), sems)
            for _ in range(4000)]
    a = np.array([f[0] for f in fits])
    se = fits[0][1]
    assert abs(a.mean() - 0.9) < 4 * se / math.sqrt(a.size)
    assert a.std() == pytest.approx(se, rel=0.05)  # 4000 draws: the std is known to ~1.1%


def _runs(means, sems, instances=40, converged=True):
    """Synthetic per-d runs with the given mean and sem (errors mean +- sem*sqrt(K))."""
    out = []
    for m, s in zip(means, sems):
        z = np.resize([1.0, -1.0], instances)
        errors = m + s * math.sqrt(instances) * z * math.sqrt((instances - 1) / instances)
        out.append({"errors": errors, "converged": np.full(instances, float(converged))})
    return out


def test_verdicts_accept_the_exact_form_and_reject_the_paper():
    params = dict(report.FULL.fss_params)
    exact = theory.risk("finetune", **params)
    paper = theory.risk("finetune", form="paper", **params)
    ds = (100, 200, 400, 800)
    sems = (0.02, 0.015, 0.01, 0.008)
    at_exact = report.scaling_check(params, ds, _runs([exact + 2.0 / d for d in ds], sems), 40)
    assert at_exact.intercept == pytest.approx(exact, abs=1e-9)
    assert at_exact.accepts_exact and at_exact.rejects_paper
    at_paper = report.scaling_check(params, ds, _runs([paper + 2.0 / d for d in ds], sems), 40)
    assert not at_paper.accepts_exact and not at_paper.rejects_paper
    stuck = report.scaling_check(params, ds, _runs([exact] * 4, sems, converged=False), 40)
    assert not stuck.accepts_exact and not stuck.rejects_paper
    text = "\n".join(report._scaling_markdown(at_exact))
    assert "a + b/d" in text and "exact form accepted, paper's rejected" in text
