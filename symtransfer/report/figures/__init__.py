"""Every figure family of the report, one module each, with captions that say what the
figure shows: :mod:`.phase`, :mod:`.scratch`, :mod:`.linear`, :mod:`.finetune`,
:mod:`.lp_ft`, :mod:`.penalty`, :mod:`.relu`, :mod:`.spectra`, :mod:`.stopping`, :mod:`.fair`. Each module's ``draw(cfg, sweeps, forms, figures, log)``
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


FAMILIES = ("phase", "linear", "scratch", "finetune", "lp_ft", "penalty", "relu", "spectra",
            "stopping", "fair")


def _draw_family(family: str, cfg: Config, sweeps: dict, forms: dict, figures: Path,
                 log: _Log) -> list:
    """One family's ``draw`` (a top-level function: it runs in worker processes).

    matplotlib's mathtext looks up a few glyphs (the minus of symlog ticks) in STIX and
    Computer Modern fonts before falling back to DejaVu Sans, with a warning per lookup; the
    fallback renders correctly, so those warnings are silenced here (not in the library)."""
    import importlib
    import logging

    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

    return importlib.import_module(f"{__name__}.{family}").draw(cfg, sweeps, forms, figures,
                                                                log)


def _make_figures(cfg: Config, sweeps: dict, forms: dict, figures: Path, log: _Log,
                  workers: int = 1) -> list:
    """Draw every figure family, in the report's order; returns [(name, title, caption)].

    With ``workers > 1`` the families are drawn side by side in that many processes (each
    family's figures are independent; the order of the result is the report's)."""
    if workers <= 1:
        return [m for family in FAMILIES
                for m in _draw_family(family, cfg, sweeps, forms, figures, log)]
    from ...sweep import process_pool

    with process_pool(workers) as pool:
        futures = [pool.submit(_draw_family, family, cfg, sweeps, forms, figures, log)
                   for family in FAMILIES]
        return [m for future in futures for m in future.result()]
