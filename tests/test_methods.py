"""A transfer method is declared once (symtransfer.methods) and every consumer finds it there.

The proof: a toy method, "source_only" (predict with the pretrained vector itself, no target
data; population pretraining gives |beta_s - beta_t|^2 = 2 - 2 cos theta exactly), registered
here and nowhere else, is available to the theory (float64 and mpmath), the symbolic API, the
simulator (whose Monte-Carlo agrees with its theory to the pretraining tolerance), a sweep,
the command line and the plot labels; the fixture unregisters it again.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import symtransfer as st
from symtransfer import _catalog, cli, methods
from symtransfer import validation as V
from symtransfer.methods import Context, Method, Outcome


def _source_only_risk(**_):
    import sympy as sp

    from symtransfer.symbols import theta

    return 2 - 2 * sp.cos(theta)


def _source_only_step(ctx: Context) -> Outcome:
    beta = np.array(ctx.weights.end_to_end())
    return Outcome(beta, np.ones(ctx.params["instances"], dtype=bool),
                   {"source_only": {"norm": np.linalg.norm(beta, axis=1)}})


def _toy() -> Method:
    return Method(name="source_only", label="source only", latex=r"\mathrm{source\ only}",
                  description="predict with the pretrained vector, no target data",
                  color="C5", linestyle=":", risk_expr=_source_only_risk,
                  sources=("population",), step=_source_only_step)


@pytest.fixture
def source_only():
    method = methods.register(_toy())
    try:
        yield method
    finally:
        methods.unregister("source_only")


def test_builtins_are_registered_in_order():
    assert methods.names()[:5] == ("scratch", "linear", "finetune", "lp_ft", "l2sp")
    assert methods.reference() is methods.get("scratch")
    assert [m.name for m in methods.pretrained()][:4] == ["linear", "finetune", "lp_ft", "l2sp"]
    assert V.METHODS == methods.names()


def test_catalog_kernel_names_are_those_committed():
    from symtransfer import _kernels_mpmath, _kernels_numpy

    names = [_catalog.kernel_name(**spec) for spec in _catalog.catalog()]
    assert len(names) == len(set(names))
    generated = {n for n in dir(_kernels_numpy) if not n.startswith("_") and n != "numpy"}
    assert set(names) == generated
    assert all(hasattr(_kernels_mpmath, n) for n in names)
    assert _catalog.kernel_name("risk", "finetune", depth=7) == "risk_finetune_exact_population_Ln"
    assert _catalog.kernel_name("penalty", "finetune", form="paper") == \
        "optimal_penalty_finetune_paper"


def test_toy_method_in_theory(source_only):
    for theta in (0.0, 0.7, math.pi / 2, 2.5):
        assert st.risk("source_only", gamma=0.5, theta=theta) == pytest.approx(
            2 - 2 * math.cos(theta), abs=1e-15)
    grid = st.risk("source_only", gamma=np.array([0.3, 0.6])[:, None],
                   theta=np.array([0.1, 0.2, 0.3])[None, :])
    assert grid.shape == (2, 3)
    T = st.transferability("source_only", gamma=0.5, theta=1.0, sigma=0.2)
    assert T == pytest.approx(st.risk("scratch", gamma=0.5, sigma=0.2) - (2 - 2 * math.cos(1.0)))
    import mpmath

    exact = st.risk("source_only", gamma="0.5", theta="1", precision=40)
    with mpmath.workdps(40):
        assert abs(exact - (2 - 2 * mpmath.cos(1))) < mpmath.mpf(10) ** -38
    with pytest.raises(ValueError, match="theta is required"):
        st.risk("source_only", gamma=0.5)
    with pytest.raises(ValueError, match="finite-source"):
        st.risk("source_only", gamma=0.5, theta=1.0, gamma_s=0.5)
    with pytest.raises(ValueError, match="phase boundary"):
        st.phase_boundary("source_only", gamma=0.5)


def test_toy_method_symbolic(source_only):
    import sympy as sp

    from symtransfer.symbols import theta

    assert st.expr("source_only") == 2 - 2 * sp.cos(theta)
    assert bool(st.check("2 - 2 cos(theta)", "source_only"))
    assert st.expr("source_only", quantity="transferability", theta=0, sigma=0,
                   gamma=sp.Rational(1, 2)) \
        == sp.Rational(1, 2)


def test_toy_method_in_simulate_agrees_with_theory(source_only):
    theta = 1.0
    r = st.simulate("source_only", gamma=0.5, theta=theta, d=40, instances=3, seed=0,
                    progress=False)
    assert r.converged.all() and set(r.diagnostics) == {"pretrain", "source_only"}
    # population pretraining stops within tol = 1e-6 of beta_s (row-space distance)
    assert abs(r.mean - st.risk("source_only", gamma=0.5, theta=theta)) < 1e-4
    assert np.allclose(r.beta_hat, r.beta_source)
    with pytest.raises(ValueError, match="takes lam=0"):
        st.simulate("source_only", gamma=0.5, theta=theta, lam=0.1, d=20, instances=1)


def test_toy_method_in_a_sweep(source_only, tmp_path):
    from symtransfer.sweep import run_sweep

    sweep = run_sweep("source_only", {"theta": [0.3, 1.2]}, gamma=0.5, d=30, instances=2,
                      path=tmp_path / "toy.npz", workers=0, progress=False)
    assert np.allclose(sweep.mean(), sweep.theory("risk"), atol=1e-4)
    assert np.allclose(sweep.theory("risk"), [2 - 2 * math.cos(0.3), 2 - 2 * math.cos(1.2)])


def test_toy_method_on_the_command_line(source_only, capsys):
    assert "source_only" in cli._parser().format_help()
    for command in ("risk", "simulate"):
        with pytest.raises(SystemExit):
            cli._parser().parse_args([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())  # unwrapped
        assert "source_only" in text and "source only" in text
    assert cli.main(["risk", "source_only", "--gamma", "0.5", "--theta", "pi/3",
                     "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "1.0" in out  # 2 - 2 cos(pi/3) = 1
    assert cli.main(["simulate", "source_only", "--gamma", "0.5", "--theta", "pi/3", "--d", "20",
                     "--instances", "2", "--format", "json"]) == 0
    import json

    (row,) = json.loads(capsys.readouterr().out)
    assert abs(row["MC mean"] - 1.0) < 1e-4 and abs(row["theory"] - 1.0) < 1e-12


def test_toy_method_plot_labels(source_only):
    pytest.importorskip("matplotlib")
    from symtransfer import plots

    assert plots.METHOD_NAMES["source_only"] == "source only"
    assert "source_only" in plots.METHOD_NAMES
    assert plots.METHODS_LABEL("source_only") == "source only"
    fig = plots.phase_diagram("source_only", gamma=np.linspace(0.1, 1.9, 12),
                              theta=np.linspace(0, math.pi / 2, 9))
    assert "source only" in fig.axes[0].get_title()
    fig = plots.method_risks(gamma=np.linspace(0.1, 2, 20))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[:4] == ["scratch", "linear transfer", "fine-tuning (exact form)",
                          "fine-tuning (paper form)"] and labels[-1] == "source only"
    line = fig.axes[0].get_lines()[labels.index("source only")]
    assert line.get_color() == "C5" and line.get_linestyle() == ":"


def test_toy_method_is_gone_after_the_fixture():
    assert "source_only" not in methods.names()
    with pytest.raises(ValueError, match="must be one of"):
        st.risk("source_only", gamma=0.5, theta=1.0)


def test_every_method_is_named_in_the_cli_help_and_the_errors(source_only):
    help_text = " ".join(cli._parser().format_help().split())
    with pytest.raises(ValueError) as info:
        V.method_name("finetun")
    message = str(info.value)
    assert "did you mean 'finetune'" in message
    for m in methods.all_methods():
        assert m.name in help_text and m.label in help_text
        assert repr(m.name) in message
    with pytest.raises(ValueError, match="did you mean 'source_only'"):
        st.risk("source_onl", gamma=0.5, theta=1.0)
    with pytest.raises(ValueError, match="did you mean 'linear'"):
        st.simulate("lineer", gamma=0.5, theta=1.0, d=10, instances=1)


def test_register_refuses_duplicates_and_a_second_reference(source_only):
    with pytest.raises(ValueError, match="already registered"):
        methods.register(_toy())
    with pytest.raises(ValueError, match="reference"):
        methods.unregister("scratch")
    with pytest.raises(TypeError):
        methods.register("source_only")


def test_consumers_ask_the_method_not_the_name():
    ft, lin, scratch = (methods.get(n) for n in ("finetune", "linear", "scratch"))
    assert ft.forms == ("exact", "paper") and lin.forms == ("exact",)
    assert ft.endpoint is not None and lin.endpoint is None and scratch.endpoint is None
    assert scratch.finite_size is not None and ft.finite_size is None
    assert not scratch.pretrains and ft.pretrains
    assert lin.label_for(0.5) == "ridge transfer (\u03bb = 0.5)"
    with pytest.raises(ValueError, match="endpoint predictions exist"):
        from symtransfer.mc.mechanism import endpoint_distances
        from symtransfer.mc.result import SimulationResult

        endpoint_distances(SimulationResult("linear", {}, np.zeros(1), np.ones(1, bool)))
