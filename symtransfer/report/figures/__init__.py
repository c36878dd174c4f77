"""Every figure family of the report, one module each, with captions that say what the
figure shows: :mod:`.phase`, :mod:`.scratch`, :mod:`.linear`, :mod:`.finetune`,
:mod:`.penalty`, :mod:`.relu`, :mod:`.spectra`. Each module's ``draw(cfg, sweeps, forms, figures, log)``
draws its family, saves PNG and PDF and returns ``[(name, title, caption)]``.
"""
from __future__ import annotations

from pathlib import Path

from ..config import Config, _Log


def _save(fig, figures: Path, name: str) -> list[Path]:
    paths = []
    for ext in ("png", "pdf"):
        path = figures / f"{name}.{ext}"
        fig.savefig(path, dpi=130 if ext == "png" else None)
        paths.append(path)
    return paths


def _make_figures(cfg: Config, sweeps: dict, forms: dict, figures: Path, log: _Log) -> list:
    """Draw every figure family, in the report's order; returns [(name, title, caption)]."""
    from . import finetune, linear, penalty, phase, relu, scratch, spectra

    made = []
    for family in (phase, linear, scratch, finetune, penalty, relu, spectra):
        made += family.draw(cfg, sweeps, forms, figures, log)
    return made
