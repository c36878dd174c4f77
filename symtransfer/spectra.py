"""Input covariance spectra: x ~ N(0, Sigma) with Sigma's eigenvalues given by the user.

A spectrum is a finite mixture of atoms: eigenvalue ``lambda_k`` with weight ``w_k`` (the
fraction of the d eigenvalues equal to it; weights sum to 1). Every theory quantity enters
through averages over it, ``E[f(lambda)] = sum_k w_k f(lambda_k)``, and through the
self-consistent **kappa** of min-norm / ridge regression on n = gamma d samples
(deterministic equivalent; e.g. Hastie, Montanari, Rosset, Tibshirani 2022):

    lam = kappa (1 - E[lambda/(lambda + kappa)] / gamma),        kappa >= lam,

with ``lam`` the ridge penalty on the mean squared loss. At ``lam = 0``: for gamma < 1 kappa
is the positive root of ``E[lambda/(lambda + kappa)] = gamma``; for gamma >= 1, kappa = 0
(least squares). One atom at 1 gives the isotropic ``kappa = (1 - gamma)/gamma``.

* :class:`Discrete` -- atoms and weights as given (exact, fast);
* :class:`PowerLaw` -- ``lambda_k = k**(-exponent)``, k = 1..atoms, equal weights, rescaled to
  mean 1 (``normalize=True``): the spectrum of scaling-law theory with a cut-off at ``atoms``;
* :class:`Empirical` -- the eigenvalues of a data set's covariance, equal weights.

Each evaluates kappa and the spectral averages in float64 (vectorized Newton iteration on a
bracket) or with mpmath at any precision, and gives ``d`` eigenvalues for the simulator
(:meth:`Spectrum.diagonal`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

_CHUNK = 1 << 16  # points per block in the vectorized solver (memory: CHUNK x atoms)


def _atoms(values: Any, what: str) -> np.ndarray:
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{what} must be a sequence of numbers, got a string")
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a sequence of numbers") from None
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise TypeError(f"{what} must be real numbers, got dtype {arr.dtype}")
    arr = arr.astype(float).ravel()
    if arr.size == 0:
        raise ValueError(f"{what} is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} must be finite")
    return arr


class Spectrum:
    """Base class: ``eigenvalues`` (atoms, > 0) and ``weights`` (> 0, summing to 1)."""

    eigenvalues: np.ndarray
    weights: np.ndarray

    def __init__(self, eigenvalues: Any, weights: Any = None) -> None:
        lam = _atoms(eigenvalues, "eigenvalues")
        if np.any(lam <= 0):
            raise ValueError("eigenvalues must be positive (Sigma must be positive definite), "
                             f"got min {lam.min():g}")
        if weights is None:
            w = np.full(lam.shape, 1.0 / lam.size)
        else:
            w = _atoms(weights, "weights")
            if w.shape != lam.shape:
                raise ValueError(f"weights must match eigenvalues: {w.size} vs {lam.size}")
            if np.any(w <= 0):
                raise ValueError("weights must be positive")
            if abs(w.sum() - 1) > 1e-12:
                raise ValueError(f"weights must sum to 1, got {float(w.sum()):.17g}")
        order = np.argsort(lam)
        self.eigenvalues, self.weights = lam[order], w[order]

    # ------------------------------------------------------------------ averages
    @property
    def mean(self) -> float:
        """E[lambda] = tr(Sigma)/d: the target's variance for a generic unit teacher."""
        return float(self.weights @ self.eigenvalues)

    def moment(self, k: float) -> float:
        """E[lambda^k]."""
        return float(self.weights @ self.eigenvalues ** k)

    def average(self, f) -> np.ndarray:
        """E[f(lambda)] for ``f`` mapping the (..., atoms) eigenvalue array elementwise."""
        return f(self.eigenvalues) @ self.weights

    # ------------------------------------------------------------------ kappa
    def kappa(self, gamma: Any, lam: Any = 0.0) -> np.ndarray:
        """The self-consistent kappa at ``gamma`` (n/d) and ridge penalty ``lam`` (float64,
        broadcast); 0 where gamma >= 1 and lam = 0."""
        g, l_ = np.broadcast_arrays(np.asarray(gamma, dtype=float), np.asarray(lam, dtype=float))
        out = np.empty(g.shape)
        flat_g, flat_l, flat_o = g.ravel(), l_.ravel(), out.ravel()
        for start in range(0, flat_g.size, _CHUNK):
            sl = slice(start, start + _CHUNK)
            flat_o[sl] = self._kappa_block(flat_g[sl], flat_l[sl])
        return out.reshape(g.shape) if out.ndim else float(out)

    def _kappa_block(self, g: np.ndarray, lam: np.ndarray) -> np.ndarray:
        k = np.zeros(g.shape)
        active = (lam > 0) | (g < 1)
        if not np.any(active):
            return k
        ga, la = g[active], lam[active]
        closed = la == 0
        if self.eigenvalues.size <= 2 and np.any(closed):
            k_closed = self._kappa_closed(ga[closed])
            out = np.empty(ga.shape)
            out[closed] = k_closed
            if np.any(~closed):
                out[~closed] = self._kappa_newton(ga[~closed], la[~closed])
            k[active] = out
            return k
        k[active] = self._kappa_newton(ga, la)
        return k

    def _kappa_closed(self, g: np.ndarray) -> np.ndarray:
        """Ridgeless kappa for one or two atoms in closed form: with one atom
        ``kappa = l (1-gamma)/gamma``; with two, the positive root of
        ``gamma k^2 + (gamma (l1 + l2) - m1) k - (1-gamma) l1 l2 = 0`` (from clearing the
        denominators of E[l/(l+k)] = gamma), written without cancellation."""
        ev = self.eigenvalues
        if ev.size == 1:
            return ev[0] * (1 - g) / g
        l1, l2 = ev
        b = g * (l1 + l2) - self.mean
        c = (1 - g) * l1 * l2
        disc = np.sqrt(b * b + 4 * g * c)
        # positive root: (-b + disc)/(2g) = 2c/(b + disc) when b > 0
        return np.where(b > 0, 2 * c / (b + disc), (disc - b) / (2 * g))

    def _kappa_newton(self, g: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """kappa solves F(k) = E[k/(l+k)] - (1 - gamma) - gamma lam/k = 0 (the fixed point
        divided by kappa/gamma: no cancellation as gamma -> 1). F increases from F < 0 at
        ``lo`` (lam, or l_min (1-gamma)/gamma when lam = 0) to F > 0 at ``hi``
        (l_max (1-gamma)_+/gamma + lam + l_max); Newton's method in log k, safeguarded by
        bisection of that bracket, finds the root for any spread of the spectrum."""
        ev, w = self.eigenvalues, self.weights
        one_minus = 1 - g
        u_lo = np.log(np.where(lam > 0, lam, ev[0] * np.maximum(one_minus, 0) / g))
        u_hi = np.log(ev[-1] * np.maximum(one_minus, 0) / g + lam + ev[-1])
        u = 0.5 * (u_lo + u_hi)
        todo = np.ones(u.shape, dtype=bool)
        for _ in range(300):
            us, gs, ls, om = u[todo], g[todo], lam[todo], one_minus[todo]
            xs = np.exp(us)
            r = xs[:, None] / (ev + xs[:, None])          # k/(l+k)
            F = r @ w - om - gs * ls / xs
            dG = ((1 - r) * r) @ w + gs * ls / xs         # dF/du = k dF/dk
            lo, hi = u_lo[todo], u_hi[todo]
            lo = np.where(F < 0, us, lo)
            hi = np.where(F > 0, us, hi)
            new = us - F / np.maximum(dG, 1e-300)
            outside = ~((new > lo) & (new < hi))
            new = np.where(outside, 0.5 * (lo + hi), new)
            u_lo[todo], u_hi[todo], u[todo] = lo, hi, new
            still = (np.abs(new - us) > 1e-15) & (F != 0)
            idx = np.flatnonzero(todo)
            todo[idx[~still]] = False
            if not todo.any():
                break
        return np.exp(u)

    def kappa_mp(self, gamma: Any, lam: Any = 0, *, dps: int = 50):
        """kappa with mpmath at ``dps`` digits (:func:`solve_kappa_mp`: bisection of the same
        bracket in log k as the float64 solver, then Newton steps)."""
        import mpmath

        with mpmath.workdps(dps + 10):
            g, la = mpmath.mpf(gamma), mpmath.mpf(lam)
            ev = [mpmath.mpf(float(v)) for v in self.eigenvalues]
            w = [mpmath.mpf(float(v)) for v in self.weights]
            return solve_kappa_mp(ev, w, g, la)

    def functionals(self, gamma: Any, lam: Any = 0.0) -> dict[str, np.ndarray]:
        """kappa and the averages the risks need, float64:
        ``df1 = E[l/(l+k)]``, ``df2 = E[l^2/(l+k)^2]``, ``bias = E[l/(l+k)^2]`` and
        ``kbias = kappa^2 E[l/(l+k)^2] = E[l (k/(l+k))^2]`` (finite also where kappa^2
        overflows, as gamma -> 0)."""
        k = np.asarray(self.kappa(gamma, lam), dtype=float)
        flat = k.ravel()
        out = {name: np.empty(flat.shape) for name in ("df1", "df2", "bias", "kbias")}
        ev, w = self.eigenvalues, self.weights
        for start in range(0, flat.size, _CHUNK):
            sl = slice(start, start + _CHUNK)
            kk = flat[sl][:, None]
            r = ev / (ev + kk)
            out["df1"][sl] = r @ w
            out["df2"][sl] = (r * r) @ w
            out["bias"][sl] = (r / (ev + kk)) @ w
            out["kbias"][sl] = (ev * (1 - r) ** 2) @ w
        res = {name: v.reshape(k.shape) for name, v in out.items()}
        res["kappa"] = k
        return res

    # ------------------------------------------------------------------ simulator
    def diagonal(self, d: int) -> np.ndarray:
        """d eigenvalues realizing the spectrum: atom k fills round(w_k d) slots (largest
        remainders get the rest), largest eigenvalues first."""
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise ValueError(f"d must be a positive integer, got {d!r}")
        raw = self.weights * d
        counts = np.floor(raw).astype(int)
        rest = d - counts.sum()
        if rest:
            counts[np.argsort(-(raw - counts))[:rest]] += 1
        return np.repeat(self.eigenvalues, counts)[::-1].copy()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.eigenvalues.size} atoms, mean "
                f"{self.mean:.4g}, range [{self.eigenvalues[0]:.3g}, {self.eigenvalues[-1]:.3g}])")


class Discrete(Spectrum):
    """A finite mixture of atoms: eigenvalue ``eigenvalues[k]`` on a fraction ``weights[k]``
    of the directions (default: equal weights)."""


class Empirical(Spectrum):
    """The eigenvalues of a data set's covariance (equal weights); zero or negative
    eigenvalues are refused (use a regularized covariance)."""

    def __init__(self, eigenvalues: Any) -> None:
        super().__init__(eigenvalues)

    @classmethod
    def from_data(cls, X: Any) -> "Empirical":
        """The spectrum of the sample covariance of the rows of ``X`` (n x d, n >= d)."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[0] < X.shape[1]:
            raise ValueError("X must be n x d with n >= d (a full-rank sample covariance)")
        Xc = X - X.mean(axis=0)
        return cls(np.linalg.eigvalsh(Xc.T @ Xc / (X.shape[0] - 1)))


@dataclass(frozen=True)
class _PowerLawSpec:
    exponent: float
    atoms: int
    normalize: bool


class PowerLaw(Spectrum):
    """``lambda_k = k**(-exponent)`` for k = 1..``atoms`` (the cut-off), equal weights;
    ``normalize=True`` (default) rescales to mean 1, so that a generic unit teacher's target
    variance is 1 as in the isotropic model."""

    def __init__(self, exponent: float, atoms: int = 1000, normalize: bool = True) -> None:
        if isinstance(exponent, bool) or not isinstance(exponent, (int, float, np.floating)) \
                or not math.isfinite(exponent) or exponent < 0:
            raise ValueError(f"exponent must be a finite number >= 0, got {exponent!r}")
        if isinstance(atoms, bool) or not isinstance(atoms, (int, np.integer)) or atoms < 1:
            raise ValueError(f"atoms must be a positive integer, got {atoms!r}")
        lam = np.arange(1, atoms + 1, dtype=float) ** (-float(exponent))
        if normalize:
            lam = lam / lam.mean()
        self.spec = _PowerLawSpec(float(exponent), int(atoms), bool(normalize))
        super().__init__(lam)


def solve_kappa_mp(ev, w, gamma, lam=0):
    """kappa at the working precision from atoms ``ev`` and weights ``w`` (sequences of mpf):
    bisection in log k of the cancellation-free ``F(k) = E[k/(l+k)] - (1-gamma) - gamma lam/k``
    on the bracket of :meth:`Spectrum._kappa_newton` to half the digits (20 guard bits), then
    Newton steps, which converge quadratically from there; 0 for gamma >= 1 at lam = 0."""
    import mpmath

    g, la = mpmath.mpf(gamma), mpmath.mpf(lam)
    if la == 0 and g >= 1:
        return mpmath.mpf(0)
    om = 1 - g

    def F(k):
        return mpmath.fsum(wi * k / (li + k) for li, wi in zip(ev, w)) - om - g * la / k

    def dF(k):
        return mpmath.fsum(wi * li / (li + k) ** 2 for li, wi in zip(ev, w)) + g * la / k ** 2

    lmin, lmax = min(ev), max(ev)
    lo = mpmath.log(la if la > 0 else lmin * om / g)
    hi = mpmath.log(lmax * max(om, 0) / g + la + lmax)
    with mpmath.workprec(mpmath.mp.prec + 20):
        while hi - lo > mpmath.mpf(2) ** (-mpmath.mp.prec // 2):
            mid = (lo + hi) / 2
            if F(mpmath.exp(mid)) > 0:
                hi = mid
            else:
                lo = mid
        k = mpmath.exp((lo + hi) / 2)
        for _ in range(4):
            k -= F(k) / dF(k)
    return +k
