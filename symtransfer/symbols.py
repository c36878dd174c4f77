"""The sympy symbols of symtransfer, with the assumptions the theory needs.

Every expression that symtransfer ships or derives is written in these symbols, so that
expressions from different modules (and from users, matched by name in :mod:`symtransfer.parsing`) combine.
Importing this module imports sympy; the numeric path of :func:`symtransfer.risk` never does.
"""
from __future__ import annotations

import sympy as sp

#: n/d, target samples per dimension.
gamma = sp.Symbol("gamma", positive=True)
#: angle between source and target teachers; cos(theta) = beta_s . beta_t.
theta = sp.Symbol("theta", nonnegative=True)
#: target label-noise standard deviation.
sigma = sp.Symbol("sigma", nonnegative=True)
#: ridge penalty of the readout refit (penalty n*lam*|W_L|^2 on the summed squared loss).
lam = sp.Symbol("lambda", nonnegative=True)
#: depth L of the deep linear network.
depth = sp.Symbol("L", integer=True, positive=True)
#: n_s/d, source samples per dimension (finite-source pretraining).
gamma_s = sp.Symbol("gamma_s", positive=True)
#: source label-noise standard deviation.
sigma_s = sp.Symbol("sigma_s", nonnegative=True)
#: strength of the pretraining penalty: pretraining minimizes
#: ``E(f(x) - y)^2 + mu |w - w_0|^2`` (w: all weights, w_0 their initialization).
mu = sp.Symbol("mu", nonnegative=True)
#: finite-size sample count and dimension.
n = sp.Symbol("n", integer=True, positive=True)
d = sp.Symbol("d", integer=True, positive=True)

#: parameter name (as used by the public API) -> symbol.
BY_NAME: dict[str, sp.Symbol] = {
    "gamma": gamma,
    "theta": theta,
    "sigma": sigma,
    "lam": lam,
    "depth": depth,
    "gamma_s": gamma_s,
    "sigma_s": sigma_s,
    "mu": mu,
    "n": n,
    "d": d,
}

#: names for *trusted* strings given to :func:`sympy.sympify` in symtransfer's own code and
#: tests (``"gamma"`` would otherwise be the Gamma function). User text never goes through
#: sympify: :mod:`symtransfer.parsing` reads it safely.
NAMES: dict[str, sp.Basic] = {
    **BY_NAME,
    "lambda": lam,
    "L": depth,
    "pi": sp.pi,
}
