"""Teacher profiles: how the energy of the unit teachers spreads over Sigma's eigendirections.

With inputs ``x ~ N(0, Sigma)`` (:mod:`symtransfer.spectra`) the risks depend on the teachers
only through their energy per eigendirection. A profile gives, per atom ``lambda_k`` of the
spectrum, the *relative energy density* ``rho_k`` (energy in that direction divided by the
uniform 1/d, so ``E[rho] = sum_k w_k rho_k = 1``); source and target teacher share it (their
overlap ``beta_s . beta_t = cos(theta)`` spreads with the same profile):

* :data:`GENERIC` (``teacher="generic"``, the default): uniformly random orientation relative
  to the eigenvectors, ``rho = 1``;
* :class:`Aligned` ``(power)``: energy ``proportional to lambda**power``,
  ``rho = lambda^p / E[lambda^p]`` -- the *source condition* of scaling-law theory
  (``power > 0``: the teacher lives in the top of the spectrum, ``power < 0``: in its tail;
  ``power = 0`` is the generic profile).

Every spectral average of :mod:`symtransfer.anisotropic` that comes from a teacher (the bias
``E[l (k/(l+k))^2]``, the row-space share ``E[l/(l+k)]`` of fine-tuning, the variance ``E[l]``
of the target function) is then ``E[rho f(lambda)]`` instead of ``E[f(lambda)]``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np


class Teacher:
    """Base class of a teacher profile; subclasses define :meth:`log_energy`."""

    name = "teacher"

    def log_energy(self, eigenvalues: np.ndarray) -> np.ndarray:
        """log of the (unnormalized) energy per direction with eigenvalue ``eigenvalues``."""
        raise NotImplementedError

    def density(self, eigenvalues: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """``rho_k``: relative energy density per atom, normalized to ``sum_k w_k rho_k = 1``
        (computed in log space, so wide spectra and large powers do not overflow)."""
        log_e = self.log_energy(np.asarray(eigenvalues, dtype=float))
        e = np.exp(log_e - log_e.max())
        return e / float(weights @ e)

    def energies(self, eigenvalues: np.ndarray) -> np.ndarray:
        """Energy per coordinate of a unit teacher in Sigma's eigenbasis (d eigenvalues in,
        d energies out, summing to 1): what the simulator draws its teachers with."""
        lam = np.asarray(eigenvalues, dtype=float)
        return self.density(lam, np.full(lam.shape, 1.0 / lam.size)) / lam.size


class Generic(Teacher):
    """Uniformly random orientation relative to Sigma's eigenvectors (rho = 1)."""

    name = "generic"

    def log_energy(self, eigenvalues: np.ndarray) -> np.ndarray:
        return np.zeros(np.shape(eigenvalues))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Generic)

    def __hash__(self) -> int:
        return hash("generic")

    def __repr__(self) -> str:
        return "Generic()"


class Aligned(Teacher):
    """Energy per eigendirection proportional to ``eigenvalue**power`` (the source condition)."""

    name = "aligned"

    def __init__(self, power: float) -> None:
        if isinstance(power, bool) or not isinstance(power, (int, float, np.integer,
                                                             np.floating)):
            raise TypeError(f"power must be a real number, got {type(power).__name__}")
        if not math.isfinite(float(power)):
            raise ValueError(f"power must be finite, got {power!r}")
        self.power = float(power)

    def log_energy(self, eigenvalues: np.ndarray) -> np.ndarray:
        return self.power * np.log(eigenvalues)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Aligned) and other.power == self.power

    def __hash__(self) -> int:
        return hash(("aligned", self.power))

    def __repr__(self) -> str:
        return f"Aligned(power={self.power!r})"


GENERIC = Generic()


def profile(teacher: Any) -> Teacher:
    """The profile named by ``teacher``: ``"generic"`` (or None) or a :class:`Teacher`."""
    if teacher is None or (isinstance(teacher, str) and teacher == "generic"):
        return GENERIC
    if isinstance(teacher, Teacher):
        return teacher
    if isinstance(teacher, str):
        raise ValueError(f"teacher must be 'generic' or a symtransfer.teachers profile such as "
                         f"Aligned(power), got {teacher!r}")
    raise TypeError(f"teacher must be 'generic' or a symtransfer.teachers.Teacher, got "
                    f"{type(teacher).__name__}")
