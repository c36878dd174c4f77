"""Control variates with exactly known means (symtransfer.mc.control): exact means, honest
standard errors, and the variance they remove from real fine-tuning runs."""
from __future__ import annotations

import math

import numpy as np
import pytest

from symtransfer import report
from symtransfer.mc import simulate
from symtransfer.mc.control import controlled_mean, design_controls
from symtransfer.mc.data import teachers
from symtransfer.mc.pipeline import target_design


class _Result:  # the fields design_controls reads from a SimulationResult
    def __init__(self, **params):
        self.params = params


@pytest.mark.parametrize("n", [8, 40])
def test_control_means_are_the_exact_finite_d_expectations(n):
    """Over 3000 designs (d = 20) every control's sample mean is within 4 standard errors
    of its stated mean: projection moments (n < d) and the inverse-Wishart trace."""
    d, K = 20, 3000
    C, mu = design_controls(_Result(d=d, instances=K, seed=3, gamma=n / d, theta=1.0))
    mean, sem = C.mean(axis=0), C.std(axis=0, ddof=1) / math.sqrt(K)
    live = sem > 1e-12  # n > d: the null-space controls are round-off
    assert np.all(np.abs(mean - mu)[live] <= 4 * sem[live]), (mean, mu, sem)
    assert np.all(np.abs(mean - mu)[~live] < 1e-12)  # n > d: no null space


def test_controls_are_computed_from_the_runs_own_design():
    d, K = 30, 5
    C, _ = design_controls(_Result(d=d, instances=K, seed=1, gamma=0.5, theta=0.7))
    design = target_design(1, K, d, 15)
    beta_s, _ = teachers(d, 0.7)
    X = design.X[2]
    P_perp = np.eye(d) - np.linalg.pinv(X) @ X
    assert C[2, 1] == pytest.approx(beta_s @ P_perp @ beta_s, rel=1e-10)
    assert C[2, 0] == pytest.approx(np.linalg.norm(np.linalg.pinv(X) @ design.eps[2]) ** 2,
                                    rel=1e-10)


def test_regression_estimator_standard_error_is_honest():
    """2000 synthetic experiments (K = 20, 4 controls, 90% of the variance explained): the
    z-scores (estimate - truth)/se have the t(15) spread, std sqrt(15/13) = 1.07 (known to
    ~2% from 2000 draws), and the variance ratio is ~1/(1 - R^2) = 10.5."""
    rng = np.random.default_rng(0)
    K, truth, mu = 20, 0.9, np.array([1.0, 0.5, 0.2, 0.5])
    z, ratios = [], []
    for _ in range(2000):
        C = mu + rng.standard_normal((K, 4)) * [0.3, 0.1, 0.05, 0.1]
        y = truth + (C - mu) @ [0.5, 2.0, -3.0, 1.0] + 0.1 * rng.standard_normal(K)
        est, se, ratio = controlled_mean(y, C, mu)
        z.append((est - truth) / se)
        ratios.append(ratio)
    assert abs(np.mean(z)) < 4 / math.sqrt(2000)
    assert np.std(z) == pytest.approx(math.sqrt(15 / 13), rel=0.06)
    assert 8.5 < np.median(ratios) < 12.5  # var(y) = 0.105, residual 0.01: 10.5


def test_useless_controls_change_nothing_and_constant_ones_are_dropped():
    rng = np.random.default_rng(1)
    y = 2.0 + rng.standard_normal(400)
    C = np.column_stack([rng.standard_normal(400), np.zeros(400)])
    est, se, ratio = controlled_mean(y, C, np.zeros(2))
    assert est == pytest.approx(y.mean(), abs=3 * y.std() / 20 / 10)
    assert se == pytest.approx(y.std(ddof=1) / 20, rel=0.02)
    assert ratio == pytest.approx(1.0, abs=0.02)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="too few"):
        controlled_mean(np.ones(5), np.random.default_rng(0).standard_normal((5, 4)), np.zeros(4))
    with pytest.raises(ValueError, match="must be"):
        controlled_mean(np.ones(5), np.ones((4, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="infinite"):
        design_controls(_Result(d=20, instances=2, seed=0, gamma=1.0, theta=0.5))


def test_fine_tuning_run_variance_falls_tenfold_and_the_mean_stays():
    """Fine-tuning at d = 100 (16 instances): the controlled mean agrees with the plain one
    within 4 plain sems (it estimates the same expectation) and the controls remove most of
    the variance (measured ~50x at this point; asserted > 10x)."""
    r = simulate("finetune", gamma=0.6, theta=3 * math.pi / 8, sigma=0.5, d=100,
                 instances=16, seed=0, progress=False)
    est, se, ratio = controlled_mean(r.errors, *design_controls(r))
    assert abs(est - r.mean) <= 4 * r.sem
    assert ratio > 10 and se < r.sem / 3


def test_scaling_check_uses_the_controls_when_runs_carry_them():
    params = dict(report.FULL.fss_params)
    rng = np.random.default_rng(2)
    runs = []
    for d in (100, 200, 400):
        C = rng.standard_normal((20, 4))
        errors = 0.95 + 1.0 / d + C @ [0.2, 0.1, 0.1, 0.1] + 1e-3 * rng.standard_normal(20)
        runs.append({"errors": errors, "converged": np.ones(20), "controls": C,
                     "control_means": np.zeros(4)})
    check = report.scaling_check(params, (100, 200, 400), runs, 20)
    assert len(check.variance_ratios) == 3 and min(check.variance_ratios) > 100
    assert check.intercept == pytest.approx(0.95, abs=5 * check.intercept_se)
    assert check.intercept_se < 2e-3
    assert "variance reduction" in "\n".join(report._scaling_markdown(check))
