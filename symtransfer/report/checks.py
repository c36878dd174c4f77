"""Theory vs Monte-Carlo agreement: the reference value of each case, its allowance for
finite-size effects, and the verdict ``|mean - theory| <= Z sem + allowance``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import methods, theory
from .config import Z


def reference(method: str, params: dict, d: int) -> tuple[float, str, float, str]:
    """(theory value, what it is, allowance, why) for a Monte-Carlo mean at dimension d, as
    the method declares it (:attr:`symtransfer.methods.Method.agreement`).

    The allowances are those of ``tests/test_mc.py``: zero for exact finite-d expectations;
    otherwise the stated finite-size effect of the asymptotic formula.
    """
    declared = methods.get(method)
    if declared.agreement is not None:
        return declared.agreement(dict(params), d)
    return float(theory.risk(method, **params)), "asymptotic", 0.0, "0 (none declared)"


@dataclass
class Check:
    """One theory vs Monte-Carlo comparison."""

    label: str
    method: str
    params: dict
    d: int
    instances: int
    reference: str
    theory: float
    mean: float
    sem: float
    allowance: float
    why: str
    paper: float | None = None
    paired: tuple[float, float] | None = None  # mean, sem of R_run - R(paper endpoint)
    dist_exact: float | None = None  # max over runs
    dist_paper: float | None = None  # min over runs
    converged: bool = True

    @property
    def z(self) -> float:
        return (self.mean - self.theory) / self.sem if self.sem > 0 else math.inf

    @property
    def bound(self) -> float:
        return Z * self.sem + self.allowance

    @property
    def ok(self) -> bool:
        return self.converged and abs(self.mean - self.theory) <= self.bound


def _summarize(errors: np.ndarray) -> tuple[float, float]:
    k = errors.size
    return float(errors.mean()), float(errors.std(ddof=1) / math.sqrt(k)) if k > 1 else math.nan


def _case_label(method: str, kw: dict) -> str:
    return method + ("/ridge" if kw.get("lam") else "") + ("/finite source" if kw.get(
        "gamma_s") is not None else "")


def _fmt_params(kw: dict) -> str:
    """Parameters at their non-default values (lam = 0, depth 2, population source omitted)."""
    from ..plots import PARAM_SYMBOLS
    from ..plots._common import param_label

    defaults = {"lam": 0.0, "depth": 2, "sigma_s": 0.0, "mu": 0.0}
    order = list(PARAM_SYMBOLS)
    shown = [k for k in sorted(kw, key=lambda k: order.index(k) if k in order else len(order))
             if kw[k] is not None and not (k in defaults and kw[k] == defaults[k])]
    return ", ".join(param_label(k, kw[k], sep="=") for k in shown)


def agreement_checks(cases, runs: list[dict], d: int, instances: int) -> list[Check]:
    checks = []
    for (method, kw), run in zip(cases, runs):
        errors = run["errors"]
        converged = bool(run["converged"].all())
        mean, sem = _summarize(errors)
        value, what, allow, why = reference(method, kw, d)
        check = Check(_case_label(method, kw), method, dict(kw), d, instances, what, value,
                      mean, sem, allow, why, converged=converged)
        if "paper_errors" in run:  # the method predicts each form's endpoint
            check.paper = float(theory.risk(method, form="paper", **kw))
            check.paired = _summarize(errors - run["paper_errors"])
            check.dist_exact = float(run["dist_exact"].max())
            check.dist_paper = float(run["dist_paper"].min())
        checks.append(check)
    return checks


def sweep_checks(sweep, label: str) -> list[Check]:
    """Every point of a sweep against :func:`reference`."""
    from ..sweep import AXES

    out = []
    mean, sem = sweep.mean(), sweep.sem()
    d = int(sweep.settings["d"])
    for index, params in sweep.points():
        kw = {k: v for k, v in {**sweep.settings, **params}.items() if k in AXES}
        declared = methods.get(sweep.method)
        kw = {k: v for k, v in kw.items() if not (k == "theta" and not declared.uses_theta)}
        if not declared.uses_lam or declared.reference:  # lam: the transfer's ridge only
            kw.pop("lam", None)
        value, what, allow, why = reference(sweep.method, kw, d)
        ok = bool(np.isfinite(mean[index]))
        out.append(Check(label, sweep.method, kw, d, int(sweep.settings["instances"]), what,
                         value, float(mean[index]), float(sem[index]), allow, why,
                         converged=ok))
    return out


def _chance(instances: int, count: int) -> float:
    """Expected number of ``count`` checks outside Z sem by chance (two-sided Student t with
    ``instances - 1`` degrees of freedom; scipy.special's CDF, a fraction of scipy.stats's
    import)."""
    from scipy.special import stdtr

    return count * 2 * float(stdtr(instances - 1, -Z))


# ------------------------------------------------------- fine-tuning, finite-size scaling

@dataclass
class ScalingCheck:
    """Fine-tuning means at several d, fitted by ``a + b/d`` (weighted least squares, weights
    1/sem^2), and the intercept a (the d -> infinity limit) against both theory forms.

    The means are control-variate estimates (:mod:`symtransfer.mc.control`: design
    fluctuations with exactly known means, no transfer formula) where the runs carry
    controls, plain means otherwise."""

    params: dict
    ds: tuple
    instances: int
    means: tuple
    sems: tuple
    intercept: float
    intercept_se: float
    slope: float
    chi2: float
    exact: float
    paper: float
    converged: bool
    #: per d, var(plain mean) / var(control-variate mean); empty: plain means were used
    variance_ratios: tuple = ()

    @property
    def z_exact(self) -> float:
        return (self.intercept - self.exact) / self.intercept_se

    @property
    def z_paper(self) -> float:
        return (self.intercept - self.paper) / self.intercept_se

    @property
    def accepts_exact(self) -> bool:
        return self.converged and abs(self.z_exact) <= Z

    @property
    def rejects_paper(self) -> bool:
        return self.converged and abs(self.z_paper) >= 5.0


def fit_inverse_d(ds, means, sems) -> tuple[float, float, float, float]:
    """Weighted least-squares fit ``mean_d = a + b/d``: (a, se(a), b, chi^2). The standard
    error is from the sems (known variances), not rescaled by chi^2 (reported instead)."""
    x = 1.0 / np.asarray(ds, dtype=float)
    y, w = np.asarray(means, dtype=float), 1.0 / np.asarray(sems, dtype=float) ** 2
    A = np.stack([np.ones_like(x), x], axis=1)
    cov = np.linalg.inv(A.T @ (w[:, None] * A))
    a, b = cov @ (A.T @ (w * y))
    chi2 = float(np.sum(w * (y - a - b * x) ** 2))
    return float(a), float(np.sqrt(cov[0, 0])), float(b), chi2


def scaling_check(params: dict, ds, runs: list[dict], instances: int) -> ScalingCheck:
    """The finite-size-scaling check from one fine-tuning run per d (with control variates
    where every run carries them)."""
    from ..mc.control import controlled_mean

    if all("controls" in run for run in runs):
        fits = [controlled_mean(run["errors"], run["controls"], run["control_means"])
                for run in runs]
        means, sems, ratios = zip(*fits)
    else:
        (means, sems), ratios = zip(*(_summarize(run["errors"]) for run in runs)), ()
    a, se, b, chi2 = fit_inverse_d(ds, means, sems)
    exact = float(theory.risk("finetune", **params))
    paper = float(theory.risk("finetune", form="paper", **params))
    return ScalingCheck(dict(params), tuple(ds), instances, tuple(means), tuple(sems), a, se,
                        b, chi2, exact, paper,
                        all(bool(run["converged"].all()) for run in runs), tuple(ratios))
