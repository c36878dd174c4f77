"""Dataset distances against transferability, and phase diagrams against both baselines
(ridgeless and optimally regularized scratch).
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .. import theory
from ._common import (
    DIVERGING,
    HALF_PI,
    METHOD_NAMES,
    _default_gamma,
    _figure,
    _gamma_line,
    _params_text,
    transfer_method,
)

DISTANCE_LABELS = {"kl": "KL(p_s \u2016 p_t)", "kl_reverse": "KL(p_t \u2016 p_s)",
                   "w2": "W\u2082(p_s, p_t)", "hellinger": "Hellinger H(p_s, p_t)",
                   "mmd": "MMD(p_s, p_t)"}


_LOG_DISTANCES = ("kl", "kl_reverse", "w2")  # unbounded: spread over decades


def distance_transfer_table(*, pairs=None, metric_list: Sequence[str] = ("kl", "w2",
                                                                         "hellinger", "mmd"),
                            gamma: float = 0.5, sigma: float = 0.2, method: str = "linear",
                            n_pairs: int = 200, seed: int = 0, bandwidth: float | None = None,
                            d: int = 100,
                            family_k: Iterable[float] = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)):
    """The data behind :func:`distance_vs_transfer`: task pairs, their dataset distances, the
    feature overlap and the theory's transferability of linear transfer, as arrays.

    Source ``beta_s`` of unit norm; target ``beta_t = k u_theta`` with ``u_theta`` the unit
    vector at angle theta from ``beta_s``; both tasks have label noise ``sigma``; population
    pretraining (the features span ``beta_s``). ``pairs=None`` draws ``n_pairs`` pairs with
    theta ~ U[0, pi] and log k ~ U[log 1/4, log 4] (``seed``); otherwise ``pairs = (theta,
    k)`` arrays. Appended: the Thm 2.2 family ``beta_t = k beta_s`` (theta = 0, overlap 0) for
    k in ``family_k`` (flagged ``family``).

    Risks for a target of norm k (``symtransfer.risk`` assumes unit teachers, so they are
    evaluated here from their closed forms for general norms):

    * linear transfer: ``|P_perp beta_t|^2 = k^2 sin^2 theta``
      (:func:`symtransfer.distances.linear_transfer_risk`);
    * scratch (ridgeless): ``k^2 (1 - gamma) + sigma^2 gamma/(1 - gamma)`` for gamma < 1,
      ``sigma^2/(gamma - 1)`` for gamma > 1, computed as
      ``k^2 risk('scratch', gamma, sigma=sigma/k)`` (the risk is homogeneous of degree 2
      in (beta_t, sigma)).

    Distances from :mod:`symtransfer.distances` (scalar-keyword form, equal noise); the MMD
    needs the dimension ``d`` and uses ``bandwidth`` (default ``h = sqrt(d + 1)``, the scale of
    ``|u - v|^2/2`` in ``R^{d+1}``).

    Returns a dict of 1-d arrays: ``theta``, ``norm_t``, ``cos``, ``overlap`` (relative
    ``sin^2 theta``), ``abs_overlap`` (``k^2 sin^2 theta``, the linear-transfer risk),
    ``R_scratch``, ``R_transfer``, ``T``, ``family`` (bool), one array per metric; and
    ``spearman``: {quantity: Spearman rank correlation with T} over the random pairs and the
    family together, for each metric and ``'overlap'``.
    """
    from scipy.stats import spearmanr

    from .. import distances as D

    if method != "linear":
        raise ValueError("distance_vs_transfer supports method='linear' (closed forms for "
                         f"general target norms), got {method!r}")
    for m in metric_list:
        if m not in D.METRICS:
            raise ValueError(f"metric_list entries must be in {D.METRICS}, got {m!r}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0 (KL and Hellinger need noise), got {sigma!r}")
    if pairs is None:
        rng = np.random.default_rng(seed)
        theta = rng.uniform(0.0, math.pi, int(n_pairs))
        k = np.exp(rng.uniform(math.log(0.25), math.log(4.0), int(n_pairs)))
    else:
        theta, k = (np.asarray(a, dtype=float).ravel() for a in pairs)
        theta, k = np.broadcast_arrays(theta, k)
    fam = np.asarray(list(family_k), dtype=float)
    theta = np.concatenate([theta, np.zeros(fam.size)])
    k = np.concatenate([k, fam])
    family = np.concatenate([np.zeros(theta.size - fam.size, bool), np.ones(fam.size, bool)])
    cos = np.clip(np.cos(theta), -1.0, 1.0)
    summary = dict(norm_s=1.0, norm_t=k, cos=cos, sigma_s=sigma, sigma_t=sigma)
    R_transfer = np.asarray(D.linear_transfer_risk(**summary), dtype=float)
    R_scratch = k ** 2 * np.asarray(theory.risk("scratch", gamma=gamma, sigma=sigma / k),
                                    dtype=float)
    out: dict[str, Any] = dict(theta=theta, norm_t=k, cos=cos, overlap=np.sin(theta) ** 2,
                               abs_overlap=R_transfer, R_scratch=R_scratch,
                               R_transfer=R_transfer, T=R_scratch - R_transfer, family=family)
    h = math.sqrt(d + 1) if bandwidth is None else float(bandwidth)
    for m in metric_list:
        extra = dict(bandwidth=h, d=d) if m == "mmd" else {}
        out[m] = np.asarray(D.distance(m, **summary, **extra), dtype=float)
    out["spearman"] = {q: float(spearmanr(out[q], out["T"])[0])
                       for q in (*metric_list, "overlap")}
    out["settings"] = dict(gamma=gamma, sigma=sigma, d=d, bandwidth=h)
    return out


def distance_vs_transfer(*, pairs=None, metric_list: Sequence[str] = ("kl", "w2", "hellinger",
                                                                      "mmd"),
                         gamma: float = 0.5, sigma: float = 0.2, method: str = "linear",
                         n_pairs: int = 200, seed: int = 0, bandwidth: float | None = None,
                         d: int = 100, table: Mapping[str, Any] | None = None):
    """Dataset distances do not predict transfer; the feature overlap does.

    One panel per distance in ``metric_list``: the theory's transferability T of linear
    transfer (population pretraining, T = R_scratch - R_linear against the ridgeless scratch
    baseline) against the distance between the joint laws of (x, y) of source and target,
    for many task pairs (see :func:`distance_transfer_table`, which computes the data, also
    for general target norms), coloured by the feature overlap sin^2 theta. A final panel
    shows T against the overlap, coloured by |beta_t|, with the theory lines
    ``T = |beta_t|^2 (1 - gamma - sin^2 theta) + sigma^2 gamma/(1 - gamma)`` for a few norms:
    the overlap, scaled by |beta_t|^2, determines T. The Thm 2.2 family (beta_t = k beta_s,
    overlap 0) is marked by stars: distances large, T maximal at its norm. Each title gives
    the Spearman rank correlation rho of the quantity with T (over all pairs shown).
    ``table``: a precomputed :func:`distance_transfer_table` (the other arguments are then
    ignored).
    """
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.lines import Line2D

    t = table if table is not None else distance_transfer_table(
        pairs=pairs, metric_list=metric_list, gamma=gamma, sigma=sigma, method=method,
        n_pairs=n_pairs, seed=seed, bandwidth=bandwidth, d=d)
    metrics = [m for m in t["spearman"] if m != "overlap"]
    gamma, sigma = t["settings"]["gamma"], t["settings"]["sigma"]
    panels = len(metrics) + 1
    ncols = min(panels, 3)
    nrows = math.ceil(panels / ncols)
    fig = _figure((5.0 * ncols + 0.8, 4.3 * nrows + 0.6))
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False).ravel()
    for ax in axes[panels:]:
        ax.set_visible(False)
    fam, rnd = t["family"], ~t["family"]
    T = t["T"]
    onorm = Normalize(0.0, 1.0)
    star = dict(marker="*", s=170, c="gold", edgecolors="k", linewidths=0.8, zorder=5)
    sc = None
    for ax, m in zip(axes, metrics):
        x = t[m]
        sc = ax.scatter(x[rnd], T[rnd], c=t["overlap"][rnd], cmap="viridis", norm=onorm,
                        s=16, alpha=0.85, edgecolors="none")
        ax.scatter(x[fam], T[fam], **star)
        if m in _LOG_DISTANCES and np.all(x > 0):
            ax.set_xscale("log")
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel(DISTANCE_LABELS.get(m, m) + ("   (log scale)" if ax.get_xscale() == "log"
                                                   else ""))
        ax.set_title(f"{DISTANCE_LABELS.get(m, m)}: Spearman \u03c1 = "
                     f"{t['spearman'][m]:+.2f}", fontsize=10)
    ax = axes[len(metrics)]
    knorm = LogNorm(0.25, 4.0)
    sk = ax.scatter(t["overlap"][rnd], T[rnd], c=t["norm_t"][rnd], cmap="plasma", norm=knorm,
                    s=16, alpha=0.85, edgecolors="none")
    ax.scatter(t["overlap"][fam], T[fam], **star)
    s2 = np.linspace(0.0, 1.0, 101)
    for kk in (0.5, 1.0, 2.0, 4.0):
        line = kk ** 2 * np.asarray(theory.risk("scratch", gamma=gamma, sigma=sigma / kk)) \
            - kk ** 2 * s2
        ax.plot(s2, line, color=sk.cmap(knorm(kk)), lw=1.2, ls="--")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("feature overlap |P\u22a5\u03b2_t|\u00b2/|\u03b2_t|\u00b2 = sin\u00b2\u03b8")
    ax.set_title(f"feature overlap: Spearman \u03c1 = {t['spearman']['overlap']:+.2f}",
                 fontsize=10)
    ax.legend(handles=[Line2D([], [], color="0.3", ls="--", lw=1.2,
                              label="theory, |\u03b2_t| = 0.5, 1, 2, 4"),
                       Line2D([], [], marker="*", ls="", ms=12, mfc="gold", mec="k",
                              label="Thm 2.2: \u03b2_t = k\u03b2_s")],
              fontsize=8, loc="lower left", framealpha=0.9)
    for row in range(nrows):
        axes[row * ncols].set_ylabel("T = R_scratch \u2212 R_linear   (> 0: transfer helps)")
    # the overlap colour bar beside the first row of distance panels, the norm colour bar
    # beside the overlap panel
    cb = fig.colorbar(sc, ax=list(axes[:min(ncols, len(metrics))]), shrink=0.9, pad=0.01)
    cb.set_label("colour: overlap sin\u00b2\u03b8")
    cb2 = fig.colorbar(sk, ax=ax, shrink=0.9, pad=0.01)
    cb2.set_label("colour: |\u03b2_t|   (|\u03b2_s| = 1)")
    n = int(rnd.sum())
    fig.suptitle(f"Dataset distances vs transferability of linear transfer: {n} random task "
                 f"pairs (\u03b8 ~ U[0, \u03c0], |\u03b2_t| log-uniform in [1/4, 4]) and the "
                 f"Thm 2.2 family (\u2605)\n\u03b3 = {gamma:g}, \u03c3_s = \u03c3_t = "
                 f"{sigma:g}, population pretraining; MMD: d = {t['settings']['d']}, "
                 f"h = {t['settings']['bandwidth']:.3g}", fontsize=10.5)
    return fig


def phase_diagram_baselines(method: str = "finetune", *, sigma: float = 0.3, depth: int = 2,
                            form: str = "exact", gamma: Iterable[float] | None = None,
                            theta: Iterable[float] | None = None, clip: float = 1.0):
    """Theory transferability of ``method`` over (theta/(pi/2), gamma) against two baselines,
    side by side: scratch without regularization (ridgeless, left) and scratch ridge at its
    optimal penalty lam* = sigma^2/gamma (right; Marchenko-Pastur asymptotics). One diverging
    colour scale centred at T = 0 for both, clipped at +-``clip`` (arrows on the colour bar);
    T = 0 contours in black. Hatched and outlined in magenta on the left: the anomalous region
    (:func:`symtransfer.anomalous_transfer`), where transfer beats the unregularized baseline
    but not the tuned one -- the double-descent peak of the baseline near gamma = 1.
    """
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    declared = transfer_method(method, "a phase diagram")
    params = dict(sigma=sigma, depth=depth)
    G = _default_gamma(gamma, 0.02, 2.5, 300)
    TH = np.linspace(0.0, HALF_PI, 181) if theta is None else np.asarray(theta, dtype=float)
    X = TH / HALF_PI
    grid = dict(gamma=G[:, None], theta=TH[None, :], form=form, **params)
    maps = {b: np.asarray(theory.transferability(method, baseline=b, **grid), dtype=float)
            for b in ("ridgeless", "optimal_ridge")}
    anomalous = np.asarray(theory.anomalous_transfer(method, **grid), dtype=bool)
    finite = np.concatenate([m[np.isfinite(m)] for m in maps.values()])
    lo, hi = float(finite.min()), float(finite.max())
    cap = float(clip)
    vmin, vmax = max(min(lo, -1e-3), -cap), min(max(hi, 1e-3), cap)
    low_clip = any(bool(np.nanmin(m) < vmin) for m in maps.values())
    high_clip = any(bool(np.nanmax(m) > vmax) for m in maps.values())
    extend = {(True, True): "both", (True, False): "min", (False, True): "max"}.get(
        (low_clip, high_clip), "neither")
    norm = TwoSlopeNorm(vcenter=0.0, vmin=vmin, vmax=vmax)
    fig = _figure((13.4, 5.6))
    axes = fig.subplots(1, 2, sharey=True)
    titles = {"ridgeless": "vs ridgeless scratch (min-norm / least squares)",
              "optimal_ridge": "vs optimally regularized scratch (ridge, \u03bb* = \u03c3\u00b2/\u03b3)"}
    label_form = "" if len(declared.forms) == 1 else f" ({form} form)"
    mesh = None
    for ax, (b, T) in zip(axes, maps.items()):
        mesh = ax.pcolormesh(X, G, np.clip(np.nan_to_num(T, nan=0.0), vmin, vmax),
                             cmap=DIVERGING, norm=norm, shading="auto", rasterized=True)
        Tc = np.where(np.isfinite(T), T, np.sign(T) * 1e6)
        if declared.pinned_above_one and b == "ridgeless":
            # above gamma = 1 fine-tuning is least squares like scratch: T = 0 on a region
            Tc = np.where(G[:, None] < 1, Tc, np.nan)
        if np.nanmin(Tc) < 0 < np.nanmax(Tc):
            ax.contour(X, G, Tc, levels=[0.0], colors="k", linewidths=2.0)
        if G.min() < 1 < G.max():
            _gamma_line(ax, label=False, horizontal=True)
        ax.set_xlim(0, 1)
        ax.set_ylim(G.min(), G.max())
        ax.set_xlabel("\u03b8 / (\u03c0/2)   (angle between source and target teachers)")
        ax.set_title(f"T of {METHOD_NAMES[method]}{label_form}\n{titles[b]}", fontsize=10)
    axes[0].set_ylabel("\u03b3 = n/d   (target samples per dimension)")
    axes[1].tick_params(labelleft=True)
    handles = [Line2D([], [], color="k", lw=2.0, label="T = 0")]
    if anomalous.any():
        A = anomalous.astype(float)
        hatch = axes[0].contourf(X, G, A, levels=[0.5, 1.5], colors="none",
                                 hatches=["///"], zorder=3)
        hatch.set_edgecolor("m")
        hatch.set_gid("anomalous")
        outline = axes[0].contour(X, G, A, levels=[0.5], colors="m", linewidths=1.6,
                                  zorder=4)
        outline.set_gid("anomalous-outline")
        handles.append(Patch(facecolor="none", edgecolor="m", hatch="///",
                             label="anomalous: T > 0 vs ridgeless, T \u2264 0 vs optimal "
                                   "ridge"))
    if G.min() < 1 < G.max():
        handles.append(Line2D([], [], color="0.35", ls=":", lw=1.0,
                              label="\u03b3 = 1 (interpolation threshold)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=9,
               frameon=False)
    cb = fig.colorbar(mesh, ax=list(axes), extend=extend, shrink=0.95, pad=0.01)
    cb.set_label("T = R_baseline \u2212 R_transfer   (> 0: transfer helps)"
                 + (f"; clipped at \u00b1{cap:g}" if extend != "neither" else ""))
    fig.suptitle(f"Phase diagram of {METHOD_NAMES[method]} against two baselines: "
                 + _params_text(**params))
    return fig
