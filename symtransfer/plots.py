"""Figures: theory curves and phase diagrams, with Monte-Carlo overlays from sweeps.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global
figure registry, no interactive backend: ``fig.savefig`` writes PNG/PDF through Agg, and
Jupyter displays the figure inline). Parameters use the theory's names (``gamma``,
``theta``, ``sigma``, ``lam``, ``depth``, ``gamma_s``, ``sigma_s``, ``form``); Monte-Carlo
overlays come from :class:`symtransfer.sweep.Sweep` objects (see
:func:`symtransfer.sweep.run_sweep`):

* :func:`phase_diagram` -- transferability T over (theta, gamma); the T = 0 contour; beside
  it the Monte-Carlo T of two sweeps (scratch and the method) on a grid;
* :func:`transfer_slices` -- T against gamma at a few angles;
* :func:`ridge_curve` -- ridge-transfer risk against the penalty lam;
* :func:`double_descent` -- scratch risk against gamma: asymptotic, exact finite-d, MC;
* :func:`finetune_forms` -- fine-tuning risk: the exact form, the paper's form, MC, and the
  endpoint of every run compared with each form's prediction on the same data;
* :func:`penalty_transfer` -- fine-tuning T against the pretraining penalty mu (rich to lazy),
  the best mu* and the transfer it buys, with Monte-Carlo points.

Monte-Carlo values are means over instances with their standard error (error bars: +- 1 sem);
a grid point that was not run, or where some instance did not converge, is NaN and is shown as
such (hatched cell, or no point), never averaged. ``import symtransfer`` does not import
matplotlib; this module imports it on first use.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from . import theory

HALF_PI = math.pi / 2
DIVERGING = "RdBu"  # red: T < 0 (transfer hurts), blue: T > 0 (transfer helps)
NAN_HATCH = dict(facecolor="0.85", edgecolor="0.55", hatch="///", linewidth=0.0)
METHOD_NAMES = {"scratch": "scratch", "linear": "linear transfer", "finetune": "fine-tuning"}


# ------------------------------------------------------------------------------ helpers

def _mpl():
    import matplotlib
    from matplotlib.figure import Figure

    return matplotlib, Figure


def _figure(figsize: tuple[float, float]):
    _, Figure = _mpl()
    return Figure(figsize=figsize, layout="constrained")


def _pi_label(theta: float) -> str:
    """theta as a readable multiple of pi (pi/8, 3pi/8, ...), else a decimal."""
    for den in (1, 2, 3, 4, 6, 8, 12, 16):
        num = theta * den / math.pi
        if abs(num - round(num)) < 1e-9 and round(num) != 0:
            num = int(round(num))
            return ("" if num == 1 else str(num)) + "\u03c0" + ("" if den == 1 else f"/{den}")
    return "0" if theta == 0 else f"{theta:.3g}"


#: how each theory parameter is written in titles and tables
PARAM_SYMBOLS = {"gamma": "\u03b3", "theta": "\u03b8", "sigma": "\u03c3", "lam": "\u03bb",
                 "depth": "L", "gamma_s": "\u03b3_s", "sigma_s": "\u03c3_s", "mu": "\u03bc"}


def _params_text(**params: Any) -> str:
    names = PARAM_SYMBOLS
    parts = []
    for key, value in params.items():
        if key == "gamma_s" and value is None:
            parts.append("population pretraining")
        elif key == "sigma_s" and params.get("gamma_s") is None:
            continue
        elif key == "theta":
            parts.append(f"\u03b8 = {_pi_label(value)}")
        else:
            parts.append(f"{names.get(key, key)} = {value:g}")
    return ", ".join(parts)


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(np.isclose(float(a), float(b), rtol=1e-9, atol=1e-12))


def _setting(sweep, name: str):
    value = sweep.settings.get(name)
    return None if isinstance(value, float) and math.isnan(value) else value


def _check_sweep(sweep, method: str | tuple[str, ...], what: str, **params: Any) -> None:
    """The sweep must simulate ``method`` with the figure's parameters (those that are not
    grid axes); raises ValueError naming the first mismatch."""
    methods = (method,) if isinstance(method, str) else method
    if not hasattr(sweep, "grid") or not hasattr(sweep, "mean"):
        raise TypeError(f"{what} must be a symtransfer.sweep.Sweep, got {type(sweep).__name__}")
    if sweep.method not in methods:
        raise ValueError(f"{what} must be a sweep of {' or '.join(map(repr, methods))}, "
                         f"got a sweep of {sweep.method!r}")
    for name, value in params.items():
        if name in sweep.grid:
            continue
        have = _setting(sweep, name)
        if not _same(have, value):
            raise ValueError(f"{what} was run at {name}={have!r}, the figure shows "
                             f"{name}={value!r}")


def _index(values: np.ndarray, value: float) -> int | None:
    hits = np.flatnonzero(np.isclose(values, value, rtol=1e-9, atol=1e-12))
    return int(hits[0]) if hits.size else None


def _along(grid: Mapping[str, np.ndarray], arrays: Sequence[np.ndarray], axis: str,
           fixed: Mapping[str, Any]):
    """1-d slices of grid-shaped ``arrays`` along ``axis``, the other axes at ``fixed``
    values (an axis of length 1 needs none). Returns (axis values, *slices) or None when a
    fixed value is not on the grid."""
    if axis not in grid:
        raise ValueError(f"the sweep has no {axis!r} axis (its axes: {list(grid)})")
    index: list[Any] = []
    for name, values in grid.items():
        if name == axis:
            index.append(slice(None))
        elif name in fixed:
            i = _index(values, fixed[name])
            if i is None:
                return None
            index.append(i)
        elif len(values) == 1:
            index.append(0)
        else:
            raise ValueError(f"the sweep's {name!r} axis has {len(values)} values; "
                             f"the figure fixes no {name}")
    return (grid[axis],) + tuple(np.asarray(a)[tuple(index)] for a in arrays)


# scratch's risk does not depend on these (in law), so a scratch sweep without such an axis
# serves every value of it
_SCRATCH_FREE = ("theta", "lam", "depth", "gamma_s", "sigma_s", "mu")


def mc_transferability(scratch, method_sweep,
                       baseline: str = "ridgeless") -> tuple[dict, np.ndarray, np.ndarray]:
    """Monte-Carlo T = R_scratch - R_method and its sem on ``method_sweep``'s grid.

    With identical grids T is :func:`symtransfer.sweep.transferability`'s. The scratch sweep
    may also lack axes scratch's risk does not depend on (theta, lam, depth, gamma_s,
    sigma_s) and hold the method's values of the others (e.g. one scratch sweep over gamma
    serves a (gamma, theta) grid): its points are then reused across those axes. When both
    sweeps share seed, d and number of instances (common random numbers), the sem is that of
    the per-instance differences (paired); otherwise the two sems add in quadrature.
    """
    from .sweep import transferability

    _check_sweep(scratch, "scratch", "the scratch sweep")
    have = _setting(scratch, "baseline") or "ridgeless"
    if have != baseline:
        raise ValueError(f"the scratch sweep was run with baseline={have!r}, the figure "
                         f"shows baseline={baseline!r}")
    for name in ("d", "sigma"):
        if name not in scratch.grid and name not in method_sweep.grid and not _same(
                _setting(scratch, name), _setting(method_sweep, name)):
            raise ValueError(f"the scratch and {method_sweep.method} sweeps differ in {name} "
                             f"({_setting(scratch, name)} vs {_setting(method_sweep, name)})")
    grid = method_sweep.grid
    # common random numbers: with the same seed, instance k of both sweeps trains on the
    # same target design and noise, so the per-instance differences are independent draws
    # of T and their spread gives its sem (adding the two sems in quadrature would ignore
    # the positive correlation)
    paired = (scratch.errors.shape[-1] == method_sweep.errors.shape[-1] and all(
        _same(_setting(scratch, k), _setting(method_sweep, k)) for k in ("seed", "d")))
    if list(scratch.grid) == list(grid) and all(
            np.array_equal(scratch.grid[k], grid[k], equal_nan=True) for k in grid):
        T, sem = transferability(scratch, method_sweep)  # paired sem when seeds match
        return dict(grid), T, sem
    extra = [k for k in scratch.grid if k not in grid]
    if extra:
        raise ValueError(f"the scratch sweep's axes {extra} are not axes of the "
                         f"{method_sweep.method} sweep")
    mean, err = scratch.mean(), scratch.sem()
    s_mean = np.full(method_sweep.shape, np.nan)
    s_sem = np.full(method_sweep.shape, np.nan)
    s_err = np.full(method_sweep.errors.shape if paired else (1,), np.nan)
    for index in np.ndindex(method_sweep.shape):
        point = {k: grid[k][i] for k, i in zip(grid, index)}
        src = []
        for name, values in scratch.grid.items():
            i = _index(values, point[name])
            if i is None:
                break
            src.append(i)
        else:
            missing = [k for k in grid if k not in scratch.grid and k not in _SCRATCH_FREE]
            if missing:
                raise ValueError(f"the scratch sweep needs the {missing} axes of the "
                                 f"{method_sweep.method} sweep")
            s_mean[index], s_sem[index] = mean[tuple(src)], err[tuple(src)]
            if paired:
                s_err[index] = scratch.errors[tuple(src)]
    T = s_mean - method_sweep.mean()
    if paired:
        sem = _paired_sem(s_err, method_sweep.errors)
    else:
        sem = np.hypot(s_sem, method_sweep.sem())
    return dict(grid), T, np.where(np.isfinite(T), sem, np.nan)


def _paired_sem(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sem of the mean of per-instance differences a - b (last axis: instances)."""
    k = a.shape[-1]
    if k < 2:
        return np.full(a.shape[:-1], np.nan)
    return np.std(a - b, axis=-1, ddof=1) / np.sqrt(k)


def _gamma_theta(grid: Mapping[str, np.ndarray], *arrays: np.ndarray):
    """(gamma values, theta values, *arrays as [gamma, theta] matrices) from grid-shaped
    arrays whose other axes have a single value."""
    names = list(grid)
    for name in ("gamma", "theta"):
        if name not in grid:
            raise ValueError(f"a phase diagram needs a (gamma, theta) grid; the sweeps have "
                             f"no {name!r} axis")
    index = []
    for name in names:
        if name in ("gamma", "theta"):
            index.append(slice(None))
        elif len(grid[name]) == 1:
            index.append(0)
        else:
            raise ValueError(f"the sweeps' {name!r} axis has several values; a phase diagram "
                             "needs a (gamma, theta) grid")
    kept = [n for n in names if n in ("gamma", "theta")]
    out = []
    for a in arrays:
        a = np.asarray(a)[tuple(index)]
        out.append(a if kept == ["gamma", "theta"] else a.T)
    return (grid["gamma"], grid["theta"], *out)


def _edges(centers: np.ndarray, split: float | None = None) -> np.ndarray:
    """Cell edges around sorted centres (midpoints; half a spacing beyond the ends). An edge
    between centres on either side of ``split`` is put at ``split`` (no cell straddles the
    interpolation threshold gamma = 1)."""
    c = np.asarray(centers, dtype=float)
    if c.size == 1:
        return np.array([c[0] - 0.05, c[0] + 0.05])
    mid = (c[1:] + c[:-1]) / 2
    if split is not None:
        mid = np.where((c[:-1] < split) & (c[1:] > split), split, mid)
    lo = c[0] - (c[1] - c[0]) / 2
    hi = c[-1] + (c[-1] - c[-2]) / 2
    return np.concatenate([[lo], mid, [hi]])


def _gamma_line(ax, *, label: bool = True, horizontal: bool = False) -> None:
    kw = dict(color="0.35", linestyle=":", linewidth=1.0, zorder=1)
    if label:
        kw["label"] = "\u03b3 = 1 (interpolation threshold)"
    (ax.axhline if horizontal else ax.axvline)(1.0, **kw)


def _errorbar(ax, x, mean, sem, **kw):
    ok = np.isfinite(mean)
    if not ok.any():
        return None
    sem = np.where(np.isfinite(sem), sem, 0.0)
    kw = dict(dict(fmt="o", markersize=5, capsize=3, elinewidth=1.2, zorder=4), **kw)
    return ax.errorbar(np.asarray(x)[ok], np.asarray(mean)[ok], yerr=sem[ok], **kw)


def _default_gamma(gamma, lo=0.02, hi=2.5, num=400):
    return np.linspace(lo, hi, num) if gamma is None else np.asarray(gamma, dtype=float)


# ------------------------------------------------------------------------ phase diagram

def phase_diagram(method: str, *, sigma: float = 0.2, lam: float = 0.0, depth: int = 2,
                  gamma_s: float | None = None, sigma_s: float = 0.0, form: str = "exact",
                  gamma: Iterable[float] | None = None, theta: Iterable[float] | None = None,
                  mc: tuple[Any, Any] | None = None, clip: float | None = None,
                  baseline: str = "ridgeless"):
    """Theory transferability ``T(theta, gamma)`` of ``method`` ('linear' or 'finetune').

    x: theta/(pi/2) in [0, 1]; y: gamma. Diverging colours centred at T = 0 (blue: transfer
    helps, red: it hurts), the T = 0 contour in black; for fine-tuning also the boundary of
    the paper's form (dashed, theta* = pi/3 with population pretraining). Where T diverges
    (linear transfer at gamma = 1 with sigma > 0) the colour scale is clipped at ``clip``
    (default: the larger of 1 and |min T|), marked by the colour bar's arrow.

    mc : (scratch_sweep, method_sweep) adds a panel with the Monte-Carlo T on the sweeps'
        (gamma, theta) grid (see :func:`mc_transferability`), the theory's T = 0 contour over
        it; hatched cells have no Monte-Carlo value (not run, or training did not converge).
    baseline : the scratch learner T is measured against, 'ridgeless' (default) or
        'optimal_ridge' (see :func:`symtransfer.transferability`).
    """
    matplotlib, _ = _mpl()
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle

    if method not in ("linear", "finetune"):
        raise ValueError(f"method must be 'linear' or 'finetune' for a phase diagram, got "
                         f"{method!r}")
    params = dict(sigma=sigma, lam=lam, depth=depth, gamma_s=gamma_s, sigma_s=sigma_s)
    G = _default_gamma(gamma, 0.02, 2.5, 300)
    TH = np.linspace(0.0, HALF_PI, 181) if theta is None else np.asarray(theta, dtype=float)
    tkw = {} if baseline == "ridgeless" else {"baseline": baseline}
    T = np.asarray(theory.transferability(method, gamma=G[:, None], theta=TH[None, :],
                                          form=form, **params, **tkw), dtype=float)
    X = TH / HALF_PI
    finite = T[np.isfinite(T)]
    lo, hi = float(finite.min()), float(finite.max())
    cap = max(1.0, -lo) if clip is None else float(clip)
    vmin, vmax = min(lo, -1e-3), max(min(hi, cap), 1e-3)
    clipped = bool(np.nanmax(T) > vmax) if np.isfinite(T).any() else False
    norm = TwoSlopeNorm(vcenter=0.0, vmin=vmin, vmax=vmax)
    shade = np.clip(np.where(np.isnan(T), 0.0, T), vmin, vmax)
    # fine-tuning above gamma = 1 is least squares like scratch: T = 0 on a whole region,
    # where a zero contour is meaningless; contour gamma < 1 only
    T_contour = np.where(np.isfinite(T), T, np.sign(T) * 1e6)
    if method == "finetune":
        T_contour = np.where(G[:, None] < 1, T_contour, np.nan)

    panels = 2 if mc is not None else 1
    fig = _figure((6.4 * panels + 1.0, 5.2 if mc is None else 5.9))
    axes = fig.subplots(1, panels, sharey=True, squeeze=False)[0]
    ax = axes[0]
    mesh = ax.pcolormesh(X, G, shade, cmap=DIVERGING, norm=norm, shading="auto",
                         rasterized=True)
    label_form = "" if method == "linear" else f" ({form} form)"

    def overlay(a, legend_loc="upper right"):
        handles = []
        if np.nanmin(T_contour) < 0 < np.nanmax(T_contour):
            a.contour(X, G, T_contour, levels=[0.0], colors="k", linewidths=2.0)
            handles.append(Line2D([], [], color="k", lw=2.0,
                                  label=f"T = 0, theory{label_form}"))
        if method == "finetune" and form == "exact" and baseline == "ridgeless":
            paper = np.asarray(theory.phase_boundary("finetune", gamma=G, form="paper",
                                                     **params), dtype=float)
            if np.isfinite(paper).any():
                a.plot(paper / HALF_PI, G, color="k", linestyle="--", linewidth=1.5)
                handles.append(Line2D([], [], color="k", ls="--", lw=1.5,
                                      label="T = 0, paper form"
                                      + (" (\u03b8* = \u03c0/3)" if gamma_s is None else "")))
        if G.min() < 1 < G.max():
            _gamma_line(a, label=False, horizontal=True)
            handles.append(Line2D([], [], color="0.35", ls=":", lw=1.0,
                                  label="\u03b3 = 1 (interpolation threshold)"))
        return handles

    handles = overlay(ax)
    if method == "finetune" and G.max() > 1:
        ax.text(0.5, (1 + G.max()) / 2, "\u03b3 \u2265 1: fine-tuning reaches least squares,\n"
                "like scratch: T = 0", ha="center", va="center", fontsize=9, color="0.25")
    if mc is None:
        ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.9)
    ax.set_xlabel("\u03b8 / (\u03c0/2)   (angle between source and target teachers)")
    ax.set_ylabel("\u03b3 = n/d   (target samples per dimension)")
    ax.set_xlim(0, 1)
    ax.set_ylim(G.min(), G.max())
    ax.set_title(f"Theory: T of {METHODS_LABEL(method, lam)}{label_form}")

    if mc is not None:
        scratch, msweep = mc
        _check_sweep(msweep, method, f"the {method} sweep", **params)
        grid, Tmc, sem = mc_transferability(scratch, msweep, baseline)
        gy, gx, Tmc, sem = _gamma_theta(grid, Tmc, sem)
        gx = gx / HALF_PI
        order_x, order_y = np.argsort(gx), np.argsort(gy)
        gx, gy = gx[order_x], gy[order_y]
        Tmc, sem = Tmc[np.ix_(order_y, order_x)], sem[np.ix_(order_y, order_x)]
        ex, ey = _edges(gx), _edges(gy, split=1.0)
        a2 = axes[1]
        a2.pcolormesh(ex, ey, np.ma.masked_invalid(np.clip(Tmc, vmin, vmax)), cmap=DIVERGING,
                      norm=norm, shading="flat", edgecolors="w", linewidth=0.4)
        missing = ~np.isfinite(Tmc)
        for (i, j) in zip(*np.nonzero(missing)):
            a2.add_patch(Rectangle((ex[j], ey[i]), ex[j + 1] - ex[j], ey[i + 1] - ey[i],
                                   zorder=2, **NAN_HATCH))
        # theory at the grid points: is the Monte-Carlo sign resolved, and does it agree?
        Tth = np.asarray(theory.transferability(method, gamma=gy[:, None], theta=(
            gx * HALF_PI)[None, :], form=form, **params, **tkw), dtype=float)
        resolved = np.isfinite(Tmc) & (np.abs(Tmc) > 2 * np.nan_to_num(sem) + 1e-3)
        # where the theory's T is exactly 0 (fine-tuning above gamma = 1) there is no sign
        # to resolve
        nonzero = np.abs(Tth) > 1e-9
        unresolved = np.isfinite(Tmc) & ~resolved & nonzero
        wrong = resolved & nonzero & (np.sign(Tmc) != np.sign(Tth))
        yy, xx = np.meshgrid(gy, gx, indexing="ij")
        a2.plot(xx[unresolved], yy[unresolved], "o", ms=3, color="0.2", zorder=5)
        a2.plot(xx[wrong], yy[wrong], "x", ms=8, mew=2, color="k", zorder=5)
        h2 = overlay(a2)
        h2 += [Patch(label="no MC value (not run / not converged)", **NAN_HATCH),
               Line2D([], [], marker="o", ls="", ms=3, color="0.2",
                      label="|T_MC| < 2 sem + 0.001 (sign not resolved)"),
               Line2D([], [], marker="x", ls="", ms=8, mew=2, color="k",
                      label="MC sign opposite to theory (resolved)")]
        fig.legend(handles=h2, loc="outside lower center", ncol=3, fontsize=8.5,
                   frameon=False)
        settings = msweep.settings
        a2.set_title(f"Monte-Carlo gradient flow: d = {settings.get('d')}, "
                     f"{settings.get('instances')} instances per point")
        a2.set_xlabel("\u03b8 / (\u03c0/2)")
        a2.set_xlim(0, 1)
        a2.set_ylim(G.min(), G.max())
        a2.tick_params(labelleft=True)
    cb = fig.colorbar(mesh, ax=list(axes), extend="max" if clipped else "neither",
                      shrink=0.95, pad=0.01)
    cb.set_label("T = R_scratch \u2212 R_transfer   (> 0: transfer helps)"
                 + (f"; clipped at {vmax:.2g}" if clipped else ""))
    fig.suptitle(f"Phase diagram of {METHOD_NAMES[method]}: " + _params_text(**params)
                 + ("" if baseline == "ridgeless" else f"; baseline: {baseline}"))
    return fig


def METHODS_LABEL(method: str, lam: float = 0.0) -> str:
    if method == "linear":
        return "ridge transfer (\u03bb = %g)" % lam if lam else "linear transfer"
    return METHOD_NAMES[method]


# ---------------------------------------------------------------------- transfer slices

def transfer_slices(method: str, *, thetas: Iterable[float] = (math.pi / 8, math.pi / 4,
                                                              3 * math.pi / 8),
                    gamma: Iterable[float] | None = None, sigma: float = 0.2,
                    lam: float = 0.0, depth: int = 2, gamma_s: float | None = None,
                    sigma_s: float = 0.0, form: str = "exact",
                    mc: tuple[Any, Any] | None = None, baseline: str = "ridgeless"):
    """Transferability T against gamma, one line per angle theta (theory; for fine-tuning the
    paper's form dashed), with Monte-Carlo means +- sem from (scratch_sweep, method_sweep) at
    the angles that are on the sweeps' grid."""
    from matplotlib.lines import Line2D

    if method not in ("linear", "finetune"):
        raise ValueError(f"method must be 'linear' or 'finetune', got {method!r}")
    params = dict(sigma=sigma, lam=lam, depth=depth, gamma_s=gamma_s, sigma_s=sigma_s)
    G = _default_gamma(gamma, 0.02, 2.5, 500)
    thetas = [float(t) for t in thetas]
    fig = _figure((7.4, 5.0))
    ax = fig.subplots()
    colors = [f"C{i}" for i in range(len(thetas))]
    shown = []
    if mc is not None:
        scratch, msweep = mc
        _check_sweep(msweep, method, f"the {method} sweep", **params)
        grid, Tmc, sem = mc_transferability(scratch, msweep, baseline)
    tkw = {} if baseline == "ridgeless" else {"baseline": baseline}
    for th, color in zip(thetas, colors):
        T = np.asarray(theory.transferability(method, gamma=G, theta=th, form=form, **params,
                                              **tkw), dtype=float)
        ax.plot(G, np.where(np.isfinite(T), T, np.nan), color=color, lw=2,
                label=f"\u03b8 = {_pi_label(th)}")
        shown.append(T[np.isfinite(T) & (np.abs(G - 1) > 0.12)])
        if method == "finetune" and form == "exact":
            P = np.asarray(theory.transferability(method, gamma=G, theta=th, form="paper",
                                                  **params, **tkw), dtype=float)
            ax.plot(G, P, color=color, lw=1.2, ls="--")
        if mc is not None:
            found = _along(grid, (Tmc, sem), "gamma", {"theta": th})
            if found is not None:
                g, t, s = found
                _errorbar(ax, g, t, s, color=color, markeredgecolor="k", markeredgewidth=0.6)
                shown.append(t[np.isfinite(t)])
    ax.axhline(0, color="k", lw=0.8)
    _gamma_line(ax, label=False)
    values = np.concatenate(shown) if shown else np.array([0.0])
    lo, hi = float(values.min()), float(values.max())
    pad = 0.08 * max(hi - lo, 0.1)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlim(G.min(), G.max())
    handles, _ = ax.get_legend_handles_labels()
    extra = [Line2D([], [], color="0.3", lw=2, label="theory" + (" (exact form)" if
                                                             method == "finetune" else ""))]
    if method == "finetune" and form == "exact":
        extra.append(Line2D([], [], color="0.3", lw=1.2, ls="--", label="theory, paper form"))
    if mc is not None:
        settings = msweep.settings
        extra.append(Line2D([], [], color="0.3", marker="o", ls="", markeredgecolor="k",
                            label=f"Monte-Carlo, mean \u00b1 sem (d = {settings.get('d')}, "
                                  f"{settings.get('instances')} runs)"))
    extra.append(Line2D([], [], color="0.35", ls=":", lw=1, label="\u03b3 = 1"))
    ax.legend(handles=handles + extra, fontsize=8, loc="best", framealpha=0.9)
    ax.set_xlabel("\u03b3 = n/d   (target samples per dimension)")
    ax.set_ylabel("T = R_scratch \u2212 R_transfer   (> 0: transfer helps)")
    ax.set_title(f"Transferability of {METHODS_LABEL(method, lam)}: " + _params_text(**params),
                 fontsize=10)
    if method == "linear" and sigma > 0:
        ax.text(0.99, 0.02, "T \u2192 +\u221e at \u03b3 = 1 (scratch's double-descent peak); "
                "axis clipped", transform=ax.transAxes, ha="right", va="bottom", fontsize=8,
                color="0.3")
    return fig


# ---------------------------------------------------------------------------- ridge

def ridge_curve(*, lam: Iterable[float] | None = None,
                thetas: Iterable[float] = (math.pi / 8, math.pi / 4, 3 * math.pi / 8),
                gamma: float = 0.5, sigma: float = 0.2, depth: int = 2,
                gamma_s: float | None = None, sigma_s: float = 0.0, mc: Any = None):
    """Ridge-transfer risk against the penalty lam, one line per theta (increasing in lam).

    mc : a 'linear' sweep over lam (and theta) at this gamma, sigma, depth and source; its
        means +- sem are drawn, and at lam = 0 (population source) the exact finite-d
        expectation of ridgeless transfer as an open diamond.
    """
    from matplotlib.lines import Line2D

    params = dict(gamma=gamma, sigma=sigma, depth=depth, gamma_s=gamma_s, sigma_s=sigma_s)
    lams = np.linspace(0.0, 2.0, 200) if lam is None else np.asarray(lam, dtype=float)
    thetas = [float(t) for t in thetas]
    fig = _figure((7.0, 5.0))
    ax = fig.subplots()
    if mc is not None:
        _check_sweep(mc, "linear", "the ridge sweep", **params)
    d = mc.settings.get("d") if mc is not None else None
    for i, th in enumerate(thetas):
        color = f"C{i}"
        R = theory.risk("linear", lam=lams, theta=th, **params)
        ax.plot(lams, R, color=color, lw=2, label=f"\u03b8 = {_pi_label(th)}")
        if mc is not None:
            found = _along(mc.grid, (mc.mean(), mc.sem()), "lam", {"theta": th})
            if found is not None:
                x, m, s = found
                _errorbar(ax, x, m, s, color=color, markeredgecolor="k", markeredgewidth=0.6)
            if gamma_s is None and float(gamma * d) > 2:
                exact = theory.risk("linear", theta=th, d=d, **params)
                ax.plot([0.0], [exact], marker="D", ms=8, mfc="none", mec=color, mew=1.5,
                        zorder=5, ls="")
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="0.3", lw=2, label="theory (asymptotic)"))
    if mc is not None:
        handles.append(Line2D([], [], color="0.3", marker="o", ls="", markeredgecolor="k",
                              label=f"Monte-Carlo, mean \u00b1 sem (d = {d}, "
                                    f"n = {int(round(gamma * d))}, "
                                    f"{mc.settings.get('instances')} runs)"))
        if gamma_s is None:
            handles.append(Line2D([], [], color="0.3", marker="D", mfc="none", ls="",
                                  label="\u03bb = 0: exact finite-d expectation"))
    ax.legend(handles=handles, fontsize=8, loc="best", framealpha=0.9)
    ax.set_xlabel("\u03bb   (ridge penalty of the readout refit)")
    ax.set_ylabel("R_ridge = |\u03b2\u0302 \u2212 \u03b2_t|\u00b2   (generalization error)")
    span = lams.max() - lams.min()
    ax.set_xlim(lams.min() - 0.03 * span, lams.max() + 0.02 * span)
    ax.set_title("Ridge transfer: risk increases with \u03bb\n" + _params_text(**params),
                 fontsize=10)
    return fig


# ---------------------------------------------------------------------- double descent

def double_descent(*, gamma: Iterable[float] | None = None, sigma: float = 0.2,
                   d: int | None = None, mc: Any = None):
    """Scratch risk against gamma: the asymptotic curve (diverging at gamma = 1 with noise),
    the exact finite-d expectation on whole sample numbers n (d from ``mc`` when not given),
    and Monte-Carlo means +- sem from a scratch sweep over gamma. Log y-axis when sigma > 0.
    """

    G = _default_gamma(gamma, 0.05, 3.0, 600)
    if mc is not None:
        _check_sweep(mc, "scratch", "the scratch sweep", sigma=sigma)
        if d is None:
            d = int(mc.settings.get("d"))
        elif "d" not in mc.grid and int(mc.settings.get("d")) != int(d):
            raise ValueError(f"the scratch sweep was run at d={mc.settings.get('d')}, "
                             f"the figure shows d={d}")
    fig = _figure((7.0, 5.0))
    ax = fig.subplots()
    label = "asymptotic (d \u2192 \u221e)"
    for part in (G[G < 1], G[G > 1]):
        if part.size:
            ax.plot(part, theory.risk("scratch", gamma=part, sigma=sigma), color="C0", lw=2,
                    label=label)
            label = None
    if d is not None:
        n = np.arange(1, int(math.floor(G.max() * d)) + 1)
        n = n[(n >= G.min() * d) & (np.abs(n - d) > 1)]
        exact = theory.risk("scratch", gamma=n / d, sigma=sigma, d=d)
        label = f"exact expectation at d = {d} (n = \u03b3d whole)"
        for part in (n < d, n > d):
            if part.any():
                ax.plot(n[part] / d, exact[part], color="C1", lw=1.3, ls="--", label=label)
                label = None
    if mc is not None:
        found = _along(mc.grid, (mc.mean(), mc.sem()), "gamma", {})
        g, m, s = found
        _errorbar(ax, g, m, s, color="C3", markeredgecolor="k", markeredgewidth=0.6,
                  label=f"Monte-Carlo, mean \u00b1 sem ({mc.settings.get('instances')} runs)")
        if np.isnan(m).any():
            ax.plot([], [], ls="", label=f"({int(np.isnan(m).sum())} MC point(s) not "
                                         "run / not converged)")
    _gamma_line(ax)
    if sigma > 0:
        ax.set_yscale("log")
        top = 10.0 if mc is None else max(10.0, 3 * float(np.nanmax(mc.mean())))
        low = min(float(np.min(theory.risk("scratch", gamma=G[G > 1], sigma=sigma)))
                  if (G > 1).any() else 1.0, 1.0 - float(G.max()) if G.max() < 1 else 1.0)
        ax.set_ylim(max(low * 0.5, 1e-4), top)
    else:
        ax.set_ylim(0, 1.1)
    ax.set_xlim(G.min(), G.max())
    ax.set_xlabel("\u03b3 = n/d   (target samples per dimension)")
    ax.set_ylabel("R_scratch = |\u03b2\u0302 \u2212 \u03b2_t|\u00b2" + ("   (log scale)"
                                                                     if sigma > 0 else ""))
    ax.set_title("Scratch training (min-norm / least squares): double descent, "
                 f"\u03c3 = {sigma:g}", fontsize=10)
    ax.legend(fontsize=8, loc="upper right", framealpha=0.9)
    return fig


# ------------------------------------------------------------------- fine-tuning forms

def form_runs(results: Sequence[Any]) -> dict[str, np.ndarray]:
    """Per-instance comparison of fine-tuning runs with each form's endpoint, on the same data.

    results : SimulationResult objects of 'finetune' (one per gamma, same instances).
    Returns arrays (gammas x instances): ``errors`` (the runs' risks), ``exact_errors`` and
    ``paper_errors`` (risks of each form's predicted endpoint,
    :func:`symtransfer.mc.mechanism.finetune_endpoint`), ``dist_exact`` and ``dist_paper``
    (|beta_hat - predicted endpoint|), and ``gamma``. Plain arrays: they can be saved and
    passed back to :func:`finetune_forms` as ``runs``.
    """
    from .mc.data import sample_problem, teachers
    from .mc.mechanism import finetune_endpoint
    from .mc.pipeline import instance_streams, target_data

    out: dict[str, list] = {k: [] for k in ("gamma", "errors", "exact_errors", "paper_errors",
                                            "dist_exact", "dist_paper")}
    for r in results:
        if r.method != "finetune":
            raise ValueError(f"form_runs needs fine-tuning runs, got {r.method!r}")
        p = r.params
        theta = p["theta"] or 0.0
        X, y = target_data(instance_streams(p["seed"], r.instances), d=p["d"],
                           gamma=p["gamma"], theta=theta, sigma=p["sigma"])
        problem = sample_problem(X, y)
        _, beta_t = teachers(p["d"], theta)
        out["gamma"].append(p["gamma"])
        out["errors"].append(np.where(r.converged, r.errors, np.nan))
        for form in ("exact", "paper"):
            beta = finetune_endpoint(r.beta_source, problem, p["depth"], form)
            out[f"{form}_errors"].append(((beta - beta_t) ** 2).sum(axis=1))
            out[f"dist_{form}"].append(np.linalg.norm(r.beta_hat - beta, axis=1))
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def finetune_forms(*, gamma: Iterable[float] | None = None, theta: float = 3 * math.pi / 8,
                   sigma: float = 0.2, depth: int = 2, gamma_s: float | None = None,
                   sigma_s: float = 0.0, mc: Any = None,
                   runs: Sequence[Any] | Mapping[str, np.ndarray] | None = None):
    """Fine-tuning risk against gamma: the exact (conservation-law) form, the paper's form
    (null-space part of the pretrained vector kept unscaled), and Monte-Carlo.

    mc : a 'finetune' sweep over gamma (means +- sem).
    runs : fine-tuning SimulationResults (or :func:`form_runs` of them). Adds two panels:
        the paired gap R_run - R(paper endpoint) on the same data against the theory's
        R_exact - R_paper, and each run's distance to the endpoint each form predicts.
        Without ``mc`` the runs also give the left panel's Monte-Carlo points.
    """

    params = dict(theta=theta, sigma=sigma, depth=depth, gamma_s=gamma_s, sigma_s=sigma_s)
    G = _default_gamma(gamma, 0.02, 2.0, 400)
    if runs is not None and not isinstance(runs, Mapping):
        runs = form_runs(runs)
    panels = 1 if runs is None else 3
    fig = _figure((5.3 * panels, 5.0) if panels == 3 else (7.0, 5.0))
    axes = fig.subplots(1, panels, squeeze=False)[0]
    ax = axes[0]
    exact = theory.risk("finetune", gamma=G, form="exact", **params)
    paper = theory.risk("finetune", gamma=G, form="paper", **params)
    below, above = G < 1, G > 1
    for part in (below, above):
        ax.plot(G[part], exact[part], color="C0", lw=2,
                label="exact form (conservation laws)" if part is below else None)
        ax.plot(G[part], paper[part], color="C1", lw=1.6, ls="--",
                label="paper form" if part is below else None)
    scratch = theory.risk("scratch", gamma=G, sigma=sigma)
    ax.plot(G[below], scratch[below], color="0.6", lw=1, ls="-.", label="scratch (reference)")
    ax.plot(G[above], scratch[above], color="0.6", lw=1, ls="-.")
    d = None
    if mc is not None:
        _check_sweep(mc, "finetune", "the fine-tuning sweep", **params)
        g, m, s = _along(mc.grid, (mc.mean(), mc.sem()), "gamma", {"theta": theta})
        d = mc.settings.get("d")
        _errorbar(ax, g, m, s, color="C3", markeredgecolor="k", markeredgewidth=0.6,
                  label=f"Monte-Carlo, mean \u00b1 sem (d = {d}, "
                        f"{mc.settings.get('instances')} runs)")
    elif runs is not None:
        e = runs["errors"]
        k = np.sum(np.isfinite(e), axis=1)
        _errorbar(ax, runs["gamma"], np.nanmean(e, axis=1),
                  np.nanstd(e, axis=1, ddof=1) / np.sqrt(k), color="C3",
                  markeredgecolor="k", markeredgewidth=0.6,
                  label=f"Monte-Carlo, mean \u00b1 sem ({e.shape[1]} runs)")
    _gamma_line(ax)
    vals = np.concatenate([exact[np.abs(G - 1) > 0.15], paper[np.abs(G - 1) > 0.15]])
    ax.set_ylim(0, min(float(np.nanmax(vals)) * 1.15, 3.0))
    ax.set_xlim(G.min(), G.max())
    ax.set_xlabel("\u03b3 = n/d   (target samples per dimension)")
    ax.set_ylabel("R_finetune = |\u03b2\u0302 \u2212 \u03b2_t|\u00b2")
    ax.set_title("Fine-tuning risk: exact vs paper form vs Monte-Carlo", fontsize=10)
    ax.legend(fontsize=8, loc="upper right", framealpha=0.9)
    if runs is not None:
        g = runs["gamma"]
        a2, a3 = axes[1], axes[2]
        gap = exact - paper
        a2.plot(G[below], gap[below], color="C0", lw=2,
                label="theory: R_exact \u2212 R_paper (asymptotic)")
        a2.plot(G[above], gap[above], color="C0", lw=2)
        a2.axhline(0, color="C1", lw=1.6, ls="--", label="paper form (gap 0)")
        diff = runs["errors"] - runs["paper_errors"]
        k = np.sum(np.isfinite(diff), axis=1)
        _errorbar(a2, g, np.nanmean(diff, axis=1), np.nanstd(diff, axis=1, ddof=1) / np.sqrt(k),
                  color="C3", markeredgecolor="k", markeredgewidth=0.6,
                  label="runs: R_run \u2212 R(paper endpoint), mean \u00b1 sem")
        pred = runs["exact_errors"] - runs["paper_errors"]
        a2.plot(g, np.mean(pred, axis=1), "s", mfc="none", mec="C0", ms=8, mew=1.5,
                label="exact-form endpoint on the same data")
        _gamma_line(a2, label=False)
        a2.set_xlim(G.min(), G.max())
        a2.set_xlabel("\u03b3 = n/d")
        a2.set_ylabel("risk difference (paired, same data and pretraining)")
        a2.set_title("Paired: how far above the paper's form the runs end", fontsize=10)
        a2.legend(fontsize=7.5, loc="upper right", framealpha=0.9)
        rng = np.random.default_rng(0)
        width = 0.015 * (G.max() - G.min())
        for key, color, marker, label in (("dist_exact", "C0", "o", "to the exact-form endpoint"),
                                          ("dist_paper", "C1", "x", "to the paper-form endpoint")):
            dist = runs[key]
            jitter = rng.uniform(-width, width, dist.shape)
            a3.plot((g[:, None] + jitter).ravel(), np.maximum(dist, 1e-12).ravel(), marker,
                    color=color, ms=4, ls="", alpha=0.8, label=label)
        from .mc.gradient_flow import TOL

        a3.axhline(TOL, color="0.4", ls=":", lw=1.4,
                   label=f"stopping rule: runs stop within {TOL:g} of the minimizer\n"
                         "(distances near it measure the tolerance, not the theory)")
        _gamma_line(a3, label=False)
        a3.set_yscale("log")
        a3.set_xlim(G.min(), G.max())
        a3.set_xlabel("\u03b3 = n/d")
        a3.set_ylabel("|\u03b2\u0302_run \u2212 \u03b2\u0302_predicted|   (per run, log scale)")
        a3.set_title("Where each run ends (\u03b3 > 1: both forms are least squares)",
                     fontsize=10)
        a3.legend(fontsize=8, loc="upper right", framealpha=0.9)
    for a in axes:  # three panels side by side: keep the text readable at full width
        a.tick_params(labelsize=10)
        a.xaxis.label.set_size(11)
        a.yaxis.label.set_size(11)
        a.title.set_size(11.5)
        legend = a.get_legend()
        if legend is not None:
            for text in legend.get_texts():
                text.set_fontsize(9.5)
    fig.suptitle("Fine-tuning: " + _params_text(**params), fontsize=13)
    return fig


# ------------------------------------------------------- dataset distances vs transfer

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

    from . import distances as D

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


# ------------------------------------------------------------ phase diagram, 2 baselines

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

    if method not in ("linear", "finetune"):
        raise ValueError(f"method must be 'linear' or 'finetune', got {method!r}")
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
    label_form = "" if method == "linear" else f" ({form} form)"
    mesh = None
    for ax, (b, T) in zip(axes, maps.items()):
        mesh = ax.pcolormesh(X, G, np.clip(np.nan_to_num(T, nan=0.0), vmin, vmax),
                             cmap=DIVERGING, norm=norm, shading="auto", rasterized=True)
        Tc = np.where(np.isfinite(T), T, np.sign(T) * 1e6)
        if method == "finetune" and b == "ridgeless":
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


# ------------------------------------------------------------------ penalized pretraining

def penalty_transfer(*, gamma: float = 0.5, sigma: float = 0.2,
                     thetas: Iterable[float] = (math.pi / 8, math.pi / 4, 3 * math.pi / 8,
                                                7 * math.pi / 16),
                     mu: Iterable[float] | None = None, mc: Any = None):
    """Fine-tuning after pretraining with the penalty ``mu |w - w_0|^2`` (depth 2, population
    source, vanishing initialization, so the penalty is weight decay).

    Left: the fine-tuning *risk* against mu, one colour per theta: exact form solid, paper's
    form dashed, the best penalty mu* (exact form) starred, the scratch risk (grey line; T > 0
    below it), and Monte-Carlo means +- sem of the fine-tuning runs from ``mc = (scratch,
    finetune)`` (the fine-tuning sweep over mu and theta at this gamma; the scratch sweep over
    gamma gives the grey band, mean +- sem of the scratch runs at this gamma). Risks, not
    differences, are plotted so that the scratch runs' own noise (shared by every point of a
    T curve) does not move the fine-tuning points. mu >= 1 learns nothing: fine-tuning is
    scratch training. Right: T at mu = 0 and at mu* against theta for a few gamma: the best
    penalty turns every negative T into (1-gamma) cos^2 >= 0.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    mus = np.linspace(0.0, 1.8, 721) if mu is None else np.asarray(mu, dtype=float)
    thetas = [float(t) for t in thetas]
    fig = _figure((13.0, 5.4))
    left, right = fig.subplots(1, 2)
    base = dict(gamma=gamma, sigma=sigma)
    ft = None
    if mc is not None:
        scratch, ft = mc
        _check_sweep(ft, "finetune", "the penalty sweep", gamma=gamma, sigma=sigma)
        if "gamma" in ft.grid and _index(ft.grid["gamma"], gamma) is None:
            raise ValueError(f"the penalty sweep has no gamma={gamma!r} (its gamma: "
                             f"{ft.grid['gamma'].tolist()})")
        if "mu" not in ft.grid:
            raise ValueError("the penalty sweep must have a 'mu' axis")
        try:  # the scratch band needs a scratch sweep with gamma as its only long axis
            found = _along(scratch.grid, (scratch.mean(), scratch.sem()), "gamma", {})
        except ValueError:
            found = None
        if found is not None:
            gs, ms, es = found
            k = _index(np.asarray(gs), gamma)
            if k is not None:
                left.axhspan(ms[k] - es[k], ms[k] + es[k], color="0.7", alpha=0.5, lw=0,
                             zorder=0)
    r_scratch = float(theory.risk("scratch", **base))
    left.axhline(r_scratch, color="0.35", lw=1.2, zorder=1)
    for i, th in enumerate(thetas):
        color = f"C{i}"
        for form, ls in (("exact", "-"), ("paper", "--")):
            R = theory.risk("finetune", theta=th, mu=mus, form=form, **base)
            left.plot(mus, R, color=color, ls=ls, lw=2 if form == "exact" else 1.3,
                      label=f"\u03b8 = {_pi_label(th)}" if form == "exact" else None)
        m_star = theory.optimal_penalty(theta=th, **base)
        left.plot([m_star], [theory.risk("finetune", theta=th, mu=m_star, **base)],
                  marker="*", ms=15, color=color, mec="k", zorder=6, ls="")
        if ft is not None:
            found = _along(ft.grid, (ft.mean(), ft.sem()), "mu", {"theta": th, "gamma": gamma})
            if found is not None:
                x, m, e = found
                _errorbar(left, x, m, e, color=color, markeredgecolor="k",
                          markeredgewidth=0.6)
    left.axvline(1.0, color="0.5", ls=":", lw=1.0)
    left.set_xlabel("\u03bc   (pretraining penalty \u03bc|w \u2212 w\u2080|\u00b2: rich "
                    "\u2192 lazy)")
    left.set_ylabel("R_finetune = |\u03b2\u0302 \u2212 \u03b2_t|\u00b2   (below the grey "
                    "line: T > 0)")
    handles, _ = left.get_legend_handles_labels()
    handles += [Line2D([], [], color="0.3", lw=2, label="exact form"),
                Line2D([], [], color="0.3", lw=1.3, ls="--", label="paper's form (c = 1)"),
                Line2D([], [], color="0.3", marker="*", ms=12, mec="k", ls="",
                       label="best \u03bc* (exact form)"),
                Line2D([], [], color="0.35", lw=1.2, label="scratch risk (theory)")]
    if ft is not None:
        handles.append(Patch(color="0.7", alpha=0.5, label="scratch runs, mean \u00b1 sem"))
        handles.append(Line2D([], [], color="0.3", marker="o", ls="", markeredgecolor="k",
                              label=f"fine-tuning runs \u00b1 sem (d = "
                                    f"{_setting(ft, 'd')}, {ft.errors.shape[-1]} runs)"))
    left.legend(handles=handles, fontsize=8, loc="upper left", framealpha=0.9, ncol=2)
    left.set_title("Fine-tuning risk after penalized pretraining\n" + _params_text(**base)
                   + ", L = 2; \u03bc \u2265 1: nothing learned (scratch)", fontsize=10)
    TH = np.linspace(0.0, math.pi, 361)
    for i, g in enumerate(sorted({0.2, 0.5, 0.8} | {gamma})):
        color = f"C{i + 5}"
        plain = theory.transferability("finetune", gamma=g, theta=TH, sigma=sigma)
        best = theory.transferability("finetune", gamma=g, theta=TH, sigma=sigma,
                                      mu=theory.optimal_penalty(gamma=g, theta=TH,
                                                                sigma=sigma))
        right.plot(TH / HALF_PI, plain, color=color, ls="--", lw=1.3)
        right.plot(TH / HALF_PI, best, color=color, lw=2, label=f"\u03b3 = {g:g}")
    right.axhline(0.0, color="0.3", lw=0.8)
    right.set_xlabel("\u03b8 / (\u03c0/2)   (> 1: negative overlap cos \u03b8 < 0)")
    right.set_ylabel("T")
    handles, _ = right.get_legend_handles_labels()
    handles += [Line2D([], [], color="0.3", lw=2, label="best penalty \u03bc*: "
                       "(1\u2212\u03b3) cos\u00b2\u03b8 (0 beyond \u03c0/2)"),
                Line2D([], [], color="0.3", lw=1.3, ls="--", label="no penalty (\u03bc = 0)")]
    right.legend(handles=handles, fontsize=8, loc="lower left", framealpha=0.9)
    right.set_title("The best penalty removes negative transfer (exact form, "
                    f"\u03c3 = {sigma:g})", fontsize=10)
    return fig
