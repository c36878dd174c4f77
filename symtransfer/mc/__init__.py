"""Monte-Carlo gradient flow for deep linear networks: the finite-size twin of the theory."""
from .pipeline import simulate
from .result import ConvergenceError, SimulationResult

__all__ = ["simulate", "SimulationResult", "ConvergenceError"]
