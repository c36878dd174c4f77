"""Transfer learning beyond linear models: two-layer ReLU student-teacher networks (paper
Sec. 4), where the claim that *features*, not distributions, decide transfer is tested
outside the solvable model.

* :mod:`~symtransfer.relu.teachers` -- centred, normalized ReLU teachers; targets sharing,
  rotating (``theta``) or re-weighting (``readout``) the source's hidden features;
* :mod:`~symtransfer.relu.student` -- the two-layer ReLU student, analytic gradients of the
  sample and population losses, exact test error (:mod:`~symtransfer.relu.gaussian`);
* :mod:`~symtransfer.relu.training` -- adaptive full-batch gradient descent with per-instance
  convergence flags;
* :mod:`~symtransfer.relu.experiment` -- :func:`simulate_relu` (scratch, linear transfer,
  fine-tuning) and the paired :func:`transferability`;
* :mod:`~symtransfer.relu.overlap` -- :func:`feature_overlap`, the part of a target outside
  the pretrained feature space;
* :mod:`~symtransfer.relu.sweep` -- resumable sweeps over (theta, gamma), saved to one .npz;
* :mod:`~symtransfer.relu.plots` -- the ReLU phase diagram beside the linear theory's.
"""
from .experiment import simulate_relu, transferability
from .overlap import feature_overlap
from .student import Student
from .teachers import Teacher, source_teacher, target_teacher, teacher_distance

__all__ = ["simulate_relu", "transferability", "feature_overlap", "Student", "Teacher",
           "source_teacher", "target_teacher", "teacher_distance"]
