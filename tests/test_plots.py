"""Figures: each plotting function returns a Figure with the artists its caption promises."""
from __future__ import annotations

import copy
import io
import math
import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.container import ErrorbarContainer  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import symtransfer as st  # noqa: E402
from symtransfer import plots  # noqa: E402
from symtransfer.sweep import run_sweep, transferability  # noqa: E402

PI = math.pi
THETAS = [PI / 8, PI / 4, 3 * PI / 8]
GAMMAS = [0.25, 0.5, 1.5]
TINY = dict(d=40, instances=3, seed=0, sigma=0.2, workers=0, progress=False)


@pytest.fixture(scope="module")
def sweeps():
    """Tiny sweeps (d = 40, 3 instances): scratch over gamma; linear and fine-tuning over
    (gamma, theta); ridge over (lam, theta)."""
    return {
        "scratch": run_sweep("scratch", {"gamma": GAMMAS}, **TINY),
        "scratch_grid": run_sweep("scratch", {"gamma": GAMMAS, "theta": THETAS}, **TINY),
        "linear": run_sweep("linear", {"gamma": GAMMAS, "theta": THETAS}, **TINY),
        "finetune": run_sweep("finetune", {"gamma": GAMMAS, "theta": THETAS}, **TINY),
        "ridge": run_sweep("linear", {"lam": [0.0, 0.5, 1.0], "theta": THETAS},
                           **dict(TINY, gamma=0.5)),
    }


def data_axes(fig):
    """The figure's axes other than colour bars."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def errorbars(ax):
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def contours(ax):
    return [c for c in ax.collections if isinstance(c, ContourSet)]


def labelled(ax):
    return bool(ax.get_xlabel()) and bool(ax.get_ylabel()) and bool(ax.get_title())


def renders(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    return buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def test_import_symtransfer_does_not_import_matplotlib():
    code = ("import sys, symtransfer, symtransfer.report; "
            "print(any(m.startswith('matplotlib') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("method", ["linear", "finetune"])
def test_phase_diagram_theory_only(method):
    fig = plots.phase_diagram(method, sigma=0.2, gamma=np.linspace(0.05, 2.0, 60),
                              theta=np.linspace(0, PI / 2, 40))
    assert isinstance(fig, Figure)
    (ax,) = data_axes(fig)
    assert labelled(ax)
    assert len(contours(ax)) == 1  # the T = 0 line
    mesh = ax.collections[0]
    norm = mesh.norm
    assert isinstance(norm, matplotlib.colors.TwoSlopeNorm) and norm.vcenter == 0
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    if method == "finetune":  # the paper's boundary theta* = pi/3: x = 2/3 below gamma = 1
        (paper,) = dashed
        x, y = paper.get_data()
        assert np.allclose(np.asarray(x)[np.asarray(y) < 1], 2 / 3)
    else:
        assert not dashed
    assert ax.get_legend() is not None
    assert fig.axes[-1].get_label() == "<colorbar>"
    assert renders(fig)


def test_phase_diagram_clips_the_divergence_at_gamma_one():
    # linear transfer with noise: T = +inf at gamma = 1 exactly
    fig = plots.phase_diagram("linear", sigma=0.2, gamma=np.linspace(0.5, 1.5, 21),
                              theta=np.linspace(0, PI / 2, 11))
    ax = data_axes(fig)[0]
    norm = ax.collections[0].norm
    assert np.isfinite(norm.vmax) and norm.vmax <= 1.0 + 1e-12
    assert "clipped" in fig.axes[-1].get_ylabel()


@pytest.mark.parametrize("method", ["linear", "finetune"])
def test_phase_diagram_with_monte_carlo_panel(sweeps, method):
    fig = plots.phase_diagram(method, sigma=0.2, mc=(sweeps["scratch"], sweeps[method]))
    theory_ax, mc_ax = data_axes(fig)
    assert labelled(mc_ax) or mc_ax.get_title()
    assert "Monte-Carlo" in mc_ax.get_title() and "d = 40" in mc_ax.get_title()
    assert len(contours(mc_ax)) == 1  # theory's T = 0 over the MC panel
    assert fig.legends  # the figure legend explains the markers and hatching
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("no MC value" in t for t in texts)


def test_phase_diagram_hatches_missing_points(sweeps):
    partial = copy.deepcopy(sweeps["linear"])
    partial.done[0, 1] = False  # a point not run
    fig = plots.phase_diagram("linear", sigma=0.2, mc=(sweeps["scratch"], partial))
    mc_ax = data_axes(fig)[1]
    hatched = [p for p in mc_ax.patches if p.get_hatch()]
    assert len(hatched) == 1


def test_mc_transferability_reuses_scratch_across_theta(sweeps):
    """A scratch sweep over gamma alone serves the (gamma, theta) grid; with identical grids
    the value is sweep.transferability's; sems are paired (common random numbers)."""
    grid, T, sem = plots.mc_transferability(sweeps["scratch"], sweeps["finetune"])
    assert T.shape == sem.shape == (3, 3)
    expected = sweeps["scratch"].mean()[:, None] - sweeps["finetune"].mean()
    np.testing.assert_allclose(T, expected)
    diff = sweeps["scratch"].errors[:, None, :] - sweeps["finetune"].errors
    np.testing.assert_allclose(sem, diff.std(axis=-1, ddof=1) / np.sqrt(3))
    _, T2, sem2 = plots.mc_transferability(sweeps["scratch_grid"], sweeps["finetune"])
    T_ref, _ = transferability(sweeps["scratch_grid"], sweeps["finetune"])
    np.testing.assert_allclose(T2, T_ref)
    # above gamma = 1 both reach least squares on the same data: T and its paired sem ~ 0
    assert np.abs(T2[2]).max() < 1e-4 and sem2[2].max() < 1e-4


def test_mismatched_sweep_is_an_error(sweeps):
    with pytest.raises(ValueError, match="sigma"):
        plots.phase_diagram("linear", sigma=0.5, mc=(sweeps["scratch"], sweeps["linear"]))
    with pytest.raises(ValueError, match="finetune"):
        plots.phase_diagram("finetune", mc=(sweeps["scratch"], sweeps["linear"]))
    with pytest.raises(ValueError, match="scratch"):
        plots.phase_diagram("linear", mc=(sweeps["linear"], sweeps["linear"]))
    with pytest.raises(ValueError, match="method"):
        plots.phase_diagram("scratch")


@pytest.mark.parametrize("method", ["linear", "finetune"])
def test_transfer_slices(sweeps, method):
    fig = plots.transfer_slices(method, thetas=THETAS, sigma=0.2,
                                mc=(sweeps["scratch"], sweeps[method]))
    (ax,) = data_axes(fig)
    assert labelled(ax)
    bars = errorbars(ax)
    assert len(bars) == 3  # one per angle on the grid
    x, y = bars[0].lines[0].get_data()
    np.testing.assert_allclose(x, GAMMAS)
    grid, T, _ = plots.mc_transferability(sweeps["scratch"], sweeps[method])
    np.testing.assert_allclose(y, T[:, 0])
    solid = [line for line in ax.get_lines() if line.get_linestyle() == "-"
             and len(line.get_xdata()) > 100]
    assert len(solid) == 3
    if method == "finetune":  # paper form dashed
        assert len([line for line in ax.get_lines() if line.get_linestyle() == "--"]) == 3
    assert ax.get_legend() is not None
    assert not errorbars(data_axes(plots.transfer_slices(method))[0])  # no sweeps, no points


def test_ridge_curve(sweeps):
    fig = plots.ridge_curve(lam=np.linspace(0, 1, 50), thetas=THETAS, gamma=0.5, sigma=0.2,
                            mc=sweeps["ridge"])
    (ax,) = data_axes(fig)
    assert labelled(ax)
    assert len(errorbars(ax)) == 3
    curves = [line for line in ax.get_lines() if len(line.get_xdata()) == 50]
    assert len(curves) == 3
    for line in curves:  # ridge transfer risk increases with lam
        assert np.all(np.diff(line.get_ydata()) >= -1e-12)
    with pytest.raises(ValueError, match="gamma"):
        plots.ridge_curve(gamma=0.25, mc=sweeps["ridge"])


def test_double_descent(sweeps):
    fig = plots.double_descent(gamma=np.linspace(0.05, 2.0, 200), sigma=0.2,
                               mc=sweeps["scratch"])
    (ax,) = data_axes(fig)
    assert labelled(ax)
    assert ax.get_yscale() == "log"
    (bars,) = errorbars(ax)
    np.testing.assert_allclose(bars.lines[0].get_xdata(), GAMMAS)
    labels = [line.get_label() for line in ax.get_lines()]
    assert any("exact expectation at d = 40" in label for label in labels)
    # the exact finite-d curve lives on whole sample numbers n = gamma d
    exact = [line for line in ax.get_lines() if line.get_label().startswith("exact")][0]
    n = np.asarray(exact.get_xdata()) * 40
    np.testing.assert_allclose(n, np.round(n), atol=1e-9)
    assert renders(fig)


def test_finetune_forms_with_runs(sweeps):
    runs = [st.simulate("finetune", gamma=g, theta=3 * PI / 8, sigma=0.2, d=40, instances=3,
                        seed=0, progress=False) for g in (0.25, 1.5)]
    fig = plots.finetune_forms(theta=3 * PI / 8, sigma=0.2, mc=sweeps["finetune"], runs=runs)
    axes = data_axes(fig)
    assert len(axes) == 3
    assert all(labelled(ax) for ax in axes)
    assert errorbars(axes[0]) and errorbars(axes[1])
    assert axes[2].get_yscale() == "log"
    comparison = plots.form_runs(runs)
    # each run ends far closer to the exact form's endpoint than to the paper's (gamma < 1)
    assert comparison["dist_exact"][0].max() < comparison["dist_paper"][0].min()
    labels = [line.get_label() for line in axes[0].get_lines()]
    assert any("paper form" in label for label in labels)
    assert any("exact form" in label for label in labels)
    assert renders(fig)
    single = plots.finetune_forms(theta=3 * PI / 8, sigma=0.2)
    assert len(data_axes(single)) == 1


# ------------------------------------------------- distances vs transfer, two baselines

def test_distance_transfer_table_overlap_beats_every_distance():
    table = plots.distance_transfer_table(n_pairs=120, seed=1)
    T = table["T"]
    # general target norms: linear risk k^2 sin^2 theta, scratch k^2 (1 - gamma) + noise
    k, s2 = table["norm_t"], np.sin(table["theta"]) ** 2
    np.testing.assert_allclose(T, k ** 2 * 0.5 + 0.2 ** 2 - k ** 2 * s2, rtol=1e-12,
                               atol=1e-12)
    # Thm 2.2 family: overlap 0, linear transfer exact, T maximal for its norm
    fam = table["family"]
    assert fam.sum() == 6 and np.all(table["R_transfer"][fam] == 0)
    assert table["kl"][fam].max() > 50  # distances grow without bound along it
    rho = table["spearman"]
    assert set(rho) == {"kl", "w2", "hellinger", "mmd", "overlap"}
    for metric in ("kl", "w2", "hellinger", "mmd"):
        assert abs(rho["overlap"]) > abs(rho[metric]) + 0.3, (metric, rho)
    assert rho["overlap"] < -0.7  # larger overlap, less transfer


def test_distance_vs_transfer_panels():
    table = plots.distance_transfer_table(n_pairs=60, seed=0)
    fig = plots.distance_vs_transfer(table=table)
    assert isinstance(fig, Figure)
    axes = [ax for ax in data_axes(fig) if ax.get_visible()]
    assert len(axes) == 5  # four distances + the overlap
    for ax, q in zip(axes, ("kl", "w2", "hellinger", "mmd", "overlap")):
        assert ax.get_xlabel() and "Spearman" in ax.get_title()
        assert f"{table['spearman'][q]:+.2f}" in ax.get_title()
    with pytest.raises(ValueError, match="linear"):
        plots.distance_transfer_table(method="finetune")


@pytest.mark.parametrize("method", ["finetune", "linear"])
def test_phase_diagram_baselines(method):
    kw = dict(gamma=np.linspace(0.05, 2.0, 60), theta=np.linspace(0, PI / 2, 40))
    fig = plots.phase_diagram_baselines(method, sigma=0.3, **kw)
    assert isinstance(fig, Figure)
    left, right = data_axes(fig)
    assert labelled(left) and right.get_title()
    assert left.collections[0].norm is right.collections[0].norm  # one colour scale
    assert isinstance(left.collections[0].norm, matplotlib.colors.TwoSlopeNorm)
    gids = [c.get_gid() for c in contours(left)]
    assert "anomalous" in gids and "anomalous-outline" in gids
    assert not any(c.get_gid() for c in contours(right))
    assert renders(fig)
    # no noise: no double-descent peak, nothing anomalous
    quiet = plots.phase_diagram_baselines(method, sigma=0.0, **kw)
    assert not any(c.get_gid() for c in contours(data_axes(quiet)[0]))


def test_penalty_transfer_theory_and_monte_carlo(sweeps):
    """Left panel: fine-tuning risks. Stars at the best penalty of each theta (on the exact
    risk curve, where R_scratch - R = T* = (1-gamma) cos^2), MC error bars of the fine-tuning
    runs themselves (not differences with the shared scratch runs), the scratch risk line; the
    right panel's best-penalty curves are never negative."""
    thetas = (PI / 4, 7 * PI / 16)
    ft = run_sweep("finetune", {"gamma": [0.5], "mu": [0.0, 0.6, 1.2], "theta": thetas}, **TINY)
    fig = plots.penalty_transfer(gamma=0.5, sigma=0.2, thetas=thetas, mc=(sweeps["scratch"], ft))
    left, right = data_axes(fig)
    stars = [l for l in left.get_lines() if l.get_marker() == "*"]
    assert len(stars) == len(thetas)
    r_scratch = st.risk("scratch", gamma=0.5, sigma=0.2)
    for star, th in zip(stars, thetas):
        (x,), (y,) = star.get_data()
        assert x == pytest.approx(st.optimal_penalty(gamma=0.5, theta=th, sigma=0.2))
        assert r_scratch - y == pytest.approx(0.5 * math.cos(th) ** 2)
    bars = errorbars(left)
    assert len(bars) == len(thetas)
    xs, ys = bars[0].lines[0].get_data()
    np.testing.assert_allclose(ys, ft.mean()[0, :, 0])
    assert any(np.allclose(l.get_ydata(), r_scratch) for l in left.get_lines())
    solid = [l for l in right.get_lines() if l.get_linestyle() == "-" and len(l.get_xdata()) > 10]
    assert solid and all(np.min(l.get_ydata()) >= -1e-12 for l in solid)
    with pytest.raises(ValueError, match="gamma"):
        plots.penalty_transfer(gamma=0.25, sigma=0.2, thetas=thetas, mc=(sweeps["scratch"], ft))


def test_spread_curves_start_at_the_isotropic_values_and_are_rendered():
    import math

    import symtransfer as st

    fig, rows = plots.spread_curves(spreads=[0.0, 0.5, 0.9])
    kw = dict(gamma=0.5, sigma=0.2)
    assert rows["scratch R"][0] == pytest.approx(st.risk("scratch", **kw), rel=1e-12)
    assert rows["fine-tuning T"][0] == pytest.approx(
        st.transferability("finetune", theta=math.pi / 4, **kw), rel=1e-9)
    assert rows["linear T"][0] == pytest.approx(
        st.transferability("linear", theta=math.pi / 4, **kw), rel=1e-9)
    assert rows["scratch R"][2] < rows["scratch R"][0]  # the spread lowers scratch's risk
    assert len(fig.axes[0].get_lines()) == 4  # three curves and the zero line
