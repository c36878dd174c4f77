"""Anisotropic inputs for the simulator: x ~ N(0, Sigma), generic or aligned teachers.

Everything is simulated in Sigma's eigenbasis, where ``Sigma = diag(lambda)`` with the d
eigenvalues of ``spectrum.diagonal(d)`` (rotating inputs and teachers together changes no
risk). The source inputs have their own spectrum (``source_spectrum``, covariate shift) on the
*same* eigenvectors, ``Sigma_s = diag(lambda_s)``; by default Sigma_s = Sigma.

* target data: ``X = Z diag(sqrt(lambda))`` with ``Z`` the standard Gaussian draws of the
  isotropic simulator (the same stream), labels ``y = X beta_t + sigma eps``;
* teachers, one pair per instance from its own seeded stream (:func:`teacher_streams`): unit
  ``beta_s`` and ``beta_t = cos(theta) beta_s + sin(theta) u`` with ``u`` a unit vector
  orthogonal to ``beta_s``. *Generic* profile: ``beta_s`` and ``u`` are normalized Gaussian
  vectors (``u`` orthogonalized first), i.e. uniformly random relative to the eigenvectors.
  *Aligned* profile (:mod:`symtransfer.teachers`): coordinate i carries energy ``e_i``
  (proportional to ``lambda_i**power``, summing to 1) with a random sign, ``beta_s = s * sqrt(e)``,
  and ``u`` is the same construction with independent signs, orthogonalized and normalized;
  ``beta_s`` and ``u`` are drawn independently of theta, so a sweep over theta is paired;
* population pretraining minimizes ``(w - beta_s)^T Sigma_s (w - beta_s)/2`` (a
  :class:`~symtransfer.mc.data.Problem` with identity basis and curvature ``lambda_s``), a
  finite source uses ``X_s = Z_s diag(sqrt(lambda_s))``;
* the error is in the target's own norm, ``(beta_hat - beta_t)^T Sigma (beta_hat - beta_t)``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..spectra import Spectrum
from ..teachers import Generic, Teacher, profile
from .data import Problem, sample_problem

#: spawn-key suffix of the teacher streams: independent of the pipeline's other streams
#: (``SeedSequence(seed, spawn_key=(k,)).spawn(...)`` uses suffixes 0, 1, 2, ...).
TEACHER_KEY = 0x7EAC4E


class Covariance:
    """Target and source input covariances (diagonal, d entries) and the teacher profile.

    Equal (and hashing equal) when the diagonals and the profile are equal, so the
    simulator's caches (target designs, pretrained weights) are shared between simulations
    with the same inputs.
    """

    def __init__(self, target: np.ndarray, source: np.ndarray, teacher: Teacher) -> None:
        self.target = np.ascontiguousarray(target, dtype=float)
        self.source = np.ascontiguousarray(source, dtype=float)
        self.teacher = teacher
        for array in (self.target, self.source):
            array.flags.writeable = False
        self._key = (self.target.tobytes(), self.source.tobytes(), teacher)

    @property
    def d(self) -> int:
        return int(self.target.size)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Covariance) and other._key == self._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return (f"Covariance(d={self.d}, target mean {self.target.mean():.4g}, source mean "
                f"{self.source.mean():.4g}, {self.teacher!r})")

    # ------------------------------------------------------------------ teachers
    def teachers(self, seed: int, instances: int,
                 theta: float) -> tuple[np.ndarray, np.ndarray]:
        """``(beta_s, beta_t)``, each (K, d): the teacher pair of every instance."""
        rngs = teacher_streams(seed, instances)
        energies = None if isinstance(self.teacher, Generic) else \
            self.teacher.energies(self.target)
        pairs = [_teacher_pair(rng, self.d, energies) for rng in rngs]
        beta_s = np.stack([p[0] for p in pairs])
        u = np.stack([p[1] for p in pairs])
        return beta_s, np.cos(theta) * beta_s + np.sin(theta) * u

    # ------------------------------------------------------------------ data
    def scale_target(self, X: np.ndarray) -> np.ndarray:
        """Standard Gaussian rows (..., d) -> rows with covariance Sigma."""
        return X * np.sqrt(self.target)

    def source_problem(self, beta_s: np.ndarray) -> Problem:
        """The population source loss ``(w - beta_s)^T Sigma_s (w - beta_s)/2``, per instance."""
        K = beta_s.shape[0]
        return Problem(None, np.tile(self.source, (K, 1)), np.array(beta_s, dtype=float))

    def source_sample_problem(self, rngs: list[np.random.Generator], n: int,
                              beta_s: np.ndarray, sigma_s: float) -> Problem:
        """A finite source: ``n`` rows with covariance Sigma_s, ``y = X beta_s + sigma_s eps``
        (the same draws as the isotropic simulator's source stream, rescaled)."""
        X = np.stack([rng.standard_normal((n, self.d)) for rng in rngs]) * np.sqrt(self.source)
        eps = np.stack([rng.standard_normal(n) for rng in rngs])
        y = np.einsum("knd,kd->kn", X, beta_s) + sigma_s * eps
        return sample_problem(X, y)

    def error(self, beta_hat: np.ndarray, beta_t: np.ndarray) -> np.ndarray:
        """``(beta_hat - beta_t)^T Sigma (beta_hat - beta_t)`` per instance."""
        diff = beta_hat - beta_t
        return np.einsum("kd,kd,d->k", diff, diff, self.target)


def teacher_streams(seed: int, instances: int) -> list[np.random.Generator]:
    """One generator per instance for its teachers, ``SeedSequence(seed, spawn_key=(k,
    TEACHER_KEY))``: reproducible, and the same for instance k whatever ``instances`` is."""
    return [np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k, TEACHER_KEY)))
            for k in range(instances)]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _teacher_pair(rng: np.random.Generator, d: int,
                  energies: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(beta_s, u): unit vectors, u orthogonal to beta_s, with the profile's energies
    (None: generic, uniformly random directions)."""
    if energies is None:
        a, b = rng.standard_normal(d), rng.standard_normal(d)
    else:
        amplitude = np.sqrt(energies)
        a = amplitude * rng.choice((-1.0, 1.0), size=d)
        b = amplitude * rng.choice((-1.0, 1.0), size=d)
    beta_s = _unit(a)
    u = _unit(b - (b @ beta_s) * beta_s)
    return beta_s, u


def covariance(spectrum: Any, source_spectrum: Any, teacher: Any, d: int) -> Covariance | None:
    """The simulator's covariance setup, or None for today's isotropic simulator (no spectrum,
    no source spectrum, generic teachers)."""
    for name, value in (("spectrum", spectrum), ("source_spectrum", source_spectrum)):
        if value is not None and not isinstance(value, Spectrum):
            raise TypeError(f"{name} must be None or a symtransfer.spectra.Spectrum "
                            f"(Discrete, PowerLaw, Empirical), got {type(value).__name__}")
    prof = profile(teacher)
    if spectrum is None and source_spectrum is None:
        if not isinstance(prof, Generic):
            raise ValueError(f"teacher={prof!r} needs spectrum= (with x ~ N(0, I) every unit "
                             "teacher is generic)")
        return None
    if spectrum is None and not isinstance(prof, Generic):
        raise ValueError(f"teacher={prof!r} needs spectrum= (the profile is defined on the "
                         "target covariance's eigenvalues)")
    target = np.ones(d) if spectrum is None else spectrum.diagonal(d)
    source = target if source_spectrum is None else source_spectrum.diagonal(d)
    return Covariance(target, source, prof)


# ---------------------------------------------------------------------- sweep-file settings

#: simulate arguments that describe the inputs and teachers, with their defaults
SETTINGS = {"spectrum": None, "source_spectrum": None, "teacher": "generic"}


def to_setting(name: str, value: Any) -> Any:
    """A JSON value for ``spectrum``/``source_spectrum`` (``{"eigenvalues": [...],
    "weights": [...]}``, the atoms exactly) or ``teacher`` (``"generic"`` or
    ``{"aligned": power}``), so that sweep files can store them; validated first."""
    if name in ("spectrum", "source_spectrum"):
        if value is None or isinstance(value, dict):
            return value if value is None else to_setting(name, from_setting(name, value))
        if not isinstance(value, Spectrum):
            raise TypeError(f"{name} must be None or a symtransfer.spectra.Spectrum, got "
                            f"{type(value).__name__}")
        return {"eigenvalues": value.eigenvalues.tolist(), "weights": value.weights.tolist()}
    if name == "teacher":
        if isinstance(value, dict):
            value = from_setting(name, value)
        prof = profile(value)
        return "generic" if isinstance(prof, Generic) else {"aligned": prof.power}
    raise ValueError(f"{name!r} is not a covariance setting")


def from_setting(name: str, value: Any) -> Any:
    """The object that :func:`to_setting` stored (a Discrete spectrum with the same atoms,
    hence the same simulation)."""
    from ..spectra import Discrete
    from ..teachers import Aligned

    if value is None or isinstance(value, (Spectrum, Teacher)) or value == "generic":
        return value
    if not isinstance(value, dict):
        raise TypeError(f"{name} setting must be a dict, got {type(value).__name__}")
    if name in ("spectrum", "source_spectrum"):
        if set(value) != {"eigenvalues", "weights"}:
            raise ValueError(f"{name} setting must have keys 'eigenvalues' and 'weights'")
        return Discrete(value["eigenvalues"], value["weights"])
    if name == "teacher" and set(value) == {"aligned"}:
        return Aligned(value["aligned"])
    raise ValueError(f"unknown {name} setting {value!r}")


def decoded(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with the stored covariance settings turned back into objects."""
    return {k: from_setting(k, v) if k in SETTINGS else v for k, v in settings.items()}
