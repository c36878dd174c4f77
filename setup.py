"""Package discovery, the one part of the build that pyproject.toml cannot say.

Every package under ``symtransfer/`` is found automatically, and the repository's
``derivations/`` folder (kept at the root so that ``python -m derivations`` runs there) is
installed as the subpackage ``symtransfer.derivations``, never as a top-level ``derivations``.
Works for regular and editable installs. Everything else is in pyproject.toml.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["symtransfer", "symtransfer.*"]) + ["symtransfer.derivations"],
    package_dir={"symtransfer.derivations": "derivations"},
)
