"""Figures: theory curves and phase diagrams, with Monte-Carlo overlays from sweeps.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global
figure registry, no interactive backend: ``fig.savefig`` writes PNG/PDF through Agg, and
Jupyter displays the figure inline). Parameters use the theory's names (``gamma``,
``theta``, ``sigma``, ``lam``, ``depth``, ``gamma_s``, ``sigma_s``, ``form``); Monte-Carlo
overlays come from :class:`symtransfer.sweep.Sweep` objects (see
:func:`symtransfer.sweep.run_sweep`):

One module per figure family: :mod:`.phase` (phase diagrams and slices, linear transfer and
fine-tuning), :mod:`.scratch`, :mod:`.linear` (ridge), :mod:`.finetune` (exact vs paper
form), :mod:`.baselines` (distances, both baselines), :mod:`.penalty`, :mod:`.methods` (every registered method); shared pieces in
:mod:`._common`.

* :func:`phase_diagram` -- transferability T over (theta, gamma); the T = 0 contour; beside
  it the Monte-Carlo T of two sweeps (scratch and the method) on a grid;
* :func:`transfer_slices` -- T against gamma at a few angles;
* :func:`ridge_curve` -- ridge-transfer risk against the penalty lam;
* :func:`double_descent` -- scratch risk against gamma: asymptotic, exact finite-d, MC;
* :func:`finetune_forms` -- fine-tuning risk: the exact form, the paper's form, MC, and the
  endpoint of every run compared with each form's prediction on the same data;
* :func:`method_risks` -- the risk of every registered method against gamma, in each
  method's declared colour, style and label;
* :func:`risk_trajectories` -- test risk against training time (scratch, linear transfer,
  fine-tuning; gradient flow and gd) with the theory's endpoints;
* :func:`step_size_effects` -- fine-tuning under gd and sgd: risk and endpoint shift against
  the learning rate and the batch size, beside gradient flow and both theory forms;
* :func:`early_stopping_curves` -- risk against stopping time for scratch and fine-tuning, with
  the mean-field theory and the oracle and validation-split stops;
  :func:`early_stopping_theory_curves` the theory alone (and the stopped risk against sigma);
* :func:`penalty_transfer` -- fine-tuning T against the pretraining penalty mu (rich to lazy),
  the best mu* and the transfer it buys, with Monte-Carlo points;
* :func:`fair_phase_diagrams`, :func:`best_method_maps` -- every method's T against the fair
  baseline (tuned scratch vs the tuned method), and the best method at each (theta, gamma).

Monte-Carlo values are means over instances with their standard error (error bars: +- 1 sem);
a grid point that was not run, or where some instance did not converge, is NaN and is shown as
such (hatched cell, or no point), never averaged. ``import symtransfer`` does not import
matplotlib; this module imports it on first use.
"""

from __future__ import annotations

from ._common import (  # noqa: F401
    DIVERGING,
    HALF_PI,
    METHOD_NAMES,
    METHODS_LABEL,
    NAN_HATCH,
    PARAM_SYMBOLS,
    _edges,
    _figure,
    _pi_label,
    mc_transferability,
)
from .baselines import (  # noqa: F401
    DISTANCE_LABELS,
    distance_transfer_table,
    distance_vs_transfer,
    phase_diagram_baselines,
)
from .fair import best_method_maps, fair_phase_diagrams  # noqa: F401
from .finetune import finetune_forms, form_runs  # noqa: F401
from .linear import ridge_curve  # noqa: F401
from .lp_ft import lp_ft_vs_finetune  # noqa: F401
from .methods import method_risks  # noqa: F401
from .optimizers import step_size_effects, step_size_runs  # noqa: F401
from .penalty import penalty_transfer  # noqa: F401
from .phase import phase_diagram, transfer_slices  # noqa: F401
from .scratch import double_descent  # noqa: F401
from .spectra import (  # noqa: F401
    covariate_shift,
    finetune_boundary_vs_noise,
    scaling_law,
    spectrum_phase_diagrams,
    spread_curves,
)
from .stopping import (  # noqa: F401
    early_stopping_curves,
    early_stopping_theory_curves,
    stopping_runs,
)
from .trajectory import risk_trajectories, trajectory_runs  # noqa: F401

__all__ = ['DIVERGING', 'HALF_PI', 'METHODS_LABEL', 'METHOD_NAMES', 'NAN_HATCH', 'PARAM_SYMBOLS', 'mc_transferability', 'phase_diagram', 'transfer_slices', 'double_descent', 'ridge_curve', 'finetune_forms', 'form_runs', 'DISTANCE_LABELS', 'distance_transfer_table', 'distance_vs_transfer', 'phase_diagram_baselines', 'penalty_transfer', 'spectrum_phase_diagrams', 'finetune_boundary_vs_noise', 'risk_trajectories', 'trajectory_runs', 'step_size_effects', 'step_size_runs', 'method_risks', 'early_stopping_curves', 'early_stopping_theory_curves', 'stopping_runs', 'lp_ft_vs_finetune', 'fair_phase_diagrams', 'best_method_maps', 'covariate_shift', 'scaling_law', 'spread_curves']
