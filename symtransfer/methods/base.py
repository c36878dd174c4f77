"""The :class:`Method` object: everything symtransfer knows about one transfer method.

A method holds its analytic side (builders of the sympy expressions it ships, the names of the
kernels generated from them, the forms, sources and parameters it accepts, its singular
limits) beside its Monte-Carlo side (what :func:`symtransfer.simulate` does for it, and where
a run must end when that is known in closed form), the way a neural-tangents layer holds its
sampled ``fn`` and its analytic ``kernel_fn`` side by side. Consumers (theory, codegen,
validation, simulation, sweeps, plots, tables, the report and the command line) look a method
up in :mod:`symtransfer.methods` and ask it; they do not compare names.

Nothing here imports sympy or the simulator: builders and steps import what they need when
they are called, so ``import symtransfer`` stays light.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

#: quantities of the kernel catalog: asymptotic risk, transferability T, phase boundary theta*
QUANTITIES = ("risk", "transfer", "boundary")
#: how the source was pretrained: population loss, gamma_s d noisy samples, or with the
#: penalty mu |w - w_0|^2 (population, depth 2)
SOURCES = ("population", "finite", "penalized")

#: ``(form, source, L) -> sympy.Expr``
Builder = Callable[..., Any]


def depth_variant(depth: int) -> str:
    """L = 2 and L = 3 have radical kernels; deeper networks use the numeric root."""
    return {2: "L2", 3: "L3"}.get(depth, "Ln")


@dataclass(frozen=True, eq=False)
class FiniteSize:
    """An exact expectation at finite dimension d (n = gamma d samples).

    ``expr()`` builds it (in gamma and d); ``singular(n, d)`` is the mask where it diverges
    or is not defined, and ``limit(n, d, params, noisy, out)`` fills ``out`` (preset to inf)
    there with the limits that exist. ``sources``: pretraining it holds for.
    """

    expr: Callable[[], Any]
    singular: Callable[[Any, Any], np.ndarray]
    limit: Callable[..., None]
    sources: tuple[str, ...] = ("population",)


@dataclass
class Context:
    """What a simulation step gets: the validated (plain Python) parameters, the instances'
    random streams, the target design and its problem, the target teacher, the training
    options (``tol``, ``max_steps``, ``progress``), for a method that pretrains the pretrained
    weights (read-only) and their end-to-end vectors, and ``fit``, the trainer of the chosen
    optimizer (:class:`symtransfer.mc.optimizers.Trainer`: ``fit(net, label=..., **options)``
    trains a network and keeps its trajectory when one is recorded)."""

    params: dict[str, Any]
    streams: dict[str, list]
    design: Any
    problem: Any
    beta_t: np.ndarray
    options: dict[str, Any]
    weights: Any = None
    fit: Any = None
    beta_source: np.ndarray | None = None


@dataclass
class Outcome:
    """What a simulation step returns: the trained end-to-end vectors (K, d), which instances
    converged (the pipeline adds pretraining's flags), and per-phase diagnostics."""

    beta_hat: np.ndarray
    converged: np.ndarray
    diagnostics: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def _no_divergence(quantity: str, **_: Any):
    raise ValueError(f"no limit at gamma_s = 1 is declared for this method ({quantity})")


@dataclass(frozen=True, eq=False)
class Method:
    """One transfer method, declared once.

    Identity and presentation
        ``name`` (the API's string), ``label`` (plain text, e.g. 'fine-tuning'), ``latex``
        (for figures and the report), ``description`` (one line, for the command line),
        ``color`` and ``linestyle`` (matplotlib).
    Analytic side
        ``risk_expr(form=, source=, L=)`` builds the asymptotic risk; the transferability is
        ``R_scratch - R`` folded branch by branch; ``boundary_expr`` (or None) builds the
        phase boundary theta*; ``variants`` maps a variant name to a builder of another
        learner of the same method (scratch: 'ridge', 'optimal_ridge'); ``extra`` maps a
        further quantity to ``builder(form)`` (fine-tuning: 'penalty', the best pretraining
        penalty); ``finite_size`` (or None) the exact expectation at finite d.
        ``forms`` (the first is the default), ``sources`` (empty: no pretraining),
        ``per_depth_forms`` (forms whose kernels come per depth: radicals for L = 2, 3, a
        numeric root deeper), ``uses_theta``, ``uses_lam`` (the ridge penalty of the method),
        ``baselines`` (scratch learners it may be: only the reference has more than one),
        ``reference`` (the method transferability is measured against: scratch).
    Singular points
        ``gamma_one``: quantity -> 'inf' or 'nan', its value at gamma = 1 with noise (a
        continuous limit is taken without); ``gamma_s_one(quantity, below=, scratch=,
        backend=)`` the values at gamma_s = 1 with source noise (finite source; None: the
        limit is continuous there too, as for LP-FT, whose probe rescales the readout);
        ``collapses_to_scratch``: with a penalty mu >= 1 (pretraining learns nothing) the
        method is scratch training (else there is no theory there); ``pinned_above_one``:
        for gamma > 1 the target data pin it to least squares, like scratch (T = 0 there, so
        a phase diagram draws no T = 0 contour above gamma = 1).
        ``variant_of(baseline, ridge)``: the variant evaluated for a baseline and whether the
        ridge penalty lam is on ('' for the plain learner).
    Monte-Carlo side
        ``pretrains``; ``step(context) -> Outcome`` (None: no simulation);
        ``trains_network(params)`` (whether the step trains the network on the target, so
        that ``optimizer=`` applies; False where it is closed form);
        ``records_trajectory(params)`` (whether ``record=`` can keep its trajectory; None:
        where it trains the network);
        ``endpoint(beta_s, problem, depth, form)`` (or None) the per-run endpoint predicted
        in closed form, with ``endpoint_forms`` the forms it predicts;
        ``agreement(params, d) -> (theory value, what it is, allowance, why)``: what a
        Monte-Carlo mean at dimension d is compared with, and the finite-size allowance (the
        report's theory vs Monte-Carlo table; None: the asymptotic risk, no allowance).

    ``kernel_names`` (or None) overrides how kernels are named (the built-ins keep the
    names of the committed kernels); ``specs`` (or None) lists which kernels are generated.
    """

    name: str
    label: str
    latex: str
    description: str
    risk_expr: Builder
    color: str = "C7"
    linestyle: str = "-"
    boundary_expr: Builder | None = None
    variants: Mapping[str, Callable[[], Any]] = field(default_factory=dict)
    extra: Mapping[str, Callable[[str], Any]] = field(default_factory=dict)
    finite_size: FiniteSize | None = None
    forms: tuple[str, ...] = ("exact",)
    sources: tuple[str, ...] = ("population",)
    per_depth_forms: tuple[str, ...] = ()
    uses_theta: bool = True
    uses_lam: bool = False
    baselines: tuple[str, ...] = ("ridgeless",)
    reference: bool = False
    gamma_one: Mapping[str, str] = field(default_factory=dict)
    gamma_s_one: Callable[..., np.ndarray] | None = _no_divergence
    collapses_to_scratch: bool = False
    pinned_above_one: bool = False
    variant_of: Callable[[str, bool], str] = lambda baseline, ridge: ""
    pretrains: bool = True
    step: Callable[[Context], Outcome] | None = None
    trains_network: Callable[[dict], bool] = lambda params: True
    records_trajectory: Callable[[dict], bool] | None = None
    endpoint: Callable[..., np.ndarray] | None = None
    endpoint_forms: tuple[str, ...] = ()
    agreement: Callable[[dict, int], tuple] | None = None
    kernel_names: Callable[..., str] | None = None
    specs: Callable[[], list[dict]] | None = None
    #: variant and extra builders take ``source=`` (their kernels come per source)
    variant_sources: bool = False
    #: quantity -> 'zero' or 'positive': its ``gamma_one`` value holds only where lam is zero
    #: (positive); elsewhere the expression is regular at gamma = 1 (absent: everywhere)
    gamma_one_lam: Mapping[str, str] = field(default_factory=dict)
    #: the label with the penalty lam on (linear transfer's: ridge transfer)
    lam_label: str = "ridge transfer"

    # ----------------------------------------------------------------- presentation

    def label_for(self, lam: float = 0.0) -> str:
        """The plain label, naming the ridge penalty where the method has one and it is on."""
        if self.uses_lam and lam and not self.reference:
            return "%s (\u03bb = %g)" % (self.lam_label, lam)
        return self.label

    # ----------------------------------------------------------------- analytic side

    def has(self, quantity: str) -> bool:
        """Whether ``quantity`` ('risk', 'transfer', 'boundary', or an ``extra``) exists."""
        if quantity == "boundary":
            return self.boundary_expr is not None
        return quantity in ("risk", "transfer") or quantity in self.extra

    def kernel_name(self, quantity: str, *, form: str = "exact", source: str = "population",
                    depth: int = 2, finite_size: bool = False, variant: str = "") -> str:
        """The name of the generated kernel of ``quantity`` for these options."""
        if self.kernel_names is not None:
            return self.kernel_names(quantity, form=form, source=source, depth=depth,
                                     finite_size=finite_size, variant=variant)
        return default_kernel_name(self, quantity, form=form, source=source, depth=depth,
                                   finite_size=finite_size, variant=variant)

    def kernel_specs(self) -> list[dict]:
        """Keyword sets (for :meth:`kernel_name` and :meth:`expression`) of every kernel
        generated for this method."""
        if self.specs is not None:
            return [dict(spec, method=self.name) for spec in self.specs()]
        out: list[dict] = []
        for quantity in QUANTITIES:
            if not self.has(quantity):
                continue
            for source in (self.sources or ("population",)):
                for form in self.forms:
                    depths = (2, 3, 4) if form in self.per_depth_forms else (2,)
                    out += [dict(quantity=quantity, method=self.name, form=form, source=source,
                                 depth=depth) for depth in depths]
        for variant in self.variants:
            out.append(dict(quantity="risk", method=self.name, variant=variant))
        if self.finite_size is not None:
            out.append(dict(quantity="risk", method=self.name, finite_size=True))
        return out

    def expression(self, quantity: str, *, form: str = "exact", source: str = "population",
                   L: Any = None, finite_size: bool = False, variant: str = "") -> Any:
        """The sympy expression of ``quantity`` ('risk', 'transfer' or 'transferability',
        'boundary', an ``extra``); ``L`` an integer or the depth symbol (default)."""
        by_source = {"source": source} if self.variant_sources else {}
        if variant:
            return self.variants[variant](**by_source)
        if finite_size:
            if self.finite_size is None or quantity != "risk":
                raise ValueError(f"no finite-size expression of the {quantity} of "
                                 f"{self.name!r}")
            return self.finite_size.expr()
        if quantity in self.extra:
            return self.extra[quantity](form, **by_source)
        if L is None:
            from ..symbols import depth as L
        if quantity == "risk":
            return self.risk_expr(form=form, source=source, L=L)
        if quantity in ("transfer", "transferability"):
            import sympy as sp

            from .registry import reference

            # not factored or expanded: each branch stays "scratch branch - method branch",
            # which evaluates without cancellation near gamma = 1 and gamma_s = 1
            baseline = reference().risk_expr(form="exact", source="population", L=L)
            return sp.piecewise_fold(baseline - self.risk_expr(form=form, source=source, L=L))
        if quantity == "boundary" and self.boundary_expr is not None:
            return self.boundary_expr(form=form, source=source, L=L)
        raise ValueError(f"method {self.name!r} has no {quantity!r} expression")

    # ----------------------------------------------------------------- Monte-Carlo side

    def records(self, params: dict) -> bool:
        """Whether a simulation with these (validated) parameters can record a trajectory."""
        if self.records_trajectory is not None:
            return self.records_trajectory(params)
        return self.trains_network(params)

    def simulate_step(self, context: Context) -> Outcome:
        """Run this method's training/readout step (after pretraining, if it pretrains)."""
        if self.step is None:
            raise ValueError(f"method {self.name!r} declares no simulation step")
        return self.step(context)

    def __repr__(self) -> str:
        return f"Method({self.name!r}: {self.label})"


def default_kernel_name(method: Method, quantity: str, *, form: str, source: str, depth: int,
                        finite_size: bool, variant: str) -> str:
    """``{quantity}_{name}[_{variant}][_{form}][_{source}][_{L2|L3|Ln}]`` (form where the
    method has several, source where it pretrains, depth where the form is per depth);
    ``{quantity}_{name}_d`` for a finite-size expectation."""
    if finite_size:
        return f"{quantity}_{method.name}_d"
    parts = [quantity, method.name]
    if variant:
        parts.append(variant)
    if len(method.forms) > 1:
        parts.append(form)
    if method.sources:
        parts.append(source)
    if form in method.per_depth_forms:
        parts.append(depth_variant(depth))
    return "_".join(parts)
