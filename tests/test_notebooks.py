"""The notebooks in notebooks/ run without error (at quick sizes) and are committed without outputs.

Each notebook is executed with nbclient in a fresh kernel of *this* interpreter (a temporary
kernel spec, first on JUPYTER_PATH, so a user-level 'python3' kernel of another Python cannot
be picked up), with ``SYMTRANSFER_QUICK=1`` (small d, few instances, short grids) and the Agg
matplotlib backend. The notebooks on disk are only read, never written.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {"01_scratch.ipynb", "02_linear_and_ridge.ipynb", "03_finetuning.ipynb",
            "04_finite_source.ipynb", "05_distances_and_baselines.ipynb",
            "06_relu_transfer.ipynb", "07_pretraining_penalty.ipynb", "08_finite_steps.ipynb",
            "09_early_stopping.ipynb", "10_fair_baselines.ipynb", "11_spectra.ipynb"}
KERNEL = "symtransfer-notebook-test"
CELL_TIMEOUT = 120  # seconds per cell
KERNEL_ENV = {"SYMTRANSFER_QUICK": "1", "MPLBACKEND": "Agg"}


def _ids(paths):
    return [p.name for p in paths]


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """A kernel spec running this interpreter with quick sizes and the Agg backend."""
    data = tmp_path_factory.mktemp("jupyter_data")
    spec_dir = data / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "symtransfer notebook test",
        "language": "python",
        "env": {**KERNEL_ENV, "PYTHONPATH": pythonpath},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    jupyter_path = os.pathsep.join(p for p in (str(data), os.environ.get("JUPYTER_PATH")) if p)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", jupyter_path)
        for key, value in KERNEL_ENV.items():  # inherited by the kernel as well
            mp.setenv(key, value)
        yield KERNEL


def test_notebooks_present():
    names = {p.name for p in NOTEBOOKS}
    assert EXPECTED <= names, f"missing notebooks: {sorted(EXPECTED - names)}"
    assert not (NOTEBOOK_DIR / ".ipynb_checkpoints").exists(), "commit no .ipynb_checkpoints"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} have outputs or execution counts; clear them "
                       "(e.g. jupyter nbconvert --clear-output --inplace) before committing")
    first_code = next(cell.source for cell in nb.cells if cell.cell_type == "code")
    assert 'QUICK = os.environ.get("SYMTRANSFER_QUICK") == "1"' in first_code, (
        f"{path.name}: the first code cell must read SYMTRANSFER_QUICK")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs(path, kernel_name, tmp_path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=kernel_name,
                                     resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name} failed:\n{error}", pytrace=False)
    errors = [out for cell in nb.cells if cell.cell_type == "code"
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors, f"{path.name}: error outputs {errors}"
