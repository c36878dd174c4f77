"""Fine-tuning all layers from the pretrained balanced rank-1 weights.

Primitives (d): gradient flow keeps balanced rank-1 weights balanced rank-1 with fixed unit
vectors u_2..u_L: W_1 = w u_2^T with a free vector w, |w| = s_2 = ... = s_L, so
beta_hat = W_1...W_L = |w|^(L-1) w; and P_perp W_1 never moves, so P_perp w = s0 P_perp u is frozen at
its pretrained value (u = beta_hat_s/|beta_hat_s|, s0 = |beta_hat_s|^(1/L), N_s = s0^(2L)).

gamma < 1: at convergence the row-space part interpolates, P beta_hat = X^+ y =: b, with
|b|^2 = |P beta_t|^2 + |X^+ eps|^2 -> B = gamma + sigma^2 gamma/(1-gamma).  With q = |w|^2:
|P w|^2 = |b|^2/q^(L-1) and q = |P w|^2 + |P_perp w|^2, i.e. q^L - m^2 q^(L-1) - |b|^2 = 0 with
m^2 = s0^2 |P_perp u|^2 -> s0^2 (1-gamma).  Rescaling q = s0^2 kappa:
kappa^L - (1-gamma) kappa^(L-1) - B/N_s = 0, one sign change (Descartes) -> a unique positive root
kappa = PositiveRoot(L, 1-gamma, B/N_s).  P_perp beta_hat = q^((L-1)/2) P_perp w = c P_perp beta_hat_s,
c = kappa^((L-1)/2).  R = |X^+ eps|^2 + |P_perp (c beta_hat_s - beta_t)|^2
  -> sigma^2 gamma/(1-gamma) + (1-gamma)(c^2 N_s - 2 c O_s + 1).
gamma > 1: the target data pin beta_hat to least squares: the scratch risk.
The paper's form keeps the null-space part unchanged: c = 1.
"""
from __future__ import annotations

import sympy as sp

from symtransfer import formulas
from symtransfer.symbols import depth, gamma, gamma_s, sigma, sigma_s, theta

from . import NUMERIC, Result, holds, is_zero, rational, same
from .primitives import asymptotic, least_squares_noise, min_norm_noise, null_form, projection_form
from .source import statistics

L = depth
q, m2, bn2, s0, kappa, Ns, B = sp.symbols("q m2 b2 s0 kappa N_s B", positive=True)
c, Nsym, Osym = sp.Symbol("c", positive=True), sp.Symbol("N", positive=True), sp.Symbol("O", real=True)
a, b, x = sp.symbols("a b x", positive=True)

RADICAL_DOMAIN = {a: lambda rng, i: rational(rng, 0.001, 3), b: lambda rng, i: rational(rng, 0.001, 10)}


# --------------------------------------------------------------------------- the scale kappa


def fixed_point_polynomial() -> sp.Expr:
    """q = |b|^2/q^(L-1) + m^2 times q^(L-1): q^L - m^2 q^(L-1) - |b|^2."""
    norm_pw = bn2 / q ** (L - 1)  # |P w|^2 from P beta_hat = q^((L-1)/2) P w = b
    return sp.powsimp(sp.expand((q - norm_pw - m2) * q ** (L - 1), power_exp=False))


def asymptotic_inputs() -> dict[sp.Symbol, sp.Expr]:
    """m^2 and |b|^2 from the primitives: |P_perp u|^2 -> 1-gamma, |P beta_t|^2 + |X^+ eps|^2 -> B."""
    return {m2: s0 ** 2 * asymptotic(null_form([1], [1])),
            bn2: asymptotic(projection_form([1], [1])) + asymptotic(min_norm_noise())}


def rescaled_polynomial() -> sp.Expr:
    """Substitute q = s0^2 kappa, m^2 = s0^2 (1-gamma), |b|^2 = B, divide by s0^(2L) = N_s."""
    poly = fixed_point_polynomial().subs({q: s0 ** 2 * kappa, m2: s0 ** 2 * (1 - gamma), bn2: B})
    poly = sp.expand(sp.powsimp(sp.expand_power_base(sp.expand(poly / s0 ** (2 * L)))))
    return sp.collect(sp.powsimp(poly.subs(s0, Ns ** (1 / (2 * L)))), kappa ** (L - 1))


def sign_changes(coeffs: list[sp.Expr]) -> int | None:
    """Descartes sign changes of nonzero coefficients (None if a sign is undetermined)."""
    signs = []
    for co in coeffs:
        if co == 0:
            continue
        if co.is_positive:
            signs.append(1)
        elif co.is_negative:
            signs.append(-1)
        else:
            return None
    return sum(1 for s, t in zip(signs, signs[1:]) if s != t)


def descartes_unique(depths=range(2, 9)) -> bool:
    """x^L - a x^(L-1) - b, b > 0: exactly one sign change for a > 0, a < 0 and a = 0."""
    for k in depths:
        for alpha in (a, -a, sp.Integer(0)):
            coeffs = sp.Poly(x ** k - alpha * x ** (k - 1) - b, x).all_coeffs()
            if sign_changes(coeffs) != 1:
                return False
    return True


def null_space_scale() -> sp.Expr:
    """c = |P_perp beta_hat|/|P_perp beta_hat_s| = q^((L-1)/2) s0 / s0^L at q = s0^2 kappa."""
    ratio = (s0 ** 2 * kappa) ** ((L - 1) / 2) * s0 / s0 ** L
    return sp.powsimp(sp.expand_power_base(ratio), force=False)


def kappa_root(source: str, depth_value=L) -> sp.Expr:
    """PositiveRoot(L, 1-gamma, B/N_s) with the derived B and source statistics."""
    norm2, _ = statistics(source)
    bval = asymptotic_inputs()[bn2]
    return sp.piecewise_fold(formulas.PositiveRoot(depth_value, 1 - gamma, bval / norm2))


# --------------------------------------------------------------------------- the risk


def generic_risk_below() -> sp.Expr:
    """gamma < 1: |X^+ eps|^2 + |P_perp(c beta_hat_s - beta_t)|^2 -> noise + (1-gamma)|v|^2."""
    gram = c ** 2 * Nsym - 2 * c * Osym + 1  # |c beta_hat_s - beta_t|^2
    return asymptotic(min_norm_noise()) + asymptotic(null_form([1], [1])) * gram


def risk(source: str, depth_value=L, form: str = "exact", root: sp.Expr | None = None) -> sp.Expr:
    """Piecewise risk; form 'paper' sets c = 1; ``root`` overrides kappa (radical forms)."""
    norm2, overlap = statistics(source)
    if form == "paper":
        scale = sp.Integer(1)
    else:
        k = kappa_root(source, depth_value) if root is None else root
        scale = k ** ((depth_value - 1) / sp.Integer(2))
    below = generic_risk_below().xreplace({c: scale, Nsym: norm2, Osym: overlap})
    above = asymptotic(least_squares_noise())
    return sp.piecewise_fold(sp.Piecewise((below, gamma < 1), (above, True)))


# --------------------------------------------------------------------------- radicals


def quadratic_root() -> sp.Expr:
    """Positive root of x^2 - a x - b by sympy.solve."""
    roots = [r for r in sp.solve(x ** 2 - a * x - b, x) if r.is_positive]
    (root,) = roots
    return root


def cardano_root() -> sp.Expr:
    """Real root of x^3 - a x^2 - b by Cardano (a, b > 0: one real root)."""
    t = sp.Symbol("t")
    depressed = sp.Poly(sp.expand((t + a / 3) ** 3 - a * (t + a / 3) ** 2 - b), t)
    one, zero, p, qq = depressed.all_coeffs()
    assert one == 1 and zero == 0
    radicand = sp.expand(qq ** 2 / 4 + p ** 3 / 27)  # a^3 b/27 + b^2/4 > 0
    u = sp.cbrt(sp.expand(-qq / 2) + sp.sqrt(radicand))  # cube root of a positive real
    v = -p / (3 * u)  # u v = -p/3
    return u + v + a / 3


def cardano_satisfies_cubic() -> bool:
    """Substitute the Cardano root into x^3 - a x^2 - b: zero after rationalizing."""
    U = sp.Symbol("U", positive=True)
    t = sp.Symbol("t")
    depressed = sp.Poly(sp.expand((t + a / 3) ** 3 - a * (t + a / 3) ** 2 - b), t)
    _, _, p, qq = depressed.all_coeffs()
    root = U - p / (3 * U) + a / 3
    residual = sp.expand(root ** 3 - a * root ** 2 - b)
    cube = sp.expand(-qq / 2) + sp.sqrt(sp.expand(qq ** 2 / 4 + p ** 3 / 27))
    residual = residual.subs(U, cube ** sp.Rational(1, 3))
    return sp.cancel(sp.radsimp(sp.together(residual))) == 0


# --------------------------------------------------------------------------- interface


def derive() -> dict[str, sp.Expr]:
    """Polynomials, scale c, exact and paper risks for every source, radicals."""
    return {
        "fixed_point_polynomial": fixed_point_polynomial(),
        "rescaled_polynomial": rescaled_polynomial(),
        "c": null_space_scale(),
        **{f"exact_{source}": risk(source) for source in formulas.SOURCES},
        **{f"paper_{source}": risk(source, form="paper") for source in formulas.SOURCES},
        "root_L2": quadratic_root(),
        "root_L3": cardano_root(),
    }


def _numbers(expr: sp.Expr, point: dict) -> float:
    return float(sp.N(expr.subs(point), 30))


def _comparison_checks() -> list[Result]:
    """Exact vs paper: equal at sigma = 0 population, different otherwise (numbers)."""
    exact, paper = formulas.finetune("exact", "population"), formulas.finetune("paper", "population")
    kappa_at_one = (kappa ** L - (1 - gamma) * kappa ** (L - 1) - gamma).subs(kappa, 1)
    shipped_root = formulas.finetune_scale("population", L).subs(sigma, 0)
    exact0 = exact.subs(sigma, 0).xreplace({formulas.PositiveRoot(L, 1 - gamma, gamma): sp.Integer(1)})
    out = [
        holds("finetune: sigma=0, population: kappa=1 is the root (B/N_s = gamma), so c = 1",
              sp.expand(kappa_at_one) == 0 and shipped_root == formulas.PositiveRoot(L, 1 - gamma, gamma),
              f"1 - (1-gamma) - gamma = {sp.expand(kappa_at_one)}; shipped root {shipped_root}"),
        same(formulas.PositiveRoot(L, 1 - gamma, gamma), sp.Integer(1),
             "finetune: PositiveRoot(L, 1-gamma, gamma) evaluates to 1"),
        same(exact0, paper.subs(sigma, 0), "finetune: exact == paper at sigma=0, population source"),
    ]
    point = {L: 3, gamma: sp.Rational(3, 5), theta: 3 * sp.pi / 8, sigma: sp.Rational(1, 2)}
    ex, pa = _numbers(exact, point), _numbers(paper, point)
    out.append(holds("finetune: docs/theory.md 0.949 (exact) vs 0.869 (paper), L=3 gamma=0.6 "
                     "theta=3pi/8 sigma=0.5", round(ex, 3) == 0.949 and round(pa, 3) == 0.869,
                     f"exact {ex:.6f}, paper {pa:.6f}", how=NUMERIC))
    fpoint = {**point, sigma: 0, sigma_s: 0, gamma_s: sp.Rational(1, 2)}
    exf = _numbers(formulas.finetune("exact", "finite"), fpoint)
    paf = _numbers(formulas.finetune("paper", "finite"), fpoint)
    norm = _numbers(formulas.source_statistics("finite")[0], fpoint)
    out.append(holds("finetune: finite source, sigma=sigma_s=0, gamma_s=0.5: exact != paper (N_s != 1)",
                     norm == 0.5 and abs(exf - paf) > 1e-3,
                     f"N_s={norm}, L=3 gamma=0.6 theta=3pi/8: exact {exf:.6f}, paper {paf:.6f}",
                     how=NUMERIC))
    return out


def checks() -> list[Result]:
    """Derivation steps, exact/paper risks vs the shipped ones, radicals."""
    e = derive()
    target = kappa ** L - (1 - gamma) * kappa ** (L - 1) - B / Ns
    inputs = asymptotic_inputs()
    out = [
        holds("finetune: q = |b|^2/q^(L-1) + m^2  <=>  q^L - m^2 q^(L-1) - |b|^2 = 0",
              is_zero(e["fixed_point_polynomial"] - (q ** L - m2 * q ** (L - 1) - bn2)),
              str(e["fixed_point_polynomial"])),
        holds("finetune: q = s0^2 kappa rescales it to kappa^L - (1-gamma) kappa^(L-1) - B/N_s",
              is_zero(e["rescaled_polynomial"] - target), str(e["rescaled_polynomial"])),
        holds("finetune: m^2 -> s0^2 (1-gamma), |b|^2 -> B = gamma + sigma^2 gamma/(1-gamma)",
              is_zero(inputs[m2] - s0 ** 2 * (1 - gamma))
              and is_zero(inputs[bn2] - (gamma + sigma ** 2 * gamma / (1 - gamma)))),
        holds("finetune: Descartes: one sign change, unique positive root (L=2..8, any sign of a)",
              descartes_unique()),
        holds("finetune: P_perp beta_hat = c P_perp beta_hat_s with c = kappa^((L-1)/2)",
              is_zero(e["c"] - kappa ** ((L - 1) / sp.Integer(2))), f"c = {e['c']}"),
        same(e["root_L2"], formulas.positive_root_radicals(2, a, b),
             "finetune: L=2 root by solve vs positive_root_radicals(2)", domain=RADICAL_DOMAIN),
        same(e["root_L3"], formulas.positive_root_radicals(3, a, b),
             "finetune: L=3 Cardano root vs positive_root_radicals(3)", domain=RADICAL_DOMAIN),
        holds("finetune: Cardano root satisfies x^3 - a x^2 - b = 0", cardano_satisfies_cubic()),
    ]
    for k, root in ((2, e["root_L2"]), (3, e["root_L3"])):
        out.append(same(root, formulas.PositiveRoot(k, a, b),
                        f"finetune: L={k} radical root vs PositiveRoot evalf", domain=RADICAL_DOMAIN,
                        symbolic=False))
    for k, root in ((2, e["root_L2"]), (3, e["root_L3"])):
        for var in (a, b):
            out.append(same(sp.diff(root, var), sp.diff(formulas.PositiveRoot(k, a, b), var),
                            f"finetune: d/d{var} of L={k} radical root vs PositiveRoot.fdiff",
                            domain=RADICAL_DOMAIN))
    for source in formulas.SOURCES:
        for k in (L, 2, 3, 4):
            derived = e[f"exact_{source}"] if k is L else risk(source, k)
            out.append(same(derived, formulas.finetune("exact", source, k),
                            f"finetune: exact, {source} source, L={k} vs finetune('exact')"))
        out.append(same(e[f"paper_{source}"], formulas.finetune("paper", source),
                        f"finetune: paper (c=1), {source} source vs finetune('paper')"))
    # Cardano / quadratic radicals in the full risk (numeric only: big radicals)
    for source in formulas.SOURCES:
        for k, radical in ((2, e["root_L2"]), (3, e["root_L3"])):
            norm2, _ = statistics(source)
            root = sp.piecewise_fold(radical.xreplace({a: 1 - gamma, b: inputs[bn2] / norm2}))
            out.append(same(risk(source, k, root=root), formulas.finetune("exact", source, k),
                            f"finetune: exact, {source} source, L={k} with radical root",
                            symbolic=False))
    paper_pop = sp.Piecewise((2 * (1 - gamma) * (1 - sp.cos(theta)) + sigma ** 2 * gamma / (1 - gamma),
                              gamma < 1), (sigma ** 2 / (gamma - 1), True))
    out.append(same(paper_pop, formulas.finetune("paper", "population"),
                    "finetune: paper form 2(1-gamma)(1-cos theta) + sigma^2 gamma/(1-gamma)"))
    out += _comparison_checks()
    return out
