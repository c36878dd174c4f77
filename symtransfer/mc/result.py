"""What a simulation returns: per-instance errors, their summary, and training diagnostics."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


class ConvergenceError(RuntimeError):
    """Raised when a summary is asked of a simulation in which training did not converge."""


@dataclass
class SimulationResult:
    """Monte-Carlo estimate of a risk.

    ``errors[k] = |beta_hat - beta_t|^2`` for instance k; ``converged[k]`` is False if any training
    phase of instance k hit its step limit or diverged. ``mean`` and ``sem`` refuse to summarize
    (ConvergenceError) unless every instance converged; ``diagnostics`` maps each phase
    ('pretrain', 'train', 'finetune', 'readout') to per-instance arrays (steps, error, loss, ...).
    ``beta_hat`` (K, d) holds the trained end-to-end vectors and ``beta_source`` (K, d) the
    pretrained ones (None for scratch); the teachers are ``beta_s = e_1`` and
    ``beta_t = cos(theta) e_1 + sin(theta) e_2`` (with a spectrum: drawn per instance,
    ``beta_target``). ``trajectory`` (with ``simulate(record=...)``)
    holds the training state of the target phase at recorded times
    (:class:`symtransfer.mc.optimizers.Recorder`).
    """

    method: str
    params: dict[str, Any]
    errors: np.ndarray
    converged: np.ndarray
    diagnostics: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    beta_hat: np.ndarray | None = field(default=None, repr=False)
    beta_source: np.ndarray | None = field(default=None, repr=False)
    trajectory: dict[str, np.ndarray] | None = field(default=None, repr=False)
    #: with ``spectrum=`` / ``source_spectrum=``: the per-instance target teachers (K, d) and
    #: the :class:`~symtransfer.mc.covariance.Covariance` (errors are then in the Sigma-norm)
    beta_target: np.ndarray | None = field(default=None, repr=False)
    covariance: Any = field(default=None, repr=False)

    @property
    def instances(self) -> int:
        return int(self.errors.shape[0])

    def _require_converged(self) -> None:
        if not self.converged.all():
            bad = np.flatnonzero(~self.converged)
            raise ConvergenceError(
                f"{bad.size} of {self.instances} instances did not converge (instances "
                f"{bad.tolist()[:10]}); see .converged and .diagnostics, or raise max_steps")

    @property
    def mean(self) -> float:
        """Mean error over instances (all must have converged)."""
        self._require_converged()
        return float(self.errors.mean())

    @property
    def sem(self) -> float:
        """Standard error of the mean, std(ddof=1)/sqrt(instances)."""
        self._require_converged()
        if self.instances < 2:
            return float("nan")
        return float(self.errors.std(ddof=1) / np.sqrt(self.instances))

    def __repr__(self) -> str:
        if self.converged.all():
            summary = f"mean={self.mean:.5f} +- {self.sem:.5f}"
        else:
            summary = f"{int((~self.converged).sum())} of {self.instances} NOT converged"
        return f"SimulationResult({self.method!r}, {summary}, instances={self.instances})"
