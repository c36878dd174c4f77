"""Where fine-tuning ends, predicted per instance from gradient flow's conservation laws.

Pretraining from small initialization gives balanced rank-1 weights. Gradient flow on the
target keeps them balanced rank-1 (``W_1 = w u_2^T``, ``|w| = s_2 = ... = s_L``, so
``beta_hat = |w|^(L-1) w``) and never moves ``P_perp W_1`` (P_perp: null space of the target
design). With ``b = X^+ y`` the interpolating row-space part, ``q = |w|^2`` solves
``q^L - m^2 q^(L-1) - |b|^2 = 0`` (``m^2 = |P_perp w|^2``), and

    beta_hat = b + c P_perp beta_hat_s,   c = (q / s0^2)^((L-1)/2),   s0 = |beta_hat_s|^(1/L).

The paper's form takes ``c = 1``. These finite-d predictions, from the same data as a
simulation, let tests compare every run with each form instance by instance.
"""
from __future__ import annotations

import numpy as np

from .._roots import positive_root, probed_root
from .data import Problem


def _split(problem: Problem, beta_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(b, P_perp beta_s): the interpolator X^+ y and the null-space part of beta_s."""
    V = problem.basis
    b = np.einsum("kdr,kr->kd", V, problem.target)
    row = np.einsum("kdr,kr->kd", V, np.einsum("kdr,kd->kr", V, beta_s))
    return b, beta_s - row


def finetune_endpoint(beta_s: np.ndarray, problem: Problem, depth: int,
                      form: str = "exact") -> np.ndarray:
    """Predicted fine-tuned beta_hat (K, d) from pretrained beta_hat_s (K, d) and target data.

    For n >= d (no null space) both forms give the least-squares solution.
    """
    b, perp = _split(problem, beta_s)
    if form == "paper":
        return b + perp
    if form != "exact":
        raise ValueError(f"form must be 'exact' or 'paper', got {form!r}")
    norm_s = np.linalg.norm(beta_s, axis=1)
    s0_sq = norm_s ** (2.0 / depth)
    m_sq = s0_sq * np.einsum("kd,kd->k", perp, perp) / norm_s ** 2
    q = positive_root(depth, m_sq, np.einsum("kd,kd->k", b, b))
    c = (q / s0_sq) ** ((depth - 1) / 2)
    return b + c[:, None] * perp


def probe_coefficient(beta_s: np.ndarray, problem: Problem) -> np.ndarray:
    """The linear probe's least-squares coefficient t (K,) on the feature direction
    ``u = beta_s/|beta_s|``: ``t = (X u)^T y / |X u|^2``, from the problem alone
    (``X^T X/n = V diag(lam) V^T``, ``X^T y/n = V diag(lam) z*``)."""
    u = beta_s / np.linalg.norm(beta_s, axis=1)[:, None]
    zu = problem.to_coordinates(u)
    return (np.einsum("kr,kr,kr->k", problem.curvature, zu, problem.target)
            / np.einsum("kr,kr,kr->k", problem.curvature, zu, zu))


def lp_ft_endpoint(beta_s: np.ndarray, problem: Problem, depth: int,
                   form: str = "exact") -> np.ndarray:
    """Predicted LP-FT beta_hat (K, d): probe, then fine-tune (``derivations/lp_ft.py``).

    The probe sets the readout to ``(t/s0^(L-1)) u_L``, so the last imbalance is
    ``delta = s0^2 (1 - r)``, ``r = t^2/|beta_s|^2``; the flow conserves it, keeps
    ``|w|^2 = s_2^2 = ... = s_(L-1)^2 = q`` and ``s_L^2 = q - delta``, so interpolation and the
    frozen ``|P_perp w|^2 = m^2`` give ``q^(L-2) (q - delta) (q - m^2) = |b|^2`` and
    ``beta_hat = b + c P_perp beta_s``, ``c = sign(t) sqrt(q^(L-2) (q - delta)) / s0^(L-1)``.
    For n >= d (no null space) it is the least-squares solution.
    """
    if form != "exact":
        raise ValueError(f"form must be 'exact' for LP-FT, got {form!r}")
    b, perp = _split(problem, beta_s)
    if problem.rank >= beta_s.shape[1]:
        return b
    norm_s = np.linalg.norm(beta_s, axis=1)
    s0_sq = norm_s ** (2.0 / depth)
    t = probe_coefficient(beta_s, problem)
    delta = s0_sq * (1 - t ** 2 / norm_s ** 2)
    m_sq = s0_sq * np.einsum("kd,kd->k", perp, perp) / norm_s ** 2
    q = probed_root(depth, delta, m_sq, np.einsum("kd,kd->k", b, b))
    c = np.sign(t) * np.sqrt(q ** (depth - 2) * (q - delta) / s0_sq ** (depth - 1))
    return b + c[:, None] * perp


def endpoint_distances(result) -> dict[str, np.ndarray]:
    """Per-instance distance |beta_hat - predicted| of a simulation to the endpoint its method
    predicts in closed form (:attr:`symtransfer.methods.Method.endpoint`; fine-tuning: each
    form, 'exact' and 'paper'; LP-FT: :func:`lp_ft_endpoint`), on the same (regenerated) target data (for any input
    covariance: the conservation laws hold for every design)."""
    from .. import methods
    from .data import sample_problem
    from .pipeline import instance_streams, target_data

    method = methods.get(result.method)
    if method.endpoint is None:
        having = ", ".join(repr(m.name) for m in methods.all_methods() if m.endpoint)
        raise ValueError(f"endpoint predictions exist for method={having} only")
    p = result.params
    if getattr(result, "covariance", None) is not None:  # anisotropic inputs: same draws
        from .pipeline import _samples, target_design

        design = target_design(p["seed"], result.instances, p["d"],
                               _samples(p["gamma"], p["d"], "gamma"), result.covariance)
        problem = sample_problem(design.X, design.labels(result.beta_target, p["sigma"]))
    else:
        X, y = target_data(instance_streams(p["seed"], result.instances), d=p["d"],
                           gamma=p["gamma"], theta=p["theta"] or 0.0, sigma=p["sigma"])
        problem = sample_problem(X, y)
    return {form: np.linalg.norm(result.beta_hat - method.endpoint(
        result.beta_source, problem, p["depth"], form), axis=1)
        for form in method.endpoint_forms}
