"""Dataset-centric distances between transfer tasks vs the feature-centric overlap.

Setting (``docs/theory.md``, "Dataset distances and the feature overlap"): ``x ~ N(0, I_d)`` and a task is
``(beta, sigma)``, ``y = beta.x + eps`` with ``eps ~ N(0, sigma^2)``. The joint law of
``z = (x, y)`` in ``D = d + 1`` dimensions is the zero-mean Gaussian with covariance

    S(beta, sigma) = [[I_d, beta], [beta^T, |beta|^2 + sigma^2]],

whose Schur complement is ``sigma^2``: ``det S = sigma^2`` and
``S^{-1} = [[I + beta beta^T/sigma^2, -beta/sigma^2], [-beta^T/sigma^2, 1/sigma^2]]``.
Two such covariances differ only on ``span(beta_s, beta_t, e_y)`` (at most 3 dimensions); on
its orthogonal complement both are the identity. So every distance below depends on the pair
of tasks only through the scalar summary ``(|beta_s|, |beta_t|, cos theta, sigma_s, sigma_t)``
(and, for the MMD only, the dimension d). All closed forms are derived and checked in
``derivations/distances.py`` (``python -m derivations``).

**Two call forms.** Every distance takes either two :class:`Task` objects (vectors), or the
scalar summary as keyword arrays that broadcast (for grids), never both::

    kl(Task(beta_s, 0.1), Task(beta_t, 0.2))
    kl(norm_s=1.0, norm_t=2.0, cos=0.5, sigma_s=0.1, sigma_t=0.2)

Scalars in give a ``float`` out; arrays give arrays. Bad input raises ``ValueError`` /
``TypeError`` naming the parameter (``source.sigma``, ``sigma_t``, ``bandwidth``, ...).

**Closed forms** (``diff2 = |beta_s - beta_t|^2``; ``p`` = source, ``q`` = target):

* :func:`kl` ``KL(p||q) = 1/2 [(diff2 + sigma_s^2)/sigma_t^2 - 1 + ln(sigma_t^2/sigma_s^2)]``;
  the reverse direction is ``kl(target, source)`` (or ``metric='kl_reverse'``). Equal noise:
  ``diff2/(2 sigma^2)``. Needs both sigmas > 0.
* :func:`hellinger` ``H = sqrt(1 - BC)`` (so ``0 <= H <= 1``) with the Bhattacharyya
  coefficient ``BC = sqrt(2 sigma_s sigma_t/(sigma_s^2 + sigma_t^2 + diff2/2))``.
  Needs both sigmas > 0.
* :func:`wasserstein2` W2 (Bures): ``W2^2 = 4 + |beta_s|^2 + sigma_s^2 + |beta_t|^2 +
  sigma_t^2 - 2 (sqrt(l1) + sqrt(l2) + sqrt(l3))``, ``l_k`` the eigenvalues of the reduced
  3 x 3 product ``A B``, roots of ``l^3 - t1 l^2 + t2 l - t3`` with
  ``t1 = 2 + 2 b_s b_t c + (b_s^2 + s_s^2)(b_t^2 + s_t^2)``,
  ``t2 = (1 + b_s b_t c)^2 + b_s^2 s_t^2 + b_t^2 s_s^2 + 2 s_s^2 s_t^2``, ``t3 = s_s^2 s_t^2``
  (``b`` = norms, ``s`` = sigmas, ``c = cos theta``). :func:`expression` ships the closed form
  (Viete's trigonometric roots); the numbers here are the eigenvalues of the explicit
  symmetric 3 x 3 matrix ``L^T B L`` (``A = L L^T``), which stays accurate at repeated roots
  and at sigma = 0. Parallel teachers (``c = +-1``): ``l = 1`` is a root and
  ``W2^2 = T - 2 sqrt(t1 - 1 + 2 s_s s_t)``, ``T = 2 + b_s^2 + s_s^2 + b_t^2 + s_t^2``,
  evaluated as ``[(b_s^2 + s_s^2 - b^2 - s_t^2)^2 + 4 (b_s - b)^2 + 4 (s_s - s_t)^2]/(T + 2
  sqrt(t1 - 1 + 2 s_s s_t))`` (``b = c b_t``; no cancellation). Independent of d.
* :func:`mmd` / :func:`mmd2` with the Gaussian kernel ``k(u, v) = exp(-|u - v|^2/(2 h^2))``
  on ``R^D``: ``E k(u, v) = det(I + (S_u + S_v)/h^2)^{-1/2}`` for independent zero-mean
  Gaussians, and the Schur complement gives
  ``E k = (h^2/(h^2 + 2))^{d/2} h g^{-1/2}``,
  ``g(p, q) = h^2 + s_p^2 + s_q^2 + (h^2 (|b_p|^2 + |b_q|^2) + |b_p - b_q|^2)/(h^2 + 2)``;
  ``MMD^2 = E k_pp + E k_qq - 2 E k_pq``. Depends on d (through the prefactor, which decays
  like ``e^{-d/h^2}``: use ``h^2 ~ d``, e.g. ``h^2 = D``, the scale of ``|u - v|^2/2``).

**Thm 2.2 counterexample** (:func:`counterexample`): ``beta_t = k beta_s`` with ``k >= 1``
chosen by ``brentq`` so that the prescribed distance holds. The pretrained feature spans
``beta_t``, so linear transfer is exact (:func:`linear_transfer_risk` = 0 for every k; at
finite n its floor is ``sigma_t^2/(n - 2)``), while KL and W2 grow without bound in k.
Hellinger and MMD are bounded: along the family they tend to their suprema 1 and
``sqrt(E k_pp)``, so any value below those is reached. The exactness needs the exact span:
a learned feature off ``beta_s`` by a small angle delta (e.g. the small-init residue of
gradient flow, delta ~ 1e-5) leaves an absolute risk ``k^2 |beta_s|^2 delta^2`` that grows
with k, while the relative risk stays ~ delta^2.

**Feature-centric overlap** (:func:`feature_overlap`): the squared norm of the target
function's part outside the pretrained feature space, relative to ``|beta_t|^2``:
``|P_perp beta_t|^2/|beta_t|^2``. Population pretraining (features span beta_s):
``sin^2 theta``; finite source (features span beta_hat_s): deterministic equivalent
``1 - O_s^2/N_s`` (:func:`expected_feature_overlap`). It *is* the asymptotic relative risk of
linear transfer, whereas the dataset distances are not functions of it.

**Sample estimators** (:func:`estimate`, :func:`estimate_feature_overlap`) are described there.

numpy and scipy only at import; :func:`expression` imports sympy when called.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import validation as V

METRICS = ("kl", "kl_reverse", "w2", "hellinger", "mmd")
FITS = ("model", "covariance")
_SUMMARY_KEYS = ("norm_s", "norm_t", "cos", "sigma_s", "sigma_t")


# --------------------------------------------------------------------------- tasks

@dataclass(frozen=True, eq=False)
class Task:
    """A regression task: teacher vector ``beta`` (length d >= 1) and label-noise sd ``sigma``.

    Its data are ``x ~ N(0, I_d)``, ``y = beta.x + eps``, ``eps ~ N(0, sigma^2)``.
    ``beta`` is stored as a read-only float64 copy.
    """

    beta: np.ndarray
    sigma: float = 0.0

    def __post_init__(self) -> None:
        beta = _vector("beta", self.beta)
        beta.flags.writeable = False
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "sigma", _scalar("sigma", self.sigma, lower=0))

    @property
    def d(self) -> int:
        """Input dimension."""
        return int(self.beta.shape[0])

    @property
    def norm(self) -> float:
        """``|beta|``."""
        return float(np.linalg.norm(self.beta))

    def covariance(self) -> np.ndarray:
        """The (d+1) x (d+1) covariance of ``(x, y)`` (dense; for checks at small d)."""
        S = np.eye(self.d + 1)
        S[:-1, -1] = S[-1, :-1] = self.beta
        S[-1, -1] = self.beta @ self.beta + self.sigma ** 2
        return S

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` samples ``(X (n, d), y (n,))`` of this task."""
        n = V.integer("n", n, minimum=1)
        X = rng.standard_normal((n, self.d))
        return X, X @ self.beta + self.sigma * rng.standard_normal(n)

    def __repr__(self) -> str:
        return f"Task(d={self.d}, |beta|={self.norm:.6g}, sigma={self.sigma:.6g})"


def _vector(name: str, value: Any) -> np.ndarray:
    if value is None or isinstance(value, (str, bytes, bool)):
        raise TypeError(f"{name} must be a 1-D array of real numbers, got {value!r}")
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a 1-D array of real numbers, got {value!r}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _scalar(name: str, value: Any, **bounds) -> float:
    arr = V.real(name, value, **bounds)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {arr.shape}")
    return float(arr)


# --------------------------------------------------------------------------- the summary

@dataclass(frozen=True)
class _Pair:
    """The pair of tasks as broadcast arrays: norms, cos/sin of the angle, |b_s - b_t|^2."""

    ns: np.ndarray
    nt: np.ndarray
    cos: np.ndarray
    sin: np.ndarray
    diff2: np.ndarray
    ss: np.ndarray
    st: np.ndarray
    d: Any
    names: dict  # role -> parameter name for error messages


def _pair_from_tasks(source: Any, target: Any) -> _Pair:
    for name, task in (("source", source), ("target", target)):
        if not isinstance(task, Task):
            raise TypeError(f"{name} must be a Task, got {type(task).__name__}")
    if source.d != target.d:
        raise ValueError(f"target.beta must have the length of source.beta ({source.d}), "
                         f"got {target.d}")
    bs, bt = source.beta, target.beta
    ns, nt = np.linalg.norm(bs), np.linalg.norm(bt)
    if ns > 0 and nt > 0:
        us = bs / ns
        c = float(np.clip(us @ bt / nt, -1.0, 1.0))
        s = float(min(np.linalg.norm(bt / nt - (us @ (bt / nt)) * us), 1.0))
    else:  # the angle is undefined; every distance depends on it only through diff2
        c, s = 1.0, 0.0
    return _Pair(*(np.asarray(v, dtype=float) for v in
                   (ns, nt, c, s, (bs - bt) @ (bs - bt), source.sigma, target.sigma)),
                 d=source.d, names={"ss": "source.sigma", "st": "target.sigma",
                                    "d": "d", "ns": "source.beta", "nt": "target.beta"})


def _pair_from_summary(kw: dict, need_d: bool) -> _Pair:
    missing = [k for k in _SUMMARY_KEYS if kw.get(k) is None]
    if need_d and kw.get("d") is None:
        missing.append("d")
    if missing:
        raise TypeError("pass source and target Tasks, or all of the keywords "
                        f"{_SUMMARY_KEYS + (('d',) if need_d else ())}; missing {missing}")
    ns = V.real("norm_s", kw["norm_s"], lower=0)
    nt = V.real("norm_t", kw["norm_t"], lower=0)
    c = V.real("cos", kw["cos"], lower=-1, upper=1)
    ss = V.real("sigma_s", kw["sigma_s"], lower=0)
    st = V.real("sigma_t", kw["sigma_t"], lower=0)
    d = None
    if need_d:
        d = V.real("d", kw["d"], lower=1)
        if np.any(d != np.round(d)):
            raise ValueError(f"d must be a whole number >= 1, got {kw['d']!r}")
    ns, nt, c, ss, st = np.broadcast_arrays(ns, nt, c, ss, st)
    # cancellation-free forms: |b_s - b_t|^2 = (n_s - n_t)^2 + 2 n_s n_t (1 - c)
    diff2 = (ns - nt) ** 2 + 2 * ns * nt * (1 - c)
    sin = np.sqrt(np.clip((1 - c) * (1 + c), 0, None))
    return _Pair(ns, nt, c, sin, diff2, ss, st, d,
                 names={"ss": "sigma_s", "st": "sigma_t", "d": "d", "ns": "norm_s",
                        "nt": "norm_t"})


def _resolve(source, target, kw: dict, need_d: bool = False) -> _Pair:
    unknown = set(kw) - set(_SUMMARY_KEYS) - {"d"}
    if unknown:
        raise TypeError(f"unexpected keyword(s) {sorted(unknown)}")
    given = {k: v for k, v in kw.items() if v is not None}
    if source is not None or target is not None:
        if given:
            raise TypeError("pass either source and target Tasks or the scalar summary "
                            f"keywords {_SUMMARY_KEYS}, not both (got {sorted(given)})")
        if source is None or target is None:
            raise TypeError("both source and target Tasks are needed")
        return _pair_from_tasks(source, target)
    return _pair_from_summary(kw, need_d)


def _positive_noise(pair: _Pair, what: str) -> None:
    for role in ("ss", "st"):
        value = getattr(pair, role)
        if value.size and value.min() <= 0:
            raise ValueError(f"{pair.names[role]} must be > 0 for {what} (a noiseless task "
                             f"has a degenerate joint law), got {value.min()}")


def _out(x: np.ndarray):
    x = np.asarray(x, dtype=float)
    return float(x) if x.ndim == 0 else x


# --------------------------------------------------------------------------- closed forms

def kl(source: Task | None = None, target: Task | None = None, **summary):
    """``KL(p_source || p_target)`` of the joint laws of (x, y), in nats.

    ``1/2 [(|b_s - b_t|^2 + sigma_s^2)/sigma_t^2 - 1 + ln(sigma_t^2/sigma_s^2)]``; independent
    of d. Reverse direction: ``kl(target, source)``. Keywords (instead of Tasks): ``norm_s,
    norm_t, cos, sigma_s, sigma_t``. Both sigmas must be > 0.
    """
    p = _resolve(source, target, summary)
    _positive_noise(p, "the KL divergence")
    r = (p.ss / p.st) ** 2
    return _out(0.5 * (p.diff2 / p.st ** 2 + r - 1 - np.log(r)))


def bhattacharyya(source: Task | None = None, target: Task | None = None, **summary):
    """Bhattacharyya coefficient ``BC = sqrt(2 s_s s_t/(s_s^2 + s_t^2 + |b_s - b_t|^2/2))``."""
    p = _resolve(source, target, summary)
    _positive_noise(p, "the Hellinger distance")
    return _out(_bc(p))


def _bc(p: _Pair) -> np.ndarray:
    return np.sqrt(2 * p.ss * p.st / (p.ss ** 2 + p.st ** 2 + p.diff2 / 2))


def hellinger(source: Task | None = None, target: Task | None = None, **summary):
    """Hellinger distance ``H = sqrt(1 - BC)`` (convention ``H^2 = 1 - BC``, ``0 <= H <= 1``).

    From ``BC = det(S_s)^{1/4} det(S_t)^{1/4} det((S_s + S_t)/2)^{-1/2}`` with
    ``det S = sigma^2`` and ``det((S_s + S_t)/2) = (sigma_s^2 + sigma_t^2)/2 + |b_s - b_t|^2/4``.
    Both sigmas must be > 0.
    """
    p = _resolve(source, target, summary)
    _positive_noise(p, "the Hellinger distance")
    # H^2 = 1 - BC = (1 - BC^2)/(1 + BC), free of cancellation
    den = p.ss ** 2 + p.st ** 2 + p.diff2 / 2
    return _out(np.sqrt(((p.ss - p.st) ** 2 + p.diff2 / 2) / den / (1 + _bc(p))))


def _w2_reduced(p: _Pair) -> tuple[np.ndarray, np.ndarray]:
    """(reduced traces tr A + tr B, fidelity sum_k sqrt(l_k)) on span(b_s, b_t, e_y)."""
    ns, nt, c, s, ss, st = np.broadcast_arrays(p.ns, p.nt, p.cos, p.sin, p.ss, p.st)
    shape = ns.shape
    one = np.ones(shape)
    zero = np.zeros(shape)
    # coordinates: e1 = b_s/|b_s|, e2 in span completing b_t, e3 = y
    b1, b2 = nt * c, nt * s
    B = np.stack([np.stack([one, zero, b1], -1), np.stack([zero, one, b2], -1),
                  np.stack([b1, b2, nt ** 2 + st ** 2], -1)], -2)
    # A = L L^T, L = [[1, 0, 0], [0, 1, 0], [n_s, 0, s_s]] (explicit Cholesky factor)
    L = np.stack([np.stack([one, zero, zero], -1), np.stack([zero, one, zero], -1),
                  np.stack([ns, zero, ss], -1)], -2)
    M = np.swapaxes(L, -1, -2) @ B @ L
    eig = np.clip(np.linalg.eigvalsh(M), 0, None)
    traces = 4 + ns ** 2 + ss ** 2 + nt ** 2 + st ** 2
    return traces, np.sqrt(eig).sum(-1)


def wasserstein2(source: Task | None = None, target: Task | None = None, **summary):
    """Wasserstein-2 distance (Bures) of the joint laws; independent of d, sigma >= 0 allowed.

    ``W2^2 = tr S_s + tr S_t - 2 tr (S_t^{1/2} S_s S_t^{1/2})^{1/2}``, reduced to the 3 x 3
    problem on span(b_s, b_t, e_y) (the identity blocks cancel) and evaluated from the
    eigenvalues of the explicit symmetric reduced matrix; see the module docstring for the
    closed form. Parallel teachers (sin theta = 0, e.g. Thm 2.2's family) use the
    cancellation-free sum-of-squares form (full relative accuracy); otherwise near W2 = 0 the
    absolute accuracy is ~ sqrt(eps * tr S) (a difference of traces), about 1e-8.
    """
    p = _resolve(source, target, summary)
    traces, fid = _w2_reduced(p)
    w2sq = np.clip(traces - 2 * fid, 0, None)
    # parallel teachers: W2^2 = T - 2 sqrt(B) = (T^2 - 4B)/(T + 2 sqrt(B)) and T^2 - 4B is the
    # sum of squares (a^2 + s_s^2 - b^2 - s_t^2)^2 + 4 (a - b)^2 + 4 (s_s - s_t)^2, with
    # a = |b_s|, b = +-|b_t| (the sign of cos), T = 2 + a^2 + s_s^2 + b^2 + s_t^2
    a, b = p.ns, p.nt * np.sign(p.cos)
    T = 2 + a ** 2 + p.ss ** 2 + b ** 2 + p.st ** 2
    B = 1 + 2 * a * b + (a ** 2 + p.ss ** 2) * (b ** 2 + p.st ** 2) + 2 * p.ss * p.st
    squares = ((a ** 2 + p.ss ** 2 - b ** 2 - p.st ** 2) ** 2 + 4 * (a - b) ** 2
               + 4 * (p.ss - p.st) ** 2)
    parallel = squares / (T + 2 * np.sqrt(B))
    return _out(np.sqrt(np.where(p.sin == 0, parallel, w2sq)))


def _log_mean_kernel(h2, d, sp2, sq2, np2, nq2, diff2):
    """log E k(u, v), u ~ p, v ~ q independent (zero-mean Gaussian joint laws)."""
    g = h2 + sp2 + sq2 + (h2 * (np2 + nq2) + diff2) / (h2 + 2)
    return 0.5 * d * np.log1p(-2 / (h2 + 2)) + 0.5 * np.log(h2) - 0.5 * np.log(g)


def mmd2(source: Task | None = None, target: Task | None = None, *, bandwidth, **summary):
    """Squared MMD with the Gaussian kernel ``exp(-|u - v|^2/(2 h^2))``, ``h = bandwidth``.

    ``E k_pq = (h^2/(h^2+2))^{d/2} h g_pq^{-1/2}``,
    ``g_pq = h^2 + s_p^2 + s_q^2 + (h^2 (|b_p|^2 + |b_q|^2) + |b_p - b_q|^2)/(h^2 + 2)``;
    ``MMD^2 = E k_ss + E k_tt - 2 E k_st``. With keywords, ``d`` is needed too.
    """
    p = _resolve(source, target, summary, need_d=True)
    h = V.real("bandwidth", bandwidth, lower=0, lower_open=True)
    h2 = h ** 2
    d = p.d
    ns2, nt2 = p.ns ** 2, p.nt ** 2
    ss2, st2 = p.ss ** 2, p.st ** 2
    kss = np.exp(_log_mean_kernel(h2, d, ss2, ss2, ns2, ns2, 0.0))
    ktt = np.exp(_log_mean_kernel(h2, d, st2, st2, nt2, nt2, 0.0))
    kst = np.exp(_log_mean_kernel(h2, d, ss2, st2, ns2, nt2, p.diff2))
    return _out(np.clip(kss + ktt - 2 * kst, 0, None))


def mmd(source: Task | None = None, target: Task | None = None, *, bandwidth, **summary):
    """``sqrt(mmd2(...))``: the MMD metric (Gaussian kernel, bandwidth h)."""
    return _out(np.sqrt(np.asarray(mmd2(source, target, bandwidth=bandwidth, **summary))))


def distance(metric: str, source: Task | None = None, target: Task | None = None, *,
             bandwidth=None, **summary):
    """Dispatch on ``metric`` in :data:`METRICS` ('kl_reverse' is KL(target || source))."""
    V.choice("metric", metric, METRICS)
    if metric == "kl":
        return kl(source, target, **summary)
    if metric == "kl_reverse":
        if source is not None or target is not None:
            return kl(target, source)
        swapped = dict(summary)
        for a, b in (("norm_s", "norm_t"), ("sigma_s", "sigma_t")):
            swapped[a], swapped[b] = summary.get(b), summary.get(a)
        return kl(**swapped)
    if metric == "w2":
        return wasserstein2(source, target, **summary)
    if metric == "hellinger":
        return hellinger(source, target, **summary)
    if bandwidth is None:
        raise TypeError("bandwidth is required for metric='mmd'")
    return mmd(source, target, bandwidth=bandwidth, **summary)


# --------------------------------------------------------------------------- Thm 2.2

def linear_transfer_risk(source: Task | None = None, target: Task | None = None, *,
                         n: int | None = None, **summary):
    """Excess risk of linear transfer after population pretraining on ``source``.

    The pretrained features span ``beta_s`` (docs/theory.md; any depth); least squares on them
    leaves ``|P_perp beta_t|^2 = |beta_t|^2 sin^2 theta`` (``n=None``: n -> infinity), and with
    ``n >= 3`` target samples the exact expectation
    ``|P_perp b_t|^2 + (|P_perp b_t|^2 + sigma_t^2)/(n - 2)`` (one feature; Gaussian design).
    General norms allowed; 0 for targets parallel to ``beta_s`` (n = infinity).
    """
    p = _resolve(source, target, summary)
    if source is not None and p.ns == 0:
        raise ValueError("source.beta must be nonzero: its span is the pretrained feature space")
    outside = p.nt ** 2 * p.sin ** 2
    if n is None:
        return _out(outside)
    n = V.integer("n", n, minimum=3)
    return _out(outside + (outside + p.st ** 2) / (n - 2))


def counterexample(source: Task, value, metric: str = "kl", *, sigma=None, bandwidth=None,
                   k_max: float = 1e12) -> Task:
    """The paper's Thm 2.2: a target ``Task(k beta_s, sigma)`` in the source feature span at
    prescribed ``metric`` distance ``value`` from ``source``; linear transfer to it is exact.

    ``sigma``: target noise (default ``source.sigma``). ``k >= 1`` is found by bracketing
    (doubling from 1) and ``scipy.optimize.brentq``; the distance at ``k = 1`` (0 for equal
    noise) is the smallest value offered. KL and W2 are unbounded in k; Hellinger and MMD tend
    to their suprema (1 and ``sqrt(E k_ss)``) and values at or above them raise. The target's
    ``k`` is ``target.beta @ source.beta / |source.beta|^2``.
    """
    from scipy.optimize import brentq

    if not isinstance(source, Task):
        raise TypeError(f"source must be a Task, got {type(source).__name__}")
    V.choice("metric", metric, METRICS)
    if source.norm == 0:
        raise ValueError("source.beta must be nonzero: its span is the pretrained feature space")
    value = _scalar("value", value, lower=0)
    sigma_t = source.sigma if sigma is None else _scalar("sigma", sigma, lower=0)
    if metric in ("kl", "kl_reverse", "hellinger") and min(source.sigma, sigma_t) <= 0:
        which = "source.sigma" if source.sigma <= 0 else "sigma"
        raise ValueError(f"{which} must be > 0 for metric={metric!r} (a noiseless task has a "
                         "degenerate joint law)")
    if metric == "mmd":
        if bandwidth is None:
            raise TypeError("bandwidth is required for metric='mmd'")
        bandwidth = _scalar("bandwidth", bandwidth, lower=0, lower_open=True)
    k_max = _scalar("k_max", k_max, lower=1, lower_open=True)
    ns = source.norm

    def f(k: float) -> float:
        summary = dict(norm_s=ns, norm_t=k * ns, cos=1.0, sigma_s=source.sigma, sigma_t=sigma_t)
        if metric == "mmd":
            summary["d"] = source.d
        return float(distance(metric, bandwidth=bandwidth, **summary)) - value

    lo, f_lo = 1.0, f(1.0)
    if f_lo > 0:
        raise ValueError(f"value must be >= the {metric} distance at k = 1 ({f_lo + value:.6g}) "
                         f"for target noise sigma = {sigma_t:.6g}; got {value}")
    k = 1.0
    if f_lo == 0:
        return Task(source.beta.copy(), sigma_t)
    while True:
        hi = min(2 * k, k_max)
        f_hi = f(hi)
        if f_hi >= 0:
            break
        if hi >= k_max:
            sup = f_hi + value
            raise ValueError(f"value must be below the {metric} distance reached along "
                             f"beta_t = k beta_s for k <= k_max (about {sup:.6g}); got {value}")
        lo, k = hi, hi
    if f_hi == 0:
        kstar = hi
    else:
        kstar = brentq(f, lo, hi, xtol=1e-15 * hi, rtol=4 * np.finfo(float).eps, maxiter=500)
    return Task(kstar * source.beta, sigma_t)


# --------------------------------------------------------------------------- sample estimators

def _data(name: str, data: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (X, y) of arrays")
    X, y = data
    try:
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (X, y) of real arrays") from None
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise ValueError(f"{name} must be (X of shape (n, d), y of shape (n,)), got "
                         f"{X.shape} and {y.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError(f"{name} must be finite")
    return X, y


def fit_task(X, y) -> Task:
    """Plug-in task from samples: least-squares ``beta_hat`` and
    ``sigma_hat^2 = RSS/(n - d)`` (unbiased); needs ``n > d``."""
    X, y = _data("data", (X, y))
    n, d = X.shape
    if n <= d:
        raise ValueError(f"data must have more samples than dimensions to fit a task, got "
                         f"n = {n}, d = {d}")
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    return Task(beta, math.sqrt(resid @ resid / (n - d)))


def _dense_kl(P: np.ndarray, Q: np.ndarray) -> float:
    D = P.shape[0]
    _, ldp = np.linalg.slogdet(P)
    _, ldq = np.linalg.slogdet(Q)
    return 0.5 * (np.trace(np.linalg.solve(Q, P)) - D + ldq - ldp)


def _dense_hellinger(P: np.ndarray, Q: np.ndarray) -> float:
    _, ldp = np.linalg.slogdet(P)
    _, ldq = np.linalg.slogdet(Q)
    _, ldm = np.linalg.slogdet((P + Q) / 2)
    return math.sqrt(max(0.0, 1 - math.exp(0.25 * (ldp + ldq) - 0.5 * ldm)))


def _psd_sqrt(S: np.ndarray) -> np.ndarray:
    w, U = np.linalg.eigh(S)
    return (U * np.sqrt(np.clip(w, 0, None))) @ U.T


def _dense_w2(P: np.ndarray, Q: np.ndarray) -> float:
    R = _psd_sqrt(Q)
    fid = np.sqrt(np.clip(np.linalg.eigvalsh(R @ P @ R), 0, None)).sum()
    return math.sqrt(max(0.0, np.trace(P) + np.trace(Q) - 2 * fid))


def mmd2_unbiased(Z_p, Z_q, bandwidth, *, chunk: int = 2048) -> float:
    """Unbiased U-statistic estimate of MMD^2 (Gretton et al. 2012, eq. 3) from samples
    ``Z_p (m, D)``, ``Z_q (n, D)`` (m, n >= 2), Gaussian kernel of bandwidth h:
    ``sum_{i != j} k(p_i, p_j)/(m(m-1)) + sum_{i != j} k(q_i, q_j)/(n(n-1))
    - 2 sum_{i, j} k(p_i, q_j)/(m n)``. Its expectation is MMD^2 exactly; it can be negative.
    Cost O((m + n)^2 D), in row blocks of ``chunk``."""
    h = _scalar("bandwidth", bandwidth, lower=0, lower_open=True)
    Zp = np.asarray(Z_p, dtype=float)
    Zq = np.asarray(Z_q, dtype=float)
    for name, Z in (("Z_p", Zp), ("Z_q", Zq)):
        if Z.ndim != 2 or Z.shape[0] < 2:
            raise ValueError(f"{name} must be an (n, D) array with n >= 2, got shape {Z.shape}")
    if Zp.shape[1] != Zq.shape[1]:
        raise ValueError(f"Z_q must have the dimension of Z_p ({Zp.shape[1]}), "
                         f"got {Zq.shape[1]}")

    def block_sum(A: np.ndarray, B: np.ndarray) -> float:
        total = 0.0
        b2 = np.einsum("ij,ij->i", B, B)
        for start in range(0, A.shape[0], chunk):
            a = A[start:start + chunk]
            sq = np.einsum("ij,ij->i", a, a)[:, None] + b2[None, :] - 2 * a @ B.T
            total += np.exp(-np.clip(sq, 0, None) / (2 * h * h)).sum()
        return total

    m, n = Zp.shape[0], Zq.shape[0]
    kpp = (block_sum(Zp, Zp) - m) / (m * (m - 1))  # the diagonal k(p_i, p_i) = 1
    kqq = (block_sum(Zq, Zq) - n) / (n * (n - 1))
    kpq = block_sum(Zp, Zq) / (m * n)
    return float(kpp + kqq - 2 * kpq)


def estimate(metric: str, source_data, target_data, *, bandwidth=None, fit: str = "model"):
    """Estimate ``distance(metric, source, target)`` from samples ``(X, y)`` of both tasks.

    * ``'kl'``, ``'kl_reverse'``, ``'w2'``, ``'hellinger'``: plug-in Gaussian fits.
      ``fit='model'`` (default): :func:`fit_task` on each sample (least squares and
      ``RSS/(n - d)``; the maximum-likelihood family with the known ``N(0, I)`` input law),
      then the closed form. Consistent; its bias is O(d/n) (e.g. KL is biased up by about
      ``(sigma_s^2 + sigma_t^2) d/(2 n sigma_t^2)`` from the noise in ``beta_hat``).
      ``fit='covariance'``: the zero-mean sample covariances ``Z^T Z/n`` of ``z = (x, y)``,
      then the general Gaussian formulas on the dense (d+1) x (d+1) matrices (bias
      O(d^2/n); needs ``n > d``).
    * ``'mmd'``: ``sqrt(max(U, 0))`` of the unbiased U-statistic ``U`` of
      :func:`mmd2_unbiased` (biased up near 0); ``'mmd2'``: ``U`` itself, unbiased.
      Needs ``bandwidth``; no Gaussian fit is used.
    """
    V.choice("metric", metric, METRICS + ("mmd2",))
    V.choice("fit", fit, FITS)
    Xs, ys = _data("source_data", source_data)
    Xt, yt = _data("target_data", target_data)
    if Xs.shape[1] != Xt.shape[1]:
        raise ValueError(f"target_data must have the dimension of source_data "
                         f"({Xs.shape[1]}), got {Xt.shape[1]}")
    if metric in ("mmd", "mmd2"):
        if bandwidth is None:
            raise TypeError(f"bandwidth is required for metric={metric!r}")
        u = mmd2_unbiased(np.column_stack([Xs, ys]), np.column_stack([Xt, yt]), bandwidth)
        return u if metric == "mmd2" else math.sqrt(max(u, 0.0))
    if metric == "kl_reverse":
        return estimate("kl", target_data, source_data, fit=fit)
    if fit == "model":
        return float(distance(metric, fit_task(Xs, ys), fit_task(Xt, yt)))
    covs = []
    for name, X, y in (("source_data", Xs, ys), ("target_data", Xt, yt)):
        if X.shape[0] <= X.shape[1]:
            raise ValueError(f"{name} needs n > d samples for a covariance fit, got "
                             f"n = {X.shape[0]}, d = {X.shape[1]}")
        Z = np.column_stack([X, y])
        covs.append(Z.T @ Z / Z.shape[0])
    dense: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
        "kl": _dense_kl, "w2": _dense_w2, "hellinger": _dense_hellinger}
    return float(dense[metric](*covs))


# --------------------------------------------------------------------------- feature overlap

def _features(features: Any) -> np.ndarray:
    if features is None or isinstance(features, (str, bytes, bool)):
        raise TypeError(f"features must be a (d,) or (d, r) array, got {features!r}")
    try:
        F = np.array(features, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"features must be a (d,) or (d, r) real array, got {features!r}") \
            from None
    if F.ndim == 1:
        F = F[:, None]
    if F.ndim != 2 or F.size == 0:
        raise ValueError(f"features must be a (d,) or (d, r) array, got shape {F.shape}")
    if not np.all(np.isfinite(F)):
        raise ValueError("features must be finite")
    if not np.any(F):
        raise ValueError("features must not be all zero (the feature space would be empty)")
    return F


def feature_overlap(features, beta_t) -> float:
    """Exact feature-centric overlap ``|P_perp beta_t|^2/|beta_t|^2``: the fraction of the
    target function outside the span of ``features`` ((d,) vector, e.g. beta_s or beta_hat_s,
    or (d, r) columns, e.g. learned feature directions). 0: inside; 1: orthogonal.
    With ``features = beta_s``: ``sin^2 theta``, the asymptotic relative linear-transfer risk."""
    F = _features(features)
    b = _vector("beta_t", beta_t)
    if b.shape[0] != F.shape[0]:
        raise ValueError(f"beta_t must have length {F.shape[0]} (the rows of features), "
                         f"got {b.shape[0]}")
    nb = np.linalg.norm(b)
    if nb == 0:
        raise ValueError("beta_t must be nonzero (the overlap is relative to |beta_t|^2)")
    U, s, _ = np.linalg.svd(F, full_matrices=False)
    U = U[:, s > s[0] * max(F.shape) * np.finfo(float).eps]
    u = b / nb
    outside = u - U @ (U.T @ u)  # no cancellation for targets nearly inside the span
    return float(min(1.0, outside @ outside))


def expected_feature_overlap(theta, *, gamma_s=None, sigma_s=0.0):
    """Theory of the overlap for unit teachers at angle ``theta``.

    ``gamma_s=None`` (population pretraining): ``sin^2 theta``. Finite source (features span
    beta_hat_s, n_s = gamma_s d samples of noise sigma_s): ``1 - O_s^2/N_s`` with the
    deterministic equivalents of ``formulas.source_statistics('finite')``:
    ``1 - gamma_s (1 - gamma_s) cos^2/(1 - gamma_s + sigma_s^2)`` (gamma_s < 1),
    ``1 - (gamma_s - 1) cos^2/(gamma_s - 1 + sigma_s^2)`` (gamma_s > 1). For a non-unit source
    teacher pass ``sigma_s/|beta_s|``. At gamma_s = 1 with sigma_s > 0 it is 1.
    """
    th = V.real("theta", theta, lower=0, upper=math.pi)
    s = V.real("sigma_s", sigma_s, lower=0)
    c2 = np.cos(th) ** 2
    if gamma_s is None:
        if np.any(s != 0):
            raise ValueError("sigma_s needs gamma_s (gamma_s=None is population pretraining)")
        return _out(np.sin(th) ** 2)
    g = V.real("gamma_s", gamma_s, lower=0, lower_open=True)
    g, s, c2 = np.broadcast_arrays(g, s, c2)
    gap = np.abs(1 - g)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.where(g < 1, g, 1.0) * gap / (gap + s ** 2)
    keep = np.where((gap == 0) & (s == 0), np.where(g < 1, g, 1.0), keep)
    return _out(1 - keep * c2)


def estimate_feature_overlap(features, X, y, *, noise_var=0.0, ridge: float = 1e-8) -> float:
    """Overlap estimated from a trained model: regress the target outputs on its hidden
    activations and report the unexplained fraction of the target signal variance.

    ``features`` (d, r): the learned feature directions (``h(x) = features^T x``), e.g.
    :func:`symtransfer.mc.pipeline.learned_features` of ``weights.features()``, or
    ``SimulationResult.beta_source[k]`` (rank 1). ``(X, y)``: a large fresh sample of the
    target, ``noise_var`` its known label-noise variance (0 for noiseless targets).
    Fit: ``w = (H^T H/n + ridge * l_max)^{-1} H^T y/n`` with ``H = X features`` and ``l_max``
    the largest eigenvalue of ``H^T H/n`` (the relative ridge 1e-8 is invisible for learned
    directions and only tames a nearly singular basis). With effective degrees of freedom
    ``df = sum l_i/(l_i + ridge l_max)``: residual variance ``RSS/(n - df)`` (unbiased for
    ``|P_perp beta_t|^2 + sigma^2``), signal variance ``|y|^2/n`` (zero-mean data), estimate
    ``(RSS/(n - df) - noise_var)/(|y|^2/n - noise_var)``. For noiseless targets its standard
    deviation is about ``2 rho sqrt((1 - rho)/n) + O(1/n)`` at overlap rho (delta method).
    """
    F = _features(features)
    X, y = _data("data", (X, y))
    if X.shape[1] != F.shape[0]:
        raise ValueError(f"X must have {F.shape[0]} columns (the rows of features), "
                         f"got {X.shape[1]}")
    nv = _scalar("noise_var", noise_var, lower=0)
    ridge = _scalar("ridge", ridge, lower=0)
    n = X.shape[0]
    H = X @ F
    G = H.T @ H / n
    lam, U = np.linalg.eigh(G)
    lam = np.clip(lam, 0, None)
    pen = ridge * lam.max()
    if lam.max() == 0:
        raise ValueError("features give zero activations on X")
    coef = (U.T @ (H.T @ y / n)) / (lam + pen) * (lam > 0)
    resid = y - H @ (U @ coef)
    df = float(np.sum(lam / (lam + pen) * (lam > 0)))
    if n - df <= 0:
        raise ValueError(f"X must have more rows than features ({df:.0f}), got {n}")
    signal = y @ y / n - nv
    if signal <= 0:
        raise ValueError(f"noise_var ({nv}) must be below the variance of y ({y @ y / n})")
    return float((resid @ resid / (n - df) - nv) / signal)


# --------------------------------------------------------------------------- sympy expressions

def expression(name: str):
    """The closed forms as sympy expressions (imports sympy).

    Symbols: ``norm_s``, ``norm_t`` (``|beta_s|``, ``|beta_t|``), ``theta`` (the angle),
    ``sigma_s`` (source noise), ``sigma`` (target noise), ``h`` (bandwidth), ``d``, ``n``,
    ``gamma_s``; see :func:`symbols`. Names: ``kl``, ``hellinger``, ``bhattacharyya``, ``w2``
    (Viete's roots of the reduced cubic), ``w2_parallel`` (theta = 0), ``mmd2``,
    ``linear_transfer_risk``, ``linear_transfer_risk_finite`` (n samples),
    ``feature_overlap`` (population), ``feature_overlap_finite``.
    """
    import sympy as sp

    S = symbols()
    ns, nt, th, ss, st, h, d, n, gs = (S[k] for k in (
        "norm_s", "norm_t", "theta", "sigma_s", "sigma", "h", "d", "n", "gamma_s"))
    c = sp.cos(th)
    diff2 = ns ** 2 + nt ** 2 - 2 * ns * nt * c
    t1, t2, t3 = w2_cubic()
    if name == "kl":
        return ((diff2 + ss ** 2) / st ** 2 - 1 + sp.log(st ** 2 / ss ** 2)) / 2
    if name == "bhattacharyya":
        return sp.sqrt(2 * ss * st / (ss ** 2 + st ** 2 + diff2 / 2))
    if name == "hellinger":
        return sp.sqrt(1 - expression("bhattacharyya"))
    if name == "w2":
        u = t1 ** 2 - 3 * t2
        phi = sp.acos((2 * t1 ** 3 - 9 * t1 * t2 + 27 * t3) / (2 * u ** sp.Rational(3, 2))) / 3
        roots = [t1 / 3 + 2 * sp.sqrt(u) / 3 * sp.cos(phi - 2 * sp.pi * k / 3) for k in range(3)]
        return sp.sqrt(4 + ns ** 2 + ss ** 2 + nt ** 2 + st ** 2
                       - 2 * sum(sp.sqrt(r) for r in roots))
    if name == "w2_parallel":
        tp = (t1 - 1).subs(th, 0)
        return sp.sqrt(2 + ns ** 2 + ss ** 2 + nt ** 2 + st ** 2
                       - 2 * sp.sqrt(tp + 2 * ss * st))
    if name == "mmd2":
        def ek(sp2, sq2, np2, nq2, dd):
            g = h ** 2 + sp2 + sq2 + (h ** 2 * (np2 + nq2) + dd) / (h ** 2 + 2)
            return (h ** 2 / (h ** 2 + 2)) ** (d / 2) * h / sp.sqrt(g)
        return (ek(ss ** 2, ss ** 2, ns ** 2, ns ** 2, 0)
                + ek(st ** 2, st ** 2, nt ** 2, nt ** 2, 0)
                - 2 * ek(ss ** 2, st ** 2, ns ** 2, nt ** 2, diff2))
    if name == "linear_transfer_risk":
        return nt ** 2 * sp.sin(th) ** 2
    if name == "linear_transfer_risk_finite":
        out = nt ** 2 * sp.sin(th) ** 2
        return out + (out + st ** 2) / (n - 2)
    if name == "feature_overlap":
        return sp.sin(th) ** 2
    if name == "feature_overlap_finite":
        return sp.Piecewise((1 - gs * (1 - gs) * c ** 2 / (1 - gs + ss ** 2), gs < 1),
                            (1 - (gs - 1) * c ** 2 / (gs - 1 + ss ** 2), True))
    raise ValueError(f"name must be one of {EXPRESSIONS}, got {name!r}")


EXPRESSIONS = ("kl", "bhattacharyya", "hellinger", "w2", "w2_parallel", "mmd2",
               "linear_transfer_risk", "linear_transfer_risk_finite", "feature_overlap",
               "feature_overlap_finite")


def symbols() -> dict:
    """The sympy symbols of :func:`expression` (project symbols where they exist)."""
    import sympy as sp

    from . import symbols as S

    return {"norm_s": sp.Symbol("norm_s", nonnegative=True),
            "norm_t": sp.Symbol("norm_t", nonnegative=True),
            "theta": S.theta, "sigma_s": S.sigma_s, "sigma": S.sigma,
            "h": sp.Symbol("h", positive=True), "d": S.d, "n": S.n, "gamma_s": S.gamma_s}


def w2_cubic():
    """``(t1, t2, t3)``: ``l^3 - t1 l^2 + t2 l - t3`` is the characteristic polynomial of the
    reduced 3 x 3 product ``A B`` of the two covariances (its roots are W2's eigenvalues)."""
    import sympy as sp

    S = symbols()
    ns, nt, th, ss, st = (S[k] for k in ("norm_s", "norm_t", "theta", "sigma_s", "sigma"))
    c = sp.cos(th)
    t1 = 2 + 2 * ns * nt * c + (ns ** 2 + ss ** 2) * (nt ** 2 + st ** 2)
    t2 = (1 + ns * nt * c) ** 2 + ns ** 2 * st ** 2 + nt ** 2 * ss ** 2 + 2 * ss ** 2 * st ** 2
    t3 = ss ** 2 * st ** 2
    return t1, t2, t3
