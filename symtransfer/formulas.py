"""The expressions symtransfer ships, as sympy objects.

These are the *results*: ``python -m derivations`` derives each of them again from stated
primitives and checks that the derived and the shipped expression are symbolically identical,
and ``symtransfer.codegen`` prints them as the numpy and mpmath kernels in
``symtransfer/_kernels.py``. Nothing here is evaluated on the fast numeric path.

Notation (asymptotic, d -> infinity at fixed gamma = n/d; unit teacher norms):

* ``N_s = |beta_hat_s|^2`` and ``O_s = beta_hat_s . beta_t`` are the deterministic equivalents of
  the pretrained end-to-end vector's squared norm and its overlap with the target teacher
  (population pretraining: ``N_s = 1``, ``O_s = cos(theta)``).
* ``B = |X^+ y|^2`` is the squared norm of the target min-norm interpolator,
  ``gamma + sigma^2 gamma/(1-gamma)``.
"""
from __future__ import annotations

import mpmath
import sympy as sp

from ._roots import positive_root_mpmath
from .symbols import d, depth, gamma, gamma_s, lam, mu, sigma, sigma_s, theta

FORMS = ("exact", "paper")
SOURCES = ("population", "finite", "penalized")


def __getattr__(name: str):
    """``METHODS``: the registered method names (:mod:`symtransfer.methods`), read live."""
    if name == "METHODS":
        from . import methods

        return methods.names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class PositiveRoot(sp.Function):
    """``PositiveRoot(L, a, b)``: the unique positive root x of ``x**L - a*x**(L-1) - b``.

    Defined for an integer ``L >= 2``, real ``a`` and ``b > 0``: the polynomial has one sign
    change in its coefficients for either sign of ``a``, so by Descartes' rule exactly one
    positive root. It is the squared norm (relative to its pretrained value) of the first
    layer's left vector after fine-tuning; see :func:`finetune_scale`.
    ``doit()`` gives radicals for ``L = 2, 3``; ``evalf`` works at any precision.
    """

    nargs = 3

    @classmethod
    def eval(cls, L, a, b):  # noqa: D102 - sympy hook; stays unevaluated
        return None

    def doit(self, deep: bool = True, **hints):
        L, a, b = (arg.doit(deep=deep, **hints) if deep else arg for arg in self.args)
        if L in (2, 3):
            return positive_root_radicals(int(L), a, b)
        return self.func(L, a, b)

    def _eval_evalf(self, prec):
        L, a, b = (arg._to_mpmath(prec) if arg.is_number else None for arg in self.args)
        if L is None or a is None or b is None:
            return None
        with mpmath.workprec(prec):
            return sp.Float(positive_root_mpmath(int(L), a, b), precision=prec)

    def fdiff(self, argindex: int = 1):
        """Implicit differentiation of x**L - a x**(L-1) - b = 0 in a (2) or b (3)."""
        L, a, b = self.args
        x = self
        dfdx = L * x ** (L - 1) - a * (L - 1) * x ** (L - 2)
        if argindex == 2:
            return x ** (L - 1) / dfdx
        if argindex == 3:
            return 1 / dfdx
        raise sp.ArgumentIndexError(self, argindex)

    def _latex(self, printer, exp=None):
        L, a, b = self.args
        tex = r"\operatorname{root}_{+}\left[x^{%s} - \left(%s\right) x^{%s} - %s\right]" % (
            printer._print(L), printer._print(a), printer._print(L - 1),
            printer.parenthesize(b, 50))
        return tex if exp is None else r"\left(%s\right)^{%s}" % (tex, exp)


def positive_root_radicals(L: int, a, b):
    """Radical form of :class:`PositiveRoot` for L = 2 (quadratic formula) and L = 3 (Cardano).

    For L = 3 with ``a > 0, b > 0`` the cubic has one real root (its discriminant
    ``-4 a^3 b - 27 b^2`` is negative) and Cardano's two cube roots are of positive reals,
    ``u`` and ``a^2/(9u)``; the second is written that way to avoid cancellation.
    """
    if L == 2:
        return (a + sp.sqrt(a ** 2 + 4 * b)) / 2
    if L == 3:
        u = sp.cbrt(a ** 3 / 27 + b / 2 + sp.sqrt(a ** 3 * b / 27 + b ** 2 / 4))
        return a / 3 + u + a ** 2 / (9 * u)
    raise ValueError(f"no radical form for depth {L}")


def _noise_min_norm(g, s):
    """Asymptotic |X^+ eps|^2 of a min-norm interpolator (gamma < 1)."""
    return s ** 2 * g / (1 - g)


def _noise_least_squares(g, s):
    """Asymptotic |(X^T X)^{-1} X^T eps|^2 of least squares (gamma > 1)."""
    return s ** 2 / (g - 1)


def penalized_norm() -> sp.Expr:
    """b = |beta_hat_s| after penalized population pretraining of a depth-2 network, mu < 1.

    Pretraining minimizes ``E(f - y)^2 + mu |w - w_0|^2``; from a vanishing initialization the
    penalty is weight decay, which keeps the weights balanced and rank 1 with singular value s
    on every layer, so ``1/2 (s^L - 1)^2 + mu L s^2/2`` is minimized:
    ``s^(2L-2) - s^(L-2) + mu = 0``. For L = 2, ``b = s^2 = 1 - mu``. For mu >= 1 the origin is
    stable and the weights stay at the initialization (b = 0). For L >= 3 the origin is a local
    minimum for every mu > 0, so gradient flow from a vanishing initialization never leaves it:
    only depth 2 has a penalized-pretraining theory (derivations/penalty.py).
    """
    return 1 - mu


def source_statistics(source: str) -> tuple[sp.Expr, sp.Expr]:
    """``(N_s, O_s)``: squared norm of beta_hat_s and its overlap with beta_t.

    Population pretraining recovers beta_s exactly. Pretraining on n_s = gamma_s d noisy
    samples from small initialization reaches the min-norm interpolator (gamma_s < 1) or the
    least-squares solution (gamma_s > 1). Penalized population pretraining (depth 2, mu < 1)
    shrinks beta_s by ``b = 1 - mu`` without turning it.
    """
    if source == "population":
        return sp.Integer(1), sp.cos(theta)
    if source == "penalized":
        b = penalized_norm()
        return b ** 2, b * sp.cos(theta)
    if source != "finite":
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    norm2 = sp.Piecewise((gamma_s + _noise_min_norm(gamma_s, sigma_s), gamma_s < 1),
                         (1 + _noise_least_squares(gamma_s, sigma_s), True))
    overlap = sp.Piecewise((gamma_s * sp.cos(theta), gamma_s < 1), (sp.cos(theta), True))
    return norm2, overlap


def scratch() -> sp.Expr:
    """Asymptotic risk of the min-norm / least-squares solution on the target data."""
    return sp.Piecewise((1 - gamma + _noise_min_norm(gamma, sigma), gamma < 1),
                        (_noise_least_squares(gamma, sigma), True))


def stieltjes_mp(z: sp.Expr) -> sp.Expr:
    """m(z) = int dmu(x)/(x - z) for the Marchenko-Pastur law of X^T X/n (aspect d/n = 1/gamma),
    the root of ``psi z m^2 + (z - 1 + psi) m + 1 = 0`` (psi = 1/gamma) that decays like -1/z;
    it includes the atom of mass (1 - gamma) at 0 when gamma < 1."""
    psi = 1 / gamma
    return (1 - psi - z - sp.sqrt((1 - psi - z) ** 2 - 4 * psi * z)) / (2 * psi * z)


def ridge_scratch() -> sp.Expr:
    """Asymptotic risk of ridge regression on the target data, penalty lam > 0 on the mean loss:
    ``beta_hat = (X^T X/n + lam)^{-1} X^T y/n``.

    Bias ``lam^2 int dmu/(x+lam)^2 = lam^2 m'(-lam)``; variance
    ``sigma^2 psi int x dmu/(x+lam)^2 = sigma^2 psi (m(-lam) - lam m'(-lam))``, psi = 1/gamma.
    Written for floating point, with ``a = 1 - psi + lam`` and ``S = sqrt(a^2 + 4 psi lam)``:
    ``f = lam m(-lam)`` is ``2 lam/(a + S)`` (a >= 0) or ``(S - a)/(2 psi)`` (a < 0), whichever
    does not cancel; the bias ``lam^2 m' = f (lam + psi f)/S`` follows from differentiating
    the quadratic, and the variance integral ``m - lam m' = df/dlam = 2/(S (1 + psi + lam + S))``.
    No term cancels, also as lam -> 0 where the atom of mu at 0 makes m(-lam) ~ (1-gamma)/lam.
    ``1 - psi`` is written ``(gamma - 1)/gamma``: the difference is then exact near gamma = 1
    (and sympy keeps it a product instead of regrouping ``1 - 1/gamma`` with other terms).
    """
    psi = 1 / gamma
    a = (gamma - 1) / gamma + lam
    S = sp.sqrt(a ** 2 + 4 * psi * lam)
    f = sp.Piecewise((2 * lam / (a + S), a >= 0), ((S - a) / (2 * psi), True))
    return f * (lam + psi * f) / S + sigma ** 2 * psi * 2 / (S * (1 + psi + lam + S))


def optimal_ridge_penalty() -> sp.Expr:
    """lam* = sigma^2/gamma: dR/dlam = (lam - sigma^2 psi)(2 m' - lam m'') vanishes only there."""
    return sigma ** 2 / gamma


def optimal_ridge() -> sp.Expr:
    """Risk of ridge regression on the target at lam*: ``lam* m(-lam*)`` in closed form.

    Finite at gamma = 1 (no double-descent peak); (1 - gamma)_+ at sigma = 0.
    Written for floating point with ``s = gamma - 1 + sigma^2``: ``(sqrt(s^2 + 4 sigma^2) - s)/2``
    cancels for s > 0, where it equals ``2 sigma^2/(s (1 + sqrt(1 + (2 sigma/s)^2)))``, which
    neither cancels nor overflows in s^2 (gamma up to the float64 range).
    """
    shifted = gamma - 1 + sigma ** 2
    return sp.Piecewise(
        (2 * sigma ** 2 / (shifted * (1 + sp.sqrt(1 + (2 * sigma / shifted) ** 2))), shifted > 0),
        ((sp.sqrt(shifted ** 2 + 4 * sigma ** 2) - shifted) / 2, True))


def scratch_finite() -> sp.Expr:
    """Exact expected risk at finite n = gamma*d (Gaussian design), n <= d-2 or n >= d+2."""
    n = gamma * d
    return sp.Piecewise((1 - n / d + sigma ** 2 * n / (d - n - 1), n <= d - 2),
                        (sigma ** 2 * d / (n - d - 1), True))


def linear(source: str) -> sp.Expr:
    """Risk of refitting the readout (ridge penalty lam) on the frozen pretrained features.

    The features are one direction of scale ``a = N_s^((L-1)/(2L))``; the readout's
    coefficient on it shrinks by ``a^2/(a^2 + lam)``.
    """
    norm2, overlap = source_statistics(source)
    return 1 - overlap ** 2 / norm2 * ridge_shrinkage(norm2)


def ridge_shrinkage(norm2: sp.Expr) -> sp.Expr:
    """S = a^2 (a^2 + 2 lam)/(a^2 + lam)^2 with a^2 = N_s^((L-1)/L): the part of rho^2 that the
    ridge readout recovers (1 at lam = 0)."""
    a2 = norm2 ** ((depth - 1) / depth)
    return a2 * (a2 + 2 * lam) / (a2 + lam) ** 2


def linear_finite() -> sp.Expr:
    """Exact expected risk of ridgeless linear transfer at finite n (population source, n >= 3)."""
    n = gamma * d
    return sp.sin(theta) ** 2 + (sp.sin(theta) ** 2 + sigma ** 2) / (n - 2)


def finetune_scale(source: str, L) -> sp.Expr:
    """kappa: squared norm of W_1's left vector after fine-tuning, relative to pretraining.

    Root of ``kappa^L - (1-gamma) kappa^(L-1) - B/N_s``; the null-space part of beta_hat
    is ``c = kappa^((L-1)/2)`` times that of beta_hat_s.
    """
    norm2, _ = source_statistics(source)
    b = min_norm_squared_norm() / norm2
    return PositiveRoot(L, 1 - gamma, b)


def null_space_scale(form: str, source: str, L=depth) -> sp.Expr:
    """c: fine-tuning multiplies the null-space part of beta_hat_s by c (paper's form: 1)."""
    if form == "paper":
        return sp.Integer(1)
    if form == "exact":
        return finetune_scale(source, L) ** ((L - 1) / sp.Integer(2))
    raise ValueError(f"form must be one of {FORMS}, got {form!r}")


def min_norm_squared_norm() -> sp.Expr:
    """B = |X^+ y|^2 of the target min-norm interpolator (gamma < 1)."""
    return gamma + _noise_min_norm(gamma, sigma)


def optimal_pretrain_penalty(form: str) -> sp.Expr:
    """mu* maximizing fine-tuning transferability over the pretraining penalty (depth 2).

    With ``b = 1 - mu``, ``T = (1-gamma) c b (2 cos(theta) - c b)``: the best effective shrink
    is ``c b = cos(theta)``, ``T* = (1-gamma) cos(theta)^2``. Paper's form (c = 1):
    ``b* = cos(theta)``. Exact form: ``c^2 = kappa`` with
    ``kappa^2 - (1-gamma) kappa - B/b^2 = 0`` gives ``b*^2 = cos^4/((1-gamma) cos^2 + B)``.
    For theta >= pi/2 the best is to learn nothing (mu* = 1, T* = 0); for gamma >= 1 the
    target data decide alone (T = 0 for every mu; mu* = 0 is returned).
    """
    x = sp.cos(theta)
    if form == "paper":
        best = x
    elif form == "exact":
        best = x ** 2 / sp.sqrt((1 - gamma) * x ** 2 + min_norm_squared_norm())
    else:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    return sp.Piecewise((1 - best, sp.And(gamma < 1, theta <= sp.pi / 2)),
                        (1, gamma < 1), (0, True))


def best_penalized_transfer() -> sp.Expr:
    """T* = max over mu of fine-tuning transferability: ``(1-gamma)_+ cos(theta)_+^2``
    (either form; never negative: the best penalty removes negative transfer)."""
    return sp.Piecewise(((1 - gamma) * sp.cos(theta) ** 2,
                         sp.And(gamma < 1, theta <= sp.pi / 2)), (0, True))


def finetune(form: str, source: str, L=depth) -> sp.Expr:
    """Risk of fine-tuning all layers from the pretrained weights.

    ``form="paper"``: the published form, null-space part of beta_hat_s kept unchanged.
    ``form="exact"``: the null-space part is scaled by ``c = kappa^((L-1)/2)``.
    For gamma > 1 the target data pin beta_hat to least squares: the scratch risk.
    """
    norm2, overlap = source_statistics(source)
    c = null_space_scale(form, source, L)
    below = (1 - gamma) * (c ** 2 * norm2 - 2 * c * overlap + 1) + _noise_min_norm(gamma, sigma)
    return sp.Piecewise((below, gamma < 1), (_noise_least_squares(gamma, sigma), True))


def risk(method: str, *, form: str = "exact", source: str = "population", L=depth) -> sp.Expr:
    """The shipped asymptotic risk expression of ``method`` (built by its registered
    :class:`symtransfer.methods.Method`)."""
    from . import methods

    return methods.get(method).expression("risk", form=form, source=source, L=L)


def transferability(method: str, *, form: str = "exact", source: str = "population",
                    L=depth) -> sp.Expr:
    """T = R_scratch - R_method, folded branch by branch (the divergent noise terms cancel)."""
    from . import methods

    return methods.get(method).expression("transfer", form=form, source=source, L=L)


def _overlap_per_cos(source: str) -> sp.Expr:
    """O_s / cos(theta): the factor by which pretraining shrinks the overlap."""
    _, overlap = source_statistics(source)
    return sp.piecewise_fold(overlap / sp.cos(theta))


def phase_boundary(method: str, *, form: str = "exact", source: str = "population",
                   L=depth) -> sp.Expr:
    """theta* in [0, pi/2] on the phase boundary T = 0, solved in closed form (for the methods
    that have one: :func:`linear_phase_boundary`, :func:`finetune_phase_boundary`).

    Where T does not change sign the expression is not real (numerically: NaN).
    """
    from . import methods

    m = methods.get(method)
    if m.boundary_expr is None:
        names = ", ".join(repr(x.name) for x in methods.with_boundary())
        raise ValueError(f"phase boundaries exist for {names}, got {method!r}")
    return m.expression("boundary", form=form, source=source, L=L)


def linear_phase_boundary(source: str) -> sp.Expr:
    """theta* of linear/ridge transfer.

    ``T = R_scratch - 1 + cos^2(theta) k^2 S / N_s`` with
    ``S = a^2 (a^2 + 2 lam)/(a^2 + lam)^2`` and ``k = O_s/cos(theta)``, so
    ``cos^2 theta* = (1 - R_scratch) N_s / (k^2 S)``; T > 0 for theta < theta* and for
    theta > pi - theta*.
    """
    norm2, _ = source_statistics(source)
    k = _overlap_per_cos(source)
    return sp.acos(sp.sqrt(sp.piecewise_fold(
        (1 - scratch()) * norm2 / (k ** 2 * ridge_shrinkage(norm2)))))


def finetune_phase_boundary(form: str, source: str, L=depth) -> sp.Expr:
    """theta* of fine-tuning.

    For gamma < 1, ``T = (1-gamma) c (2 k cos theta - c N_s)``, so ``cos theta* = c N_s / (2 k)``;
    T > 0 for theta < theta*. For gamma > 1, T = 0 identically (NaN).
    """
    norm2, _ = source_statistics(source)
    k = _overlap_per_cos(source)
    c = null_space_scale(form, source, L)
    return sp.Piecewise((sp.acos(sp.piecewise_fold(c * norm2 / (2 * k))), gamma < 1),
                        (sp.nan, True))
