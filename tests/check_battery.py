"""A battery of candidate derivations with their known verdicts, for symtransfer.check.

Each case is what a theorist would type: equivalent rewrites (trigonometric, complex
exponential, factored/expanded, piecewise), plain sympy symbols without assumptions, LaTeX,
and wrong candidates (by a sign, a factor, an exponent, a branch; wrong only for gamma > 5,
only near gamma = 1, only for small gamma), plus user-vs-user comparisons. The expected
verdict is derived by hand in each comment, not read off the checker. Used by
tests/test_check_battery.py and benchmarks/bench_check.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import sympy as sp

from symtransfer import formulas

# plain user symbols: no assumptions, as users write them
g, th, s, lam, lmb, mu, gs, ss, L, d = sp.symbols("gamma theta sigma lam lambda mu gamma_s "
                                                 "sigma_s L d")
x, y = sp.symbols("x y")

RIDGE = "1 - cos(theta)**2*(1 + 2*lam)/(1 + lam)**2"
SCRATCH_BELOW = "1 - gamma + sigma**2*gamma/(1 - gamma)"
PAPER_FT_BELOW = "(1-gamma)*(2-2*cos(theta)) + sigma**2*gamma/(1-gamma)"
BELOW = {"gamma": (0, 1)}


@dataclass
class Case:
    id: str
    candidate: Any
    reference: Any
    verdict: str  # 'equal', 'different', 'partial'
    options: dict = field(default_factory=dict)
    how: str | None = None  # expected 'symbolic' where a proof must be found
    region: str | None = None  # substring of the agreeing region (partial)
    where: Callable[[dict], bool] | None = None  # property of the counterexample point


CASES: list[Case] = [
    # --- equivalent rewrites --------------------------------------------------------------
    Case("ridge", RIDGE, "linear", "equal", how="symbolic"),
    Case("ridge-lambda", RIDGE.replace("lam", "lambda"), "linear", "equal", how="symbolic"),
    Case("ridge-implicit-xor", "1 - cos(theta)^2 (1 + 2 lambda)/(1 + lambda)^2", "linear",
         "equal", how="symbolic"),
    Case("ridge-expanded", "1 - cos(theta)**2 + cos(theta)**2*lam**2/(1 + lam)**2", "linear",
         "equal", how="symbolic"),
    Case("ridge-sin", "sin(theta)**2 + cos(theta)**2*lam**2/(1 + lam)**2", "linear",
         "equal"),
    Case("ridge-decimal", "1 - cos(theta)**2*(1 + 2.0*lam)/(1.0 + lam)**2", "linear",
         "equal", how="symbolic"),
    Case("linear-sin2", "sin(theta)**2", "linear", "equal", {"lam": 0}),
    Case("linear-1-cos2", "1 - cos(theta)**2", "linear", "equal", {"lam": 0},
         how="symbolic"),
    Case("linear-double-angle", "(1 - cos(2*theta))/2", "linear", "equal", {"lam": 0}),
    Case("linear-complex-exp", "1 - ((exp(I*theta) + exp(-I*theta))/2)**2", "linear",
         "equal", {"lam": 0}),
    Case("sin2-complex-exp", "-(exp(I*theta) - exp(-I*theta))**2/4", "sin(theta)**2",
         "equal"),
    Case("scratch-piecewise", f"Piecewise(({SCRATCH_BELOW}, gamma < 1), "
                              "(sigma**2/(gamma - 1), True))", "scratch", "equal",
         how="symbolic"),
    Case("scratch-piecewise-swapped", f"Piecewise((sigma**2/(gamma - 1), gamma > 1), "
                                      f"({SCRATCH_BELOW}, True))", "scratch", "equal",
         how="symbolic"),
    Case("scratch-one-fraction", "Piecewise((((1-gamma)**2 + sigma**2*gamma)/(1-gamma), "
                                 "gamma < 1), (sigma**2/(gamma-1), True))", "scratch",
         "equal", how="symbolic"),
    Case("scratch-below-domain", SCRATCH_BELOW, "scratch", "equal", {"domain": BELOW}),
    Case("paper-ft-domain", PAPER_FT_BELOW, "finetune", "equal",
         {"form": "paper", "domain": BELOW}),
    Case("paper-ft-factored", "2*(1-gamma)*(1-cos(theta)) + sigma**2*gamma/(1-gamma)",
         "finetune", "equal", {"form": "paper", "domain": BELOW}),
    Case("paper-T-domain", "(1-gamma)*(2*cos(theta)-1)", "finetune", "equal",
         {"form": "paper", "quantity": "transferability", "domain": BELOW}),
    Case("paper-boundary-domain", "acos(1/2)", "finetune", "equal",
         {"form": "paper", "quantity": "boundary", "domain": BELOW}),
    Case("exact-equals-paper-noiseless",
         formulas.finetune("paper", "population").subs(sp.Symbol("sigma", nonnegative=True), 0),
         "finetune", "equal", {"sigma": 0}),
    Case("penalized-linear", "sin(theta)**2", "linear", "equal",
         {"source": "penalized", "lam": 0}),
    Case("optimal-ridge", "(sqrt((gamma - 1 + sigma**2)**2 + 4*sigma**2) "
                          "- (gamma - 1 + sigma**2))/2", formulas.optimal_ridge(), "equal"),
    # (the shipped optimal ridge is an overflow-safe Piecewise whose gamma + sigma^2 > 1 branch
    # needs that sign to simplify: equal numerically)
    # --- plain user symbols (no assumptions) -----------------------------------------------
    Case("plain-ridge", 1 - sp.cos(th) ** 2 * (1 + 2 * lam) / (1 + lam) ** 2, "linear",
         "equal", how="symbolic"),
    Case("plain-ridge-lambda", 1 - sp.cos(th) ** 2 * (1 + 2 * lmb) / (1 + lmb) ** 2,
         "linear", "equal", how="symbolic"),
    Case("plain-scratch-piecewise",
         sp.Piecewise((1 - g + s ** 2 * g / (1 - g), g < 1), (s ** 2 / (g - 1), True)),
         "scratch", "equal", how="symbolic"),
    Case("plain-sqrt-gamma", sp.sqrt(g ** 2) * (1 - sp.cos(th) ** 2) / g, "linear", "equal",
         {"lam": 0}, how="symbolic"),
    Case("real-symbols-ridge",
         1 - sp.cos(sp.Symbol("theta", real=True)) ** 2 * (1 + 2 * sp.Symbol("lam", real=True))
         / (1 + sp.Symbol("lam", real=True)) ** 2, "linear", "equal", how="symbolic"),
    Case("plain-finite-source-linear",
         sp.Piecewise((1 - gs * sp.cos(th) ** 2 / (1 + ss ** 2 / (1 - gs)), gs < 1),
                      (1 - sp.cos(th) ** 2 / (1 + ss ** 2 / (gs - 1)), True)),
         "linear", "equal", {"source": "finite", "lam": 0}),
    # --- LaTeX ---------------------------------------------------------------------------
    Case("latex-sin2", r"\sin^2\theta", "linear", "equal", {"lam": 0}, how="symbolic"),
    Case("latex-ridge", r"1-\cos^2\theta\frac{1+2\lambda}{(1+\lambda)^2}", "linear", "equal",
         how="symbolic"),
    Case("latex-ridge-cdot", r"$1 - \cos^{2}(\theta) \cdot \frac{1 + 2\lambda}"
                             r"{\left(1+\lambda\right)^{2}}$", "linear", "equal",
         how="symbolic"),
    Case("latex-scratch-below", r"1 - \gamma + \frac{\sigma^2\gamma}{1-\gamma}", "scratch",
         "equal", {"domain": BELOW}),
    Case("latex-paper-ft", r"2(1-\gamma)(1-\cos\theta) + \frac{\sigma^2 \gamma}{1-\gamma}",
         "finetune", "partial", {"form": "paper"}, region="0 < gamma < 1",
         where=lambda p: p["gamma"] >= 1),
    Case("latex-complex-exp", r"1-\left(\frac{\mathrm{e}^{i\theta}+\mathrm{e}^{-i\theta}}"
                              r"{2}\right)^2", "linear", "equal", {"lam": 0}),
    Case("latex-optimal-ridge", r"\frac{1}{2}\left[\sqrt{(\gamma-1+\sigma^2)^2+4\sigma^2}"
                                r"-(\gamma-1+\sigma^2)\right]", formulas.optimal_ridge(),
         "equal"),
    Case("latex-penalized-T", r"(1-\gamma)(1-\mu)\left(2\cos\theta-(1-\mu)\right)",
         "finetune", "partial", {"form": "paper", "quantity": "transferability",
                                 "source": "penalized"},
         region="0 < gamma < 1", where=lambda p: p["gamma"] >= 1),
    Case("latex-finite-source", r"1 - \frac{\gamma_s \cos^2\theta}{1 + \frac{\sigma_s^2}"
                                r"{1-\gamma_s}}", "linear", "partial",
         {"source": "finite", "lam": 0}, region="gamma_s < 1",
         where=lambda p: p["gamma_s"] >= 1),
    Case("latex-wrong-exponent", r"1-\cos^3\theta", "linear", "different", {"lam": 0}),
    Case("latex-above-only", r"\frac{\sigma^2}{\gamma-1}", "scratch", "partial",
         region="1 <= gamma", where=lambda p: p["gamma"] < 1),
    # --- domain-restricted results --------------------------------------------------------
    Case("paper-ft-whole-domain", PAPER_FT_BELOW, "finetune", "partial", {"form": "paper"},
         region="0 < gamma < 1", where=lambda p: p["gamma"] >= 1),
    Case("paper-T-whole-domain", "(1-gamma)*(2*cos(theta)-1)", "finetune", "partial",
         {"form": "paper", "quantity": "transferability"}, region="0 < gamma < 1",
         where=lambda p: p["gamma"] >= 1),
    Case("paper-boundary-pi-3", "pi/3", "finetune", "partial",
         {"form": "paper", "quantity": "boundary"}, region="0 < gamma < 1",
         where=lambda p: p["gamma"] >= 1),
    Case("linear-boundary-noiseless", "acos(sqrt(gamma))", "linear", "partial",
         {"quantity": "boundary", "sigma": 0, "lam": 0}, region="0 < gamma < 1",
         where=lambda p: p["gamma"] >= 1),
    Case("finite-size-scratch", "1 - gamma + sigma**2*gamma*d/(d - gamma*d - 1)", "scratch",
         "partial", {"finite_size": True}, region="d*gamma <= d - 2"),
    Case("finite-source-paper-T",
         "-(1-gamma)*(gamma_s*(1 - 2*cos(theta)) + sigma_s**2*gamma_s/(1-gamma_s))",
         "finetune", "partial", {"form": "paper", "quantity": "transferability",
                                 "source": "finite"},
         region="0 < gamma < 1 and 0 < gamma_s < 1",
         where=lambda p: p["gamma"] >= 1 or p["gamma_s"] >= 1),
    Case("exact-vs-paper-noisy", formulas.finetune("paper", "population"), "finetune",
         "partial", region="1 <= gamma", where=lambda p: p["gamma"] < 1 and p["sigma"] > 0),
    # --- wrong by a sign, factor, exponent, branch ----------------------------------------
    Case("ridge-wrong-denominator", "1 - cos(theta)**2*(1 + 2*lam)/(1 + lam)", "linear",
         "different"),
    Case("ridge-wrong-sign", "1 + cos(theta)**2*(1 + 2*lam)/(1 + lam)**2", "linear",
         "different"),
    Case("ridge-wrong-factor", "1 - cos(theta)**2*(1 + lam)/(1 + lam)**2", "linear",
         "different"),
    Case("linear-wrong-exponent", "sin(theta)**3", "linear", "different", {"lam": 0}),
    Case("linear-wrong-trig", "cos(theta)**2", "linear", "different", {"lam": 0}),
    Case("paper-ft-double-noise", "(1-gamma)*(2-2*cos(theta)) + 2*sigma**2*gamma/(1-gamma)",
         "finetune", "different", {"form": "paper", "domain": BELOW}),
    Case("paper-T-wrong-sign", "(1-gamma)*(2*cos(theta)+1)", "finetune", "different",
         {"form": "paper", "quantity": "transferability", "domain": BELOW}),
    Case("scratch-branches-swapped", f"Piecewise((sigma**2/(gamma - 1), gamma < 1), "
                                     f"({SCRATCH_BELOW}, True))", "scratch", "different"),
    Case("scratch-wrong-above", f"Piecewise(({SCRATCH_BELOW}, gamma < 1), "
                                "(sigma**2/(gamma + 1), True))", "scratch", "partial",
         region="0 < gamma < 1", where=lambda p: p["gamma"] >= 1),
    Case("paper-vs-exact-noisy-domain", PAPER_FT_BELOW, "finetune", "different",
         {"domain": {"gamma": (0.05, 0.95), "sigma": (0.2, 1.0)}}),
    Case("ridge-tiny-error", formulas.linear("population") + sp.Rational(1, 10 ** 30),
         "linear", "different"),
    # --- wrong only on part of the domain (the old sampler called these equal) -------------
    Case("wrong-above-5", f"Piecewise(({SCRATCH_BELOW}, gamma < 1), "
                          "(sigma**2/(gamma - 1) + Max(0, gamma - 5), True))", "scratch",
         "partial", region="0 < gamma < 1", where=lambda p: p["gamma"] > 5),
    Case("wrong-near-threshold", f"Piecewise(({SCRATCH_BELOW}, gamma < 1), "
                                 "(sigma**2/(gamma - 1), True)) "
                                 "* (1 + exp(-10**8*(gamma - 1)**2))", "scratch", "partial",
         where=lambda p: abs(p["gamma"] - 1) < sp.Rational(2, 1000)),
    Case("wrong-small-gamma", f"Piecewise(({SCRATCH_BELOW}, gamma < 1), "
                              "(sigma**2/(gamma - 1), True)) + Max(0, 1 - 1000*gamma)",
         "scratch", "partial", where=lambda p: p["gamma"] < sp.Rational(1, 1000)),
    Case("wrong-large-noise", f"Piecewise(({SCRATCH_BELOW}, gamma < 1), "
                              "(sigma**2/(gamma - 1), True)) + Max(0, sigma - 100)",
         "scratch", "partial", where=lambda p: p["sigma"] > 100),
    Case("wrong-negative-x", "sqrt(x**2)", "x", "partial", region="x >=",
         where=lambda p: p["x"] < 0),
    # --- user vs user ---------------------------------------------------------------------
    Case("user-abs", "sqrt(x**2)", "Abs(x)", "equal", how="symbolic"),
    Case("user-square", "(x + 1)**2", "x**2 + 2*x + 1", "equal", how="symbolic"),
    Case("user-difference-of-squares", "x**2 - 1", "(x - 1)*(x + 1)", "equal",
         how="symbolic"),
    Case("user-removable", "(x**3 - 1)/(x - 1)", "x**2 + x + 1", "equal", how="symbolic"),
    Case("user-pythagoras", "sin(x)**2 + cos(x)**2", "1", "equal", how="symbolic"),
    Case("user-log-positive", "log(x*y)", "log(x) + log(y)", "equal",
         {"domain": {"x": (0, sp.oo), "y": (0, sp.oo)}}),
    Case("user-exp-log", "exp(log(x))", "x", "equal"),  # principal log: equal for x != 0
    Case("user-wrong-sign", "x**2 - 2*x + 1", "(x + 1)**2", "different"),
    Case("user-depth-exponent", "x**((L - 1)/L)", "x**(1 - 1/L)", "equal",
         {"domain": {"x": (0, 10)}}),
    Case("user-beta-symbol", "beta_t**2 + 1", "1 + beta_t*beta_t", "equal", how="symbolic"),
    Case("user-beta-name", "beta*x", "x*beta", "equal", how="symbolic"),
]
