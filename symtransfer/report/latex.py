"""The shipped formulas printed as LaTeX, with their derivation status.
"""
from __future__ import annotations

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

    from .. import expr, formulas

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
