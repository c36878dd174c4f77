"""The report: figures, formulas, derivation status and theory vs Monte-Carlo, in one page.

``build_report(out)`` runs the Monte-Carlo it needs (sweeps with
:func:`symtransfer.sweep.run_sweep`, saved under ``out/data``, so a rerun reuses them and an
interrupted run resumes), draws every figure family of :mod:`symtransfer.plots` as PNG and PDF
under ``out/figures``, re-derives every formula (``derivations.run_all``, cached under
``out/data`` by a hash of the derivation and formula sources) and writes ``out/report.md``:

* the figures with captions;
* every shipped formula in LaTeX with its derivation status;
* the theory vs Monte-Carlo agreement: the cases of ``symtransfer.cli.MC_CASES`` and every
  point of the sweeps, each judged by ``|mean - theory| <= 4 sem + allowance``, the
  allowance being zero where the theory is an exact finite-d expectation (scratch, ridgeless
  linear transfer with population pretraining, fine-tuning above gamma = 1) and the stated
  finite-size effect otherwise; for fine-tuning also the per-run distances to the endpoint
  each form predicts (:func:`symtransfer.mc.mechanism.endpoint_distances`), and a
  finite-size-scaling check: the fine-tuning mean at d = 100 ... 800 fitted by a + b/d, its
  intercept (with its standard error) against both forms from the means alone.

The default finishes in about 4-5 minutes on two cores (the finite-size scaling, up to
d = 800, is half of it); ``quick=True`` (small d, few instances: a smoke test of the whole
pipeline) in well under a minute.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import theory
from .sweep import one_blas_thread, process_pool

PI = math.pi
Z = 4.0  # |mean - theory| <= Z sem + allowance


# ------------------------------------------------------------------------------ config

@dataclass(frozen=True)
class Config:
    """Grids and sizes of one report. All gammas times d (and gamma_s times d) are whole."""

    name: str
    d: int  # sweeps
    instances: int
    seed: int = 0
    sigma: float = 0.2  # the authors' noisy setting
    # gradient flow needs ever more steps near gamma = 1 (condition number of the design):
    # at d = 100, gamma = 1.2 costs ~9000 Heun steps, 1.3 ~4700, 0.8 ~3300
    phase_gammas: tuple = (0.2, 0.4, 0.6, 0.8, 1.3, 1.6, 2.0)
    phase_thetas: tuple = tuple(k * PI / 16 for k in range(1, 8))  # (pi/2)(k/8)
    dd_gammas: tuple = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.3, 1.6, 2.0, 2.5, 3.0)
    slice_thetas: tuple = (PI / 8, PI / 4, 3 * PI / 8)
    ridge_d: int = 400
    ridge_instances: int = 16
    ridge_gamma: float = 0.5
    ridge_lams: tuple = (0.0, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0)
    forms_gammas: tuple = (0.2, 0.4, 0.6, 0.8, 1.3, 1.6)
    forms_theta: float = 3 * PI / 8
    forms_depth: int = 2
    forms_instances: int = 16
    table_d: int = 200
    table_instances: int = 16
    # fine-tuning after pretraining with the penalty mu |w - w_0|^2 (scratch: the dd sweep)
    penalty_gamma: float = 0.5
    penalty_mus: tuple = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.2)
    penalty_thetas: tuple = (PI / 8, PI / 4, 3 * PI / 8, 7 * PI / 16)
    # two-layer ReLU student-teacher transfer (symtransfer.relu; its own default sizes)
    relu_gammas: tuple = (0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0)
    relu_thetas: tuple = tuple(k * PI / 12 for k in range(7))
    relu_instances: int = 16
    # fine-tuning by finite-size scaling: the mean at several d, fitted by a + b/d
    # (THEORY.md's example: the exact and the paper's forms differ by 0.08 there)
    fss_ds: tuple = (100, 200, 400, 800)
    fss_instances: int = 40
    fss_params: tuple = (("gamma", 0.6), ("theta", 3 * PI / 8), ("sigma", 0.5), ("depth", 3))


FULL = Config("full", d=100, instances=8)
QUICK = Config("quick", d=50, instances=8, phase_gammas=(0.4, 0.6, 1.4),
               phase_thetas=(PI / 8, PI / 4, 3 * PI / 8), dd_gammas=(0.2, 0.4, 0.6, 1.4, 2.0),
               ridge_d=50, ridge_instances=8, ridge_lams=(0.0, 0.5, 1.0, 2.0),
               forms_gammas=(0.4, 0.6, 1.4), forms_instances=8, table_d=50,
               table_instances=8, penalty_gamma=0.4, penalty_mus=(0.0, 0.4, 0.8, 1.2),
               penalty_thetas=(PI / 4, 7 * PI / 16), relu_gammas=(0.4, 1.0),
               relu_thetas=(0.0, PI / 4, PI / 2), relu_instances=4, fss_ds=(40, 80),
               fss_instances=6)


# ----------------------------------------------------------------------------- logging

class _Log:
    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.stages: list[tuple[str, float, str]] = []
        self.reused: list[str] = []
        self._t = self.start

    def __call__(self, message: str) -> None:
        print(f"[report {time.perf_counter() - self.start:6.1f} s] {message}", flush=True)

    def stage(self, name: str, note: str = "") -> None:
        now = time.perf_counter()
        self.stages.append((name, now - self._t, note))
        self._t = now

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start


# ------------------------------------------------------------------------ Monte-Carlo

def _sweep(log: _Log, data: Path, name: str, method: str, grid: dict, *, workers, client,
           **settings):
    """run_sweep into data/name.npz; a file from another definition is moved aside."""
    from .sweep import run_sweep

    path = data / f"{name}.npz"
    before = path.stat().st_mtime_ns if path.exists() else None
    t = time.perf_counter()
    try:
        sweep = run_sweep(method, grid, path=path, workers=workers, client=client,
                          progress=False, **settings)
    except ValueError as error:
        if "another definition" not in str(error):
            raise
        stale = path.with_suffix(".stale.npz")
        log(f"{path.name} holds another sweep definition; moved to {stale.name}")
        shutil.move(str(path), str(stale))
        sweep = run_sweep(method, grid, path=path, workers=workers, client=client,
                          progress=False, **settings)
    bad = int((sweep.done & ~sweep.converged.all(axis=-1)).sum())
    reused = before is not None and path.stat().st_mtime_ns == before
    if reused:
        log.reused.append(path.name)
    log(f"sweep {name}: {sweep.done.size} points ({method}, d = {sweep.settings['d']}, "
        f"{sweep.settings['instances']} instances) "
        + (f"reused from {path.name}" if reused else
           f"in {time.perf_counter() - t:.1f} s")
        + (f"; {bad} point(s) with unconverged instances" if bad else ""))
    return sweep


def _relu_sweep(cfg: Config, data: Path, log: _Log):
    """The two-layer ReLU sweep over (gamma, theta), in this process (its pretraining is
    shared by every point)."""
    from .relu.sweep import run_relu_sweep

    path = data / f"relu_{cfg.name}.npz"
    before = path.stat().st_mtime_ns if path.exists() else None
    t = time.perf_counter()
    sweep = run_relu_sweep({"gamma": cfg.relu_gammas, "theta": cfg.relu_thetas}, path=path,
                           instances=cfg.relu_instances, seed=cfg.seed, progress=False)
    reused = before is not None and path.stat().st_mtime_ns == before
    if reused:
        log.reused.append(path.name)
    log(f"sweep relu_{cfg.name}: {len(cfg.relu_gammas) * len(cfg.relu_thetas)} points "
        f"(two-layer ReLU, scratch/linear/fine-tuning, {cfg.relu_instances} instances) "
        + (f"reused from {path.name}" if reused else f"in {time.perf_counter() - t:.1f} s"))
    return sweep


def _simulate_task(method: str, params: dict, d: int, instances: int, seed: int) -> dict:
    """One simulation, reduced to arrays (picklable, for worker processes): errors,
    converged, and for fine-tuning the form comparison of :func:`symtransfer.plots.form_runs`
    (paired endpoint risks and distances)."""
    from .mc import simulate

    r = simulate(method, d=d, instances=instances, seed=seed, progress=False, **params)
    out = {"errors": r.errors, "converged": r.converged.astype(float)}
    if method == "finetune":
        from .plots import form_runs

        comparison = form_runs([r])
        for key in ("exact_errors", "paper_errors", "dist_exact", "dist_paper"):
            out[key] = comparison[key][0]
    return out


def _map(fn: Callable, tasks: list[tuple], workers: int | None, client) -> list:
    """fn(*task) for every task: on the dask client, in local processes, or in this one."""
    if not tasks:
        return []
    if client is not None:
        futures = [client.submit(fn, *task, pure=False) for task in tasks]
        return client.gather(futures)
    workers = min(os.cpu_count() or 1, len(tasks)) if workers is None else workers
    if workers <= 1:
        return [fn(*task) for task in tasks]
    with process_pool(min(workers, len(tasks))) as pool:
        return list(pool.map(fn, *zip(*tasks)))


def _cached_runs(path: Path, definition: dict, tasks: list[tuple], workers, client,
                 log: _Log, what: str) -> list[dict]:
    """Simulation tasks whose reduced results are kept in ``path`` (npz + JSON definition);
    recomputed only when the definition changes."""
    key = json.dumps(definition, sort_keys=True)
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["definition"]) == key:
                    count = int(data["count"])
                    runs = [{k[len(f"{i}/"):]: data[k] for k in data.files
                             if k.startswith(f"{i}/")} for i in range(count)]
                    log(f"{what}: reused {path.name}")
                    log.reused.append(path.name)
                    return runs
        except (OSError, KeyError, ValueError):
            pass
    t = time.perf_counter()
    runs = _map(_simulate_task, tasks, workers, client)
    arrays = {f"{i}/{k}": v for i, run in enumerate(runs) for k, v in run.items()}
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, definition=np.array(key), count=np.array(len(runs)), **arrays)
    os.replace(tmp, path)
    log(f"{what}: {len(tasks)} simulations in {time.perf_counter() - t:.1f} s")
    return runs


# ------------------------------------------------------------------ agreement criteria

def reference(method: str, params: dict, d: int) -> tuple[float, str, float, str]:
    """(theory value, what it is, allowance, why) for a Monte-Carlo mean at dimension d.

    The allowances are those of ``tests/test_mc.py``: zero for exact finite-d expectations;
    otherwise the stated finite-size effect of the asymptotic formula.
    """
    kw = dict(params)
    gamma, sigma = kw["gamma"], kw.get("sigma", 0.0)
    n = int(round(gamma * d))
    lam, gamma_s = kw.get("lam", 0.0), kw.get("gamma_s")
    if method == "scratch" or (method == "linear" and not lam and gamma_s is None) or (
            method == "finetune" and gamma > 1 and abs(n - d) > 1):
        # fine-tuning above gamma = 1 reaches least squares, like scratch
        if method == "finetune":
            value = theory.risk("scratch", gamma=gamma, sigma=sigma, d=d)
        else:
            value = theory.risk(method, d=d, **kw)
        return float(value), f"exact E R at d = {d}", 0.0, "0 (exact at this d)"
    value = float(theory.risk(method, **kw))
    if method == "linear" and gamma_s is None:
        return value, "asymptotic", 3.0 / n, "3/n (O(1/n) ridge correction)"
    if method == "linear":
        allow = (math.sin(kw["theta"]) ** 2 + sigma ** 2 + 1) / n + 2.0 / d
        return value, "asymptotic", allow, ("(sin\u00b2\u03b8+\u03c3\u00b2+1)/n + 2/d "
                                            "(target O(1/n), source O(1/d))")
    noise = sigma ** 2 * abs(n / (d - n - 1) - gamma / (1 - gamma)) if gamma < 1 else 0.0
    allow = noise + 2.0 / d + (2.0 / d if gamma_s is not None else 0.0)
    why = ("\u03c3\u00b2|n/(d\u2212n\u22121) \u2212 \u03b3/(1\u2212\u03b3)| + " if sigma else "") \
        + ("4/d (c fluctuations, finite source)" if gamma_s is not None else "2/d (c fluctuations)")
    return value, "asymptotic", allow, why


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
    from .plots import PARAM_SYMBOLS, _pi_label

    defaults = {"lam": 0.0, "depth": 2, "sigma_s": 0.0, "mu": 0.0}
    parts = []
    order = list(PARAM_SYMBOLS)
    for k in sorted(kw, key=lambda k: order.index(k) if k in order else len(order)):
        v = kw[k]
        if v is None or (k in defaults and v == defaults[k]):
            continue
        if k == "theta":
            parts.append(f"\u03b8={_pi_label(v)}")
        else:
            parts.append(f"{PARAM_SYMBOLS.get(k, k)}={v:g}")
    return ", ".join(parts)


def agreement_checks(cases, runs: list[dict], d: int, instances: int) -> list[Check]:
    checks = []
    for (method, kw), run in zip(cases, runs):
        errors = run["errors"]
        converged = bool(run["converged"].all())
        mean, sem = _summarize(errors)
        value, what, allow, why = reference(method, kw, d)
        check = Check(_case_label(method, kw), method, dict(kw), d, instances, what, value,
                      mean, sem, allow, why, converged=converged)
        if method == "finetune":
            check.paper = float(theory.risk(method, form="paper", **kw))
            check.paired = _summarize(errors - run["paper_errors"])
            check.dist_exact = float(run["dist_exact"].max())
            check.dist_paper = float(run["dist_paper"].min())
        checks.append(check)
    return checks


def sweep_checks(sweep, label: str) -> list[Check]:
    """Every point of a sweep against :func:`reference`."""
    from .sweep import AXES

    out = []
    mean, sem = sweep.mean(), sweep.sem()
    d = int(sweep.settings["d"])
    for index, params in sweep.points():
        kw = {k: v for k, v in {**sweep.settings, **params}.items() if k in AXES}
        kw = {k: v for k, v in kw.items() if not (k == "theta" and sweep.method == "scratch")}
        if sweep.method != "linear":
            kw.pop("lam", None)
        value, what, allow, why = reference(sweep.method, kw, d)
        ok = bool(np.isfinite(mean[index]))
        out.append(Check(label, sweep.method, kw, d, int(sweep.settings["instances"]), what,
                         value, float(mean[index]), float(sem[index]), allow, why,
                         converged=ok))
    return out


# ------------------------------------------------------- fine-tuning, finite-size scaling

@dataclass
class ScalingCheck:
    """Fine-tuning means at several d, fitted by ``a + b/d`` (weighted least squares, weights
    1/sem^2), and the intercept a (the d -> infinity limit) against both theory forms."""

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
    """The finite-size-scaling check from one fine-tuning run per d."""
    means, sems = zip(*(_summarize(run["errors"]) for run in runs))
    a, se, b, chi2 = fit_inverse_d(ds, means, sems)
    exact = float(theory.risk("finetune", **params))
    paper = float(theory.risk("finetune", form="paper", **params))
    return ScalingCheck(dict(params), tuple(ds), instances, tuple(means), tuple(sems), a, se,
                        b, chi2, exact, paper,
                        all(bool(run["converged"].all()) for run in runs))


def _scaling_markdown(c: ScalingCheck) -> list[str]:
    rows = [[str(d), f"{_num(m)} \u00b1 {_num(s)}"] for d, m, s in zip(c.ds, c.means, c.sems)]
    verdict = ("exact form accepted, paper's rejected" if c.accepts_exact and c.rejects_paper
               else "exact form accepted, paper's not rejected" if c.accepts_exact
               else "exact form NOT accepted" if c.converged else "not converged")
    return ["**Fine-tuning by finite-size scaling.** The Monte-Carlo mean at each d "
            f"({c.instances} instances; {_fmt_params(c.params)}) is fitted by a + b/d "
            "(weighted least squares, weights 1/sem\u00b2); the intercept a is the "
            "d \u2192 \u221e limit and is compared with both forms from the means alone. "
            "Accept: |z| \u2264 4; reject: |z| \u2265 5 (z in standard errors of a).", "",
            _md_table(["d", "MC mean \u00b1 sem"], rows), "",
            _md_table(["intercept a \u00b1 se", "slope b", "\u03c7\u00b2 "
                       f"({len(c.ds) - 2} dof)", "exact form", "z (exact)", "paper form",
                       "z (paper)", "verdict"],
                      [[f"{_num(c.intercept)} \u00b1 {_num(c.intercept_se)}",
                        f"{c.slope:+.2f}", f"{c.chi2:.2f}", _num(c.exact),
                        f"{c.z_exact:+.1f}", _num(c.paper), f"{c.z_paper:+.1f}", verdict]]),
            ""]


# ------------------------------------------------------------------------- derivations

def _derivation_sources() -> list[Path]:
    import derivations

    here = Path(__file__).resolve().parent
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


def _derive() -> tuple[list[tuple], float]:
    """derivations.run_all() as plain tuples (runs in a worker process)."""
    import derivations

    t = time.perf_counter()
    results = derivations.run_all()
    return [(r.name, bool(r.ok), r.how, r.detail) for r in results], time.perf_counter() - t


class _Derivations:
    """derivations.run_all(), from the cache when its sources are unchanged, otherwise in a
    background process while the Monte-Carlo runs."""

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
            self.pool = process_pool(1)
            self.future = self.pool.submit(_derive)
            log("derivations: re-deriving every formula in a background process")

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None

    def result(self) -> tuple[list[tuple], float, bool]:
        if self.cached is not None:
            self.log("derivations: sources unchanged, reused derivations.json")
            return (*self.cached, True)
        if self.future is not None:
            results, seconds = self.future.result()
            self.close()
        else:
            results, seconds = _derive()
        self.path.write_text(json.dumps({"key": self.key, "seconds": seconds,
                                         "results": results}, indent=1))
        failed = sum(1 for r in results if not r[1])
        self.log(f"derivations: {len(results)} checks, {failed} failed ({seconds:.1f} s)")
        return results, seconds, False


# formula table: (title, method or formulas-module function, expr options, derivation-name
# prefixes of the checks that verify it)
FORMULAS = [
    ("Scratch risk (min-norm / least squares), d \u2192 \u221e", "scratch", {},
     ["scratch: d -> oo limit"]),
    ("Scratch risk, exact expectation at finite d (Gaussian design)", "scratch",
     {"finite_size": True}, ["scratch: finite-size E R"]),
    ("Scratch ridge regression on the target, penalty \u03bb > 0 (Marchenko-Pastur)",
     "formulas.ridge_scratch", {}, ["ridge: risk vs ridge_scratch()", "ridge: Stieltjes"]),
    ("Optimal ridge penalty of scratch training", "formulas.optimal_ridge_penalty", {},
     ["ridge: lam* vs shipped", "ridge: dR/dlam"]),
    ("Scratch ridge at the optimal penalty (the optimally regularized baseline)",
     "formulas.optimal_ridge", {}, ["ridge: optimal risk vs optimal_ridge()",
                                    "ridge: R(lam*)"]),
    ("Linear (ridge) transfer, population pretraining", "linear", {},
     ["linear: population source vs", "linear: paper form, population"]),
    ("Linear transfer (\u03bb = 0), exact expectation at finite d, population pretraining",
     "linear", {"finite_size": True}, ["linear: finite-n E R"]),
    ("Linear (ridge) transfer, finite source (\u03b3_s d samples, noise \u03c3_s)", "linear",
     {"source": "finite"}, ["linear: finite source vs"]),
    ("Fine-tuning, exact form, population pretraining", "finetune", {},
     ["finetune: exact, population source"]),
    ("Fine-tuning, exact form, population pretraining, L = 2 (radicals)", "finetune",
     {"depth": 2, "doit": True}, ["finetune: exact, population source, L=2"]),
    ("Fine-tuning, paper form, population pretraining", "finetune", {"form": "paper"},
     ["finetune: paper (c=1), population", "finetune: paper form 2(1-gamma)"]),
    ("Fine-tuning, exact form, finite source", "finetune", {"source": "finite"},
     ["finetune: exact, finite source"]),
    ("Fine-tuning, paper form, finite source", "finetune", {"source": "finite",
                                                             "form": "paper"},
     ["finetune: paper (c=1), finite source"]),
    ("Transferability of linear (ridge) transfer, population", "linear",
     {"quantity": "transferability"}, ["phase: T linear, population"]),
    ("Transferability of linear (ridge) transfer, finite source", "linear",
     {"quantity": "transferability", "source": "finite"}, ["phase: T linear, finite"]),
    ("Transferability of fine-tuning, exact form, population", "finetune",
     {"quantity": "transferability"}, ["phase: T finetune exact, population"]),
    ("Transferability of fine-tuning, paper form, population", "finetune",
     {"quantity": "transferability", "form": "paper"},
     ["phase: T finetune paper, population", "phase: paper T_ft = (1-gamma)"]),
    ("Transferability of fine-tuning, exact form, finite source", "finetune",
     {"quantity": "transferability", "source": "finite"}, ["phase: T finetune exact, finite"]),
    ("Transferability of fine-tuning, paper form, finite source", "finetune",
     {"quantity": "transferability", "source": "finite", "form": "paper"},
     ["phase: T finetune paper, finite", "phase: paper T_ft, finite source"]),
    ("Pretrained norm after penalized pretraining, |\u03b2\u0302_s| (depth 2, \u03bc < 1)",
     "formulas.penalized_norm", {}, ["penalty: L=2 stationary", "penalty: nuclear-norm"]),
    ("Fine-tuning after penalized pretraining, exact form", "finetune",
     {"source": "penalized", "depth": 2}, ["finetune: exact, penalized source, L=2"]),
    ("Best pretraining penalty \u03bc* for fine-tuning, exact form",
     "formulas.optimal_pretrain_penalty", {"form": "exact"}, ["penalty: mu* (exact form)"]),
    ("Transferability of fine-tuning at the best penalty, T*",
     "formulas.best_penalized_transfer", {}, ["penalty: T* =", "penalty: shipped T(mu) peaks"]),
    ("Phase boundary \u03b8* of linear (ridge) transfer, population", "linear",
     {"quantity": "boundary"}, ["phase: theta* linear, population"]),
    ("Phase boundary \u03b8* of linear (ridge) transfer, finite source", "linear",
     {"quantity": "boundary", "source": "finite"}, ["phase: theta* linear, finite"]),
    ("Phase boundary \u03b8* of fine-tuning, exact form, population", "finetune",
     {"quantity": "boundary"}, ["phase: theta* finetune exact, population"]),
    ("Phase boundary \u03b8* of fine-tuning, paper form, population", "finetune",
     {"quantity": "boundary", "form": "paper"},
     ["phase: theta* finetune paper, population", "phase: paper fine-tuning boundary"]),
    ("Phase boundary \u03b8* of fine-tuning, exact form, finite source", "finetune",
     {"quantity": "boundary", "source": "finite"}, ["phase: theta* finetune exact, finite"]),
    ("Phase boundary \u03b8* of fine-tuning, paper form, finite source", "finetune",
     {"quantity": "boundary", "source": "finite", "form": "paper"},
     ["phase: theta* finetune paper, finite"]),
]


def _formula_status(prefixes: list[str], results: list[tuple]) -> str:
    hits = [r for r in results if any(r[0].startswith(p) for p in prefixes)]
    if not hits:
        return "no derivation check found"
    failed = [r for r in hits if not r[1]]
    if failed:
        return "**FAILED**: " + "; ".join(r[0] for r in failed)
    hows = sorted({r[2] for r in hits})
    return f"derived and verified ({len(hits)} check{'s' * (len(hits) > 1)}: {', '.join(hows)})"


def _latex(method: str, options: dict) -> str | None:
    """LaTeX of a shipped expression; None when this version does not ship it."""
    import sympy as sp

    from . import expr, formulas

    options = dict(options)
    doit = options.pop("doit", False)
    if method.startswith("formulas."):
        builder = getattr(formulas, method.split(".", 1)[1], None)
        if builder is None:
            return None
        e = builder(**options)
    else:
        e = expr(method, **options)
    if doit:
        e = e.doit()
    return sp.latex(e)


# ---------------------------------------------------------------------------- figures

def _save(fig, figures: Path, name: str) -> list[Path]:
    paths = []
    for ext in ("png", "pdf"):
        path = figures / f"{name}.{ext}"
        fig.savefig(path, dpi=130 if ext == "png" else None)
        paths.append(path)
    return paths


def _make_figures(cfg: Config, sweeps: dict, forms: dict, figures: Path, log: _Log) -> list:
    """Draw every figure family; returns [(name, title, caption)]."""
    from . import plots
    from .plots import METHOD_NAMES

    s = cfg.sigma
    made = []
    scratch = sweeps["scratch"]
    d, K = cfg.d, cfg.instances
    for method in ("linear", "finetune"):
        fig = plots.phase_diagram(method, sigma=s, mc=(scratch, sweeps[method]))
        _save(fig, figures, f"phase_{method}")
        what = {"linear": "linear transfer (readout refit on the frozen pretrained features, "
                          "\u03bb = 0)",
                "finetune": "fine-tuning (all layers, from the pretrained weights)"}[method]
        extra = {"linear": " At \u03b3 = 1 the scratch risk diverges (double descent), so T "
                           "\u2192 +\u221e: the colour scale is clipped there (arrow on the "
                           "colour bar). Transfer helps at small angles and, thanks to the "
                           "scratch peak, in a band around \u03b3 = 1 at every angle.",
                 "finetune": " Above \u03b3 = 1 fine-tuning and scratch both reach least "
                             "squares: T = 0. With noise the exact boundary (black) lies left "
                             "of the paper's \u03b8* = \u03c0/3 (dashed) and falls to 0 as "
                             "\u03b3 \u2192 1: just below the interpolation threshold the "
                             "rescaled null-space part makes fine-tuning worse than scratch at "
                             "every angle."}[method]
        made.append((f"phase_{method}", "Phase diagram: " + {"linear": "linear transfer",
                                                              "finetune": "fine-tuning"}[method],
                     f"Transferability T = R_scratch \u2212 R_transfer of {what}, \u03c3 = {s}, "
                     f"L = 2, population pretraining. Left: theory over (\u03b8, \u03b3), blue "
                     "where transfer helps, red where it hurts (colours centred at T = 0), "
                     "black line T = 0. Right: Monte-Carlo gradient flow on a "
                     f"{len(cfg.phase_gammas)} \u00d7 {len(cfg.phase_thetas)} grid (d = {d}, "
                     f"{K} instances; the scratch runs of each \u03b3 serve every \u03b8), "
                     "the theory's T = 0 line over it; dots: |T_MC| < 2 sem + 0.001 (sign not "
                     "resolved; sem of the per-instance differences, scratch and transfer "
                     "sharing the target data), crosses: resolved sign opposite to the "
                     "theory, hatched: no MC value (not run or not converged)." + extra))
        log(f"figure phase_{method}")
    for method in ("linear", "finetune"):
        fig = plots.transfer_slices(method, thetas=cfg.slice_thetas, sigma=s,
                                    mc=(scratch, sweeps[method]))
        _save(fig, figures, f"slices_{method}")
        made.append((f"slices_{method}", "Transferability against \u03b3: " + {
            "linear": "linear transfer", "finetune": "fine-tuning"}[method],
                     f"T against \u03b3 at \u03b8 = \u03c0/8, \u03c0/4, 3\u03c0/8 for "
                     f"{'linear transfer' if method == 'linear' else 'fine-tuning'} (\u03c3 = "
                     f"{s}, L = 2): theory lines"
                     + (" (exact form solid, paper form dashed)" if method == "finetune" else "")
                     + f", Monte-Carlo means \u00b1 1 sem (d = {d}, {K} instances). Scratch "
                     "and transfer runs share the target data instance by instance (same "
                     "seed), so the sem is that of the per-instance differences; above "
                     "\u03b3 = 1 fine-tuning and scratch reach the same least-squares "
                     "solution and T_MC is 0 to the training tolerance."))
        log(f"figure slices_{method}")
    fig = plots.ridge_curve(lam=np.linspace(0, max(cfg.ridge_lams), 200),
                            thetas=cfg.slice_thetas, gamma=cfg.ridge_gamma, sigma=s,
                            mc=sweeps["ridge"])
    _save(fig, figures, "ridge")
    n = int(round(cfg.ridge_gamma * cfg.ridge_d))
    made.append(("ridge", "Ridge transfer",
                 "Risk of ridge transfer (readout refit with penalty n\u03bb|W_L|\u00b2 on the "
                 "frozen pretrained features) against \u03bb at three angles: the asymptotic "
                 "risk 1 \u2212 cos\u00b2\u03b8 (1+2\u03bb)/(1+\u03bb)\u00b2 increases with "
                 "\u03bb and does not depend on \u03b3 or \u03c3. Monte-Carlo at "
                 f"d = {cfg.ridge_d}, n = {n}, {cfg.ridge_instances} instances; it sits O(1/n) "
                 "above the asymptotic line (estimation noise of the single readout weight); "
                 "open diamonds: the exact finite-d expectation of ridgeless transfer. Error "
                 "bars (\u00b11 sem) are mostly smaller than the markers."))
    log("figure ridge")
    fig = plots.double_descent(gamma=np.linspace(0.05, max(cfg.dd_gammas), 600), sigma=s,
                               mc=scratch)
    _save(fig, figures, "double_descent")
    made.append(("double_descent", "Double descent of scratch training",
                 f"Scratch risk against \u03b3 (\u03c3 = {s}, log scale): the asymptotic "
                 "curve diverges at \u03b3 = 1; dashed: the exact expectation at "
                 f"d = {d} (defined on whole n = \u03b3d, infinite at |n \u2212 d| \u2264 1); "
                 f"points: Monte-Carlo gradient flow from small initialization ({K} "
                 "instances), which reaches the min-norm interpolator (\u03b3 < 1) or least "
                 "squares (\u03b3 > 1)."))
    log("figure double_descent")
    fig = plots.finetune_forms(gamma=np.linspace(0.02, 2.0, 400), theta=cfg.forms_theta,
                               sigma=s, depth=cfg.forms_depth, runs=forms)
    _save(fig, figures, "finetune_forms")
    made.append(("finetune_forms", "Fine-tuning: exact form vs paper form",
                 f"Fine-tuning at \u03b8 = 3\u03c0/8, \u03c3 = {s}, L = {cfg.forms_depth} (the "
                 "authors' noisy setting). Left: risk of the exact form (null-space part of "
                 "the pretrained vector rescaled by c = \u03ba^((L\u22121)/2)), of the "
                 "paper's form (c = 1), and Monte-Carlo means \u00b1 sem "
                 f"(d = {d}, {cfg.forms_instances} instances). The forms differ by only "
                 "~0.01 here, below the spread of the means. Middle: each run paired with "
                 "the paper form's endpoint on the same data and pretraining; the runs end "
                 "above it, exactly where the exact form's endpoint on the same data lies "
                 "(squares; at this small d the finite-size gap exceeds the asymptotic "
                 "curve at small \u03b3, and its spread comes from the cross term between "
                 "the null-space and row-space parts). Right: distance of each "
                 "run's end point to each form's predicted end point (log scale): ~1e-4 "
                 "(integration error) to the exact form, 10-100 times more to the paper's; "
                 "above \u03b3 = 1 both are least squares."))
    log("figure finetune_forms")
    fig = plots.penalty_transfer(gamma=cfg.penalty_gamma, sigma=s,
                                 thetas=cfg.penalty_thetas, mc=(scratch, sweeps["penalty"]))
    _save(fig, figures, "penalty")
    made.append(("penalty", "Pretraining with a penalty toward the initialization (rich to lazy)",
                 "Pretraining minimizes E(f \u2212 y)\u00b2 + \u03bc|w \u2212 w\u2080|\u00b2; "
                 "from the vanishing initialization the penalty is weight decay, the "
                 "pretrained vector shrinks to (1 \u2212 \u03bc)\u03b2_s (depth 2), and "
                 "\u03bc \u2265 1 learns nothing (the lazy end: fine-tuning is scratch "
                 f"training, T = 0). Left: fine-tuning T against \u03bc at \u03b3 = "
                 f"{cfg.penalty_gamma}, \u03c3 = {s}; exact form solid, paper's form dashed, "
                 "stars at the best \u03bc* (exact form); Monte-Carlo means \u00b1 paired "
                 f"sem (d = {d}, {K} runs; penalized pretraining by Heun gradient flow to "
                 "stationarity, then fine-tuning). Right: T without penalty (dashed) and at "
                 "\u03bc* (solid) against \u03b8: the best penalty gives T* = "
                 "(1 \u2212 \u03b3) cos\u00b2\u03b8 \u2265 0 for \u03b8 \u2264 \u03c0/2 "
                 "and T* = 0 beyond (learn nothing): it removes negative transfer. Runs at "
                 "depth 3 stay at the origin for every \u03bc > 0 (a local minimum there), "
                 "so this theory is for depth 2."))
    log("figure penalty")
    from .relu.plots import relu_phase_diagram

    relu = sweeps["relu"]
    rs = relu.settings
    for method in ("linear", "finetune"):
        fig = relu_phase_diagram(relu, method)
        _save(fig, figures, f"relu_{method}")
        made.append((f"relu_{method}", "Two-layer ReLU networks: " + METHOD_NAMES[method],
                     f"Transferability of {METHOD_NAMES[method]} for two-layer ReLU "
                     f"student-teacher networks (paper Sec. 4; d = {rs['d']}, teacher width "
                     f"{rs['teacher_width']}, student width {rs['width']}, "
                     f"{rs['instances']} instances, pretraining on the exact population "
                     "loss from small initialization). The target's hidden features are the "
                     "source's rotated by \u03b8; the x axis is the measured feature residual "
                     "\u03c1 (the fraction of the target function outside the span of the "
                     "pretrained hidden activations, by regression on them), which is "
                     "sin\u00b2\u03b8 in the linear model. Left: the linear theory's T over "
                     "(\u03c1 = sin\u00b2\u03b8, \u03b3); right: the ReLU Monte-Carlo T "
                     "(paired differences on the same target data; dots: sign not resolved). "
                     "The phase picture carries over: transfer helps where the target lies "
                     "in the pretrained feature space and hurts where it does not."))
        log(f"figure relu_{method}")
    return made


# ----------------------------------------------------------------------------- markdown

def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |"
              for row in rows]
    return "\n".join(lines)


def _num(x: float | None, digits: int = 4) -> str:
    if x is None:
        return ""
    if not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}f}"


def _check_rows(checks: list[Check]) -> list[list[str]]:
    rows = []
    for c in checks:
        allowance = c.why if c.allowance == 0 else f"{c.allowance:.4f} = {c.why}"
        rows.append([c.label, _fmt_params(c.params), c.reference, _num(c.theory),
                     f"{_num(c.mean)} \u00b1 {_num(c.sem)}", f"{c.z:+.2f}", allowance,
                     _num(c.bound),
                     "PASS" if c.ok else ("**FAIL** (not converged)" if not c.converged
                                          else "**FAIL**")])
    return rows


def _chance(instances: int, count: int) -> float:
    from scipy import stats

    return count * 2 * float(stats.t.sf(Z, instances - 1))


def _text_table(checks: list[Check]) -> str:
    lines = [f"{'case':<26} {'parameters':<52} {'theory':>8} {'MC':>8} {'sem':>7} {'z':>6} "
             f"{'allow':>7}  result"]
    for c in checks:
        params = _fmt_params(c.params)
        lines.append(f"{c.label:<26} {params:<52} {c.theory:8.4f} {c.mean:8.4f} {c.sem:7.4f} "
                     f"{c.z:+6.2f} {c.allowance:7.4f}  {'PASS' if c.ok else 'FAIL'}")
    return "\n".join(lines)


def _write_markdown(path: Path, *, cfg: Config, made: list, table: list[Check],
                    grid_checks: dict[str, list[Check]], derivation: tuple, log: _Log,
                    timings: list, theory_text: str, formulas: list,
                    scaling: ScalingCheck | None = None) -> None:
    from . import __version__

    results, derive_seconds, derive_cached = derivation
    failed = [r for r in results if not r[1]]
    passed_table = sum(c.ok for c in table)
    grid_all = [c for checks in grid_checks.values() for c in checks]
    grid_ok = sum(c.ok for c in grid_all)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md = [f"# symtransfer report ({cfg.name})", "",
          f"Generated {now} by symtransfer {__version__} (`symtransfer report"
          f"{' --quick' if cfg.name == 'quick' else ''}`), Python {sys.version.split()[0]}. "
          "Theory: Tahir, Ganguli, Rotskoff, *Features are fate* (ICML 2025), re-derived; see "
          "`THEORY.md`. Monte-Carlo: gradient flow of deep linear networks from small "
          "initialization (`symtransfer.simulate`), seed 0.", "",
          "## Summary", "",
          f"- **Theory vs Monte-Carlo, checked cases:** {passed_table} of {len(table)} PASS "
          f"(|mean \u2212 theory| \u2264 4 sem + allowance; d = {cfg.table_d}, "
          f"{cfg.table_instances} instances).",
          *([f"- **Fine-tuning by finite-size scaling** (d = "
              f"{', '.join(map(str, scaling.ds))}): intercept {_num(scaling.intercept)} \u00b1 "
              f"{_num(scaling.intercept_se)}; exact form {_num(scaling.exact)} (z = "
              f"{scaling.z_exact:+.1f}), paper's {_num(scaling.paper)} (z = "
              f"{scaling.z_paper:+.1f})."] if scaling is not None else []),
          f"- **Theory vs Monte-Carlo, every sweep point:** {grid_ok} of {len(grid_all)} "
          f"within 4 sem + allowance (about {sum(_chance(c.instances, 1) for c in grid_all):.1f}"
          " expected outside by chance with so few instances per point, Student t).",
          f"- **Derivations:** {len(results) - len(failed)} of {len(results)} checks pass "
          f"({', '.join(f'{n} {h}' for h, n in _count_how(results))})"
          + (f"; **{len(failed)} FAILED**" if failed else "") + ".",
          f"- **Figures:** {len(made)} (PNG and PDF in `figures/`).",
          f"- **Wall time:** {log.elapsed:.1f} s"
          + (f" (Monte-Carlo data reused from an earlier run: {', '.join(log.reused)})"
             if log.reused else "") + ".", ""]
    md += ["## Figures", ""]
    for i, (name, title, caption) in enumerate(made, 1):
        md += [f"### {i}. {title}", "", f"![{title}](figures/{name}.png)", "",
               f"*Figure {i}.* {caption} ([PDF](figures/{name}.pdf))", ""]
    md += ["## Theory vs Monte-Carlo", "",
           "Each case of `symtransfer.cli.MC_CASES` is simulated at d = "
           f"{cfg.table_d} with {cfg.table_instances} instances and compared with the theory: "
           "the exact finite-d expectation where one is known (allowance 0), otherwise the "
           "asymptotic formula with the stated finite-size allowance (as in "
           "`tests/test_mc.py`). PASS: |mean \u2212 theory| \u2264 4 sem + allowance; "
           "z = (mean \u2212 theory)/sem.", "",
           _md_table(["case", "parameters", "theory is", "theory", "MC mean \u00b1 sem", "z",
                      "allowance", "4 sem + allowance", "result"], _check_rows(table)), ""]
    ft = [c for c in table if c.method == "finetune"]
    if ft:
        rows = []
        for c in ft:
            same = abs(c.theory - c.paper) < 1e-9
            if same:
                verdict = "forms coincide (\u03c3 = 0, |\u03b2\u0302_s| = 1)"
            elif c.dist_exact * 10 < c.dist_paper:
                verdict = "every run ends at the exact form's endpoint; paper's rejected"
            else:
                verdict = "not separated"
            pm, ps = c.paired
            rows.append([c.label, _fmt_params(c.params), _num(c.theory), _num(c.paper),
                         f"{_num(c.mean)} \u00b1 {_num(c.sem)}",
                         f"{pm:+.4f} \u00b1 {ps:.4f} (z = {pm / ps:+.1f})" if ps > 0 else
                         f"{pm:+.4f}",
                         f"{c.dist_exact:.1e}", f"{c.dist_paper:.1e}", verdict])
        md += ["**Fine-tuning: which form do the runs follow?** The paper's form keeps the "
               "null-space part of the pretrained vector unscaled; the exact form rescales it "
               "by c (conservation laws). Means alone separate them poorly at this size; per "
               "run they separate clearly. *Paired gap*: mean \u00b1 sem of R_run \u2212 "
               "R(paper endpoint on the same data) (the exact theory predicts R_exact \u2212 "
               "R_paper). *Endpoint distances*: |\u03b2\u0302_run \u2212 \u03b2\u0302_form| "
               "for each form's predicted endpoint "
               "(`symtransfer.mc.mechanism.endpoint_distances`), max over runs for the exact "
               "form, min over runs for the paper's.", "",
               _md_table(["case", "parameters", "exact", "paper", "MC mean \u00b1 sem",
                          "paired gap R_run \u2212 R_paper-endpoint", "max dist. exact",
                          "min dist. paper", "verdict"], rows), ""]
    if scaling is not None:
        md += _scaling_markdown(scaling)
    md += ["### Every sweep point", "",
           "The figures' Monte-Carlo points against the theory with the same rule. With "
           "only a few instances per point the sem is itself noisy (Student t with "
           "instances \u2212 1 degrees of freedom), so a few points outside 4 sem are "
           "expected by chance; the expected number is given.", ""]
    rows = []
    for name, checks in grid_checks.items():
        ok = sum(c.ok for c in checks)
        refs = sorted({c.reference for c in checks})
        worst = max(checks, key=lambda c: abs(c.mean - c.theory) / c.bound
                    if c.converged and c.bound > 0 else math.inf)
        rows.append([name, f"{ok} / {len(checks)}",
                     f"{sum(_chance(c.instances, 1) for c in checks):.2f}", "; ".join(refs),
                     f"{_fmt_params(worst.params)}: z = {worst.z:+.1f}"])
    md += [_md_table(["sweep", "within 4 sem + allowance", "expected outside by chance",
                      "theory is", "worst point"], rows), ""]
    bad = [c for checks in grid_checks.values() for c in checks if not c.ok]
    if bad:
        md += ["Points outside the bound:", "",
               _md_table(["sweep", "parameters", "theory", "MC mean \u00b1 sem", "z",
                          "allowance", "result"],
                         [[c.label, _fmt_params(c.params), _num(c.theory),
                           f"{_num(c.mean)} \u00b1 {_num(c.sem)}", f"{c.z:+.2f}",
                           f"{c.allowance:.4f}", "not converged" if not c.converged else "FAIL"]
                          for c in bad]), ""]
    md += ["## Formulas", "",
           "Every expression symtransfer evaluates, printed from the shipped sympy expression "
           "(`sympy.latex(symtransfer.expr(...))`), with the status of its re-derivation from "
           "primitives (`derivations/`, `symtransfer check`). Symbols: \u03b3 = n/d, "
           "\u03b3_s = n_s/d, \u03b8 the teacher angle, \u03c3 and \u03c3_s the target and "
           "source noise, \u03bb the ridge penalty, \u03bc the pretraining penalty, L the depth, "
           "d the dimension. "
           "$\\operatorname{root}_{+}[p(x)]$ is the unique positive root of the polynomial p "
           "(in radicals for L = 2, 3).", ""]
    for title, latex, status in formulas:
        md += [f"**{title}.** {status}", "", "$$", latex, "$$", ""]
    md += ["## Derivation status", "",
           f"`derivations.run_all()`: {len(results)} checks, {len(failed)} failed "
           f"({derive_seconds:.1f} s"
           f"{', cached: derivation sources unchanged' if derive_cached else ''}).", ""]
    rows = []
    for module, items in _by_module(results):
        hows = _count_how(items)
        rows.append([module, str(len(items)), str(sum(r[1] for r in items)),
                     ", ".join(f"{n} {h}" for h, n in hows)])
    md += [_md_table(["module", "checks", "passed", "how"], rows), ""]
    if failed:
        md += ["**Failures:**", ""] + [f"- `{r[0]}`: {r[3]}" for r in failed] + [""]
    else:
        md += ["No failures.", ""]
    md += ["<details><summary>All checks</summary>", "",
           _md_table(["check", "result", "how", "detail"],
                     [[r[0], "PASS" if r[1] else "**FAIL**", r[2], r[3][:120]]
                      for r in results]),
           "", "</details>", ""]
    md += ["## Theory tables", "", "```", theory_text.rstrip(), "```", ""]
    md += ["## Run", "",
           f"Configuration `{cfg.name}`: " + ", ".join(
               f"{k} = {_short(v, 'theta' in k)}" for k, v in asdict(cfg).items()
               if k != "name") + ".", "",
           "Monte-Carlo data: `data/*.npz` (sweeps: `symtransfer.sweep.Sweep.load`); a rerun "
           "into the same folder reuses them.", "",
           _md_table(["stage", "seconds", "note"],
                     [[n, f"{s:.1f}", note] for n, s, note in timings]
                     + [["**total**", f"**{log.elapsed:.1f}**", ""]]), ""]
    path.write_text("\n".join(md))


def _short(value, angle: bool = False) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_short(v, angle) for v in value) + ")"
    if angle:
        from .plots import _pi_label

        return _pi_label(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _by_module(results):
    groups: dict[str, list] = {}
    for r in results:
        groups.setdefault(r[0].split(":")[0], []).append(r)
    return list(groups.items())


def _count_how(results):
    counts: dict[str, int] = {}
    for r in results:
        counts[r[2]] = counts.get(r[2], 0) + 1
    return sorted(counts.items(), key=lambda kv: -kv[1])


# ---------------------------------------------------------------------------- build

def _monte_carlo(cfg: Config, data: Path, workers, client, log: _Log):
    """The sweeps, the fine-tuning form runs and the checked cases, with their checks."""
    from .cli import MC_CASES

    common = dict(d=cfg.d, instances=cfg.instances, seed=cfg.seed, sigma=cfg.sigma,
                  workers=workers, client=client)
    tag = cfg.name
    sweeps = {
        "scratch": _sweep(log, data, f"scratch_gamma_{tag}", "scratch",
                          {"gamma": cfg.dd_gammas}, **common),
        "linear": _sweep(log, data, f"linear_phase_{tag}", "linear",
                         {"gamma": cfg.phase_gammas, "theta": cfg.phase_thetas}, **common),
        "finetune": _sweep(log, data, f"finetune_phase_{tag}", "finetune",
                           {"gamma": cfg.phase_gammas, "theta": cfg.phase_thetas}, **common),
        "ridge": _sweep(log, data, f"ridge_{tag}", "linear",
                        {"lam": cfg.ridge_lams, "theta": cfg.slice_thetas},
                        **dict(common, d=cfg.ridge_d, instances=cfg.ridge_instances,
                               gamma=cfg.ridge_gamma)),
        "penalty": _sweep(log, data, f"penalty_{tag}", "finetune",
                          {"gamma": [cfg.penalty_gamma], "mu": cfg.penalty_mus,
                           "theta": cfg.penalty_thetas}, **common),
    }
    sweeps["relu"] = _relu_sweep(cfg, data, log)
    log.stage("sweeps", "reused" if len(log.reused) == len(sweeps) else "")
    # the checked cases (the costliest first, for load balance) and the fine-tuning runs
    # compared with both forms: one process pool
    case_tasks = [(m, dict(kw), cfg.table_d, cfg.table_instances, cfg.seed)
                  for m, kw in MC_CASES]
    form_params = [dict(gamma=g, theta=cfg.forms_theta, sigma=cfg.sigma,
                        depth=cfg.forms_depth) for g in cfg.forms_gammas]
    form_tasks = [("finetune", p, cfg.d, cfg.forms_instances, cfg.seed) for p in form_params]
    order = sorted(range(len(case_tasks)), key=lambda i: -case_tasks[i][1].get("depth", 2))
    tasks = [case_tasks[i] for i in order] + form_tasks
    runs = _cached_runs(data / f"runs_{tag}.npz", {"tasks": tasks}, tasks, workers, client,
                        log, "fine-tuning form runs and checked cases")
    case_out = [None] * len(case_tasks)
    for i, run in zip(order, runs):
        case_out[i] = run
    form_out = runs[len(case_tasks):]
    forms = {k: np.stack([r[k] for r in form_out]) for k in form_out[0]}
    forms["gamma"] = np.array(cfg.forms_gammas, dtype=float)
    forms["errors"] = np.where(forms.pop("converged") > 0, forms["errors"], np.nan)
    table = agreement_checks(MC_CASES, case_out, cfg.table_d, cfg.table_instances)
    grid_checks = {
        "scratch (double descent)": sweep_checks(sweeps["scratch"], "scratch"),
        "linear (phase grid)": sweep_checks(sweeps["linear"], "linear"),
        "fine-tuning (phase grid)": sweep_checks(sweeps["finetune"], "finetune"),
        "ridge": sweep_checks(sweeps["ridge"], "ridge"),
        "fine-tuning after penalized pretraining": sweep_checks(sweeps["penalty"],
                                                                "finetune/penalty"),
    }
    fchecks = []
    for p, run in zip(form_params, form_out):
        value, what, allow, why = reference("finetune", p, cfg.d)
        mean, sem = _summarize(run["errors"])
        fchecks.append(Check("fine-tuning forms", "finetune", p, cfg.d, cfg.forms_instances,
                             what, value, mean, sem, allow, why,
                             converged=bool(run["converged"].all())))
    grid_checks["fine-tuning (forms figure)"] = fchecks
    log.stage("checked cases and fine-tuning runs",
              "reused" if log.reused and log.reused[-1] == f"runs_{tag}.npz" else "")
    scaling = _finite_size_scaling(cfg, data, workers, client, log)
    return sweeps, forms, table, grid_checks, scaling


def _finite_size_scaling(cfg: Config, data: Path, workers, client, log: _Log) -> ScalingCheck:
    """Fine-tuning at every d of ``cfg.fss_ds`` (largest first, for load balance), cached in
    ``data/fss_<name>.npz``, and its a + b/d fit."""
    params = dict(cfg.fss_params)
    tasks = [("finetune", params, d, cfg.fss_instances, cfg.seed)
             for d in sorted(cfg.fss_ds, reverse=True)]
    runs = _cached_runs(data / f"fss_{cfg.name}.npz", {"tasks": tasks}, tasks, workers, client,
                        log, "fine-tuning finite-size scaling")
    by_d = dict(zip(sorted(cfg.fss_ds, reverse=True), runs))
    check = scaling_check(params, cfg.fss_ds, [by_d[d] for d in cfg.fss_ds], cfg.fss_instances)
    log.stage("fine-tuning finite-size scaling",
              "reused" if log.reused and log.reused[-1] == f"fss_{cfg.name}.npz" else "")
    return check


def build_report(out: str | os.PathLike = "report", quick: bool = False,
                 workers: int | None = None, client: Any = None) -> Path:
    """Run the Monte-Carlo, draw the figures, re-derive the formulas and write
    ``out/report.md``; returns its path.

    out : the report folder (``figures/``, ``data/``, ``report.md``). Rerunning into the
        same folder reuses the Monte-Carlo data and (when their sources are unchanged) the
        derivation results.
    quick : small d and few instances (a smoke test, well under a minute).
    workers : local worker processes for the simulations (default: one per core, or this
        process only with ``quick``, whose simulations cost less than starting workers; 0 or
        1: this process only). The re-derivation runs in one background process regardless.
    client : a ``dask.distributed.Client`` or a scheduler address: the sweeps and
        simulations run on that cluster.
    """
    from .cli import theory_tables

    import matplotlib  # noqa: F401  (fail before any simulation when it is missing)

    log = _Log()
    cfg = QUICK if quick else FULL
    if quick and workers is None and client is None:
        workers = 0  # tiny simulations: starting worker processes would cost more
    out = Path(out)
    data, figures = out / "data", out / "figures"
    data.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    own_client = isinstance(client, str)
    if own_client:
        from distributed import Client

        client = Client(client)
    log(f"building the {cfg.name} report in {out}/ ("
        + ("dask" if client is not None else
           f"{workers if workers is not None else os.cpu_count()} worker process(es)") + ")")
    derivation = None
    try:
        derivation = _Derivations(data, background=True, log=log)
        log.stage("setup")
        with one_blas_thread():
            sweeps, forms, table, grid_checks, scaling = _monte_carlo(cfg, data, workers,
                                                                      client, log)
        made = _make_figures(cfg, sweeps, forms, figures, log)
        log.stage("figures")
        formulas = [(title, _latex(method, options), prefixes)
                    for title, method, options, prefixes in FORMULAS]
        formulas = [f for f in formulas if f[1] is not None]
        log.stage("formulas (LaTeX)")
        results = derivation.result()
        formulas = [(title, latex, _formula_status(prefixes, results[0]))
                    for title, latex, prefixes in formulas]
        log.stage("derivations (waiting for the background process)",
                  "reused" if results[2] else f"{results[1]:.1f} s in the background")
        path = out / "report.md"
        _write_markdown(path, cfg=cfg, made=made, table=table, grid_checks=grid_checks,
                        derivation=results, log=log, timings=list(log.stages),
                        theory_text=theory_tables(quick), formulas=formulas, scaling=scaling)
    finally:
        if derivation is not None:
            derivation.close()
        if own_client:
            client.close()
    grid_all = [c for checks in grid_checks.values() for c in checks]
    print("\nTheory vs Monte-Carlo (d = %d, %d instances, seed %d): |mean - theory| <= 4 sem "
          "+ allowance" % (cfg.table_d, cfg.table_instances, cfg.seed))
    print(_text_table(table))
    print(f"sweep points within 4 sem + allowance: {sum(c.ok for c in grid_all)} of "
          f"{len(grid_all)}")
    print(f"fine-tuning by finite-size scaling (d = {scaling.ds}): intercept "
          f"{scaling.intercept:.4f} +- {scaling.intercept_se:.4f}; exact {scaling.exact:.4f} "
          f"(z = {scaling.z_exact:+.1f}), paper {scaling.paper:.4f} (z = {scaling.z_paper:+.1f})")
    failed = [r for r in results[0] if not r[1]]
    print(f"derivations: {len(results[0]) - len(failed)} of {len(results[0])} checks pass")
    log(f"wrote {path} ({len(made)} figures) in {log.elapsed:.1f} s")
    return path
