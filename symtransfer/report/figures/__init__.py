"""Every figure family of the report, one module each, with captions that say what the
figure shows: :mod:`.phase`, :mod:`.scratch`, :mod:`.linear`, :mod:`.finetune`,
:mod:`.lp_ft`, :mod:`.penalty`, :mod:`.relu`, :mod:`.spectra`, :mod:`.stopping`, :mod:`.fair`.
Each module's ``draw(cfg, sweeps, forms, figures, log)`` draws its family, saves it in
``cfg.formats`` (PNG and PDF; the quick report PNG only) and returns
``[(name, title, caption)]``; its ``USES_MONTE_CARLO`` says whether it needs the report's
simulations.
"""
from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

from ..._ranked_pool import RankedPool
from ..config import Config, _Log


def _save(fig, figures: Path, name: str, formats: tuple[str, ...] = ("png", "pdf")
          ) -> list[Path]:
    """``fig`` as ``figures/name.<ext>`` for each of ``formats`` (PNG at 130 dpi).

    The figures use constrained layout, which matplotlib recomputes at every draw (a third of
    a figure's cost); after the first format the layout is frozen, so the other formats reuse
    the same axes positions instead of solving it again (the layout is in figure-relative
    units: a PDF drawn from it is the same page)."""
    paths = []
    for i, ext in enumerate(formats):
        if i == 1:
            fig.set_layout_engine("none")
        path = figures / f"{name}.{ext}"
        fig.savefig(path, dpi=130 if ext == "png" else None)
        paths.append(path)
    return paths


FAMILIES = ("phase", "linear", "scratch", "finetune", "lp_ft", "penalty", "relu", "spectra",
            "stopping", "fair")


def uses_monte_carlo(family: str) -> bool:
    """Whether ``family``'s figures need the report's Monte-Carlo data (its module's
    ``USES_MONTE_CARLO``); the others are drawn from the theory alone."""
    import importlib

    return bool(importlib.import_module(f"{__name__}.{family}").USES_MONTE_CARLO)


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


def _submit_figures(pool: RankedPool, rank: int, families: tuple[str, ...], cfg: Config,
                    sweeps: dict, forms: dict, figures: Path, log: _Log) -> dict[str, Future]:
    """``families`` drawn in ``pool``'s workers (tasks of rank ``rank``); a theory-only
    family gets no Monte-Carlo data (so one that reached for it would fail, not draw stale
    data)."""
    return {family: pool.submit_ranked(rank, _draw_family, family, cfg,
                                sweeps if uses_monte_carlo(family) else {},
                                forms if uses_monte_carlo(family) else {}, figures, log)
            for family in families}


def _collected(futures: dict[str, Future]) -> list:
    """[(name, title, caption)] of every family, in the report's order."""
    return [m for family in FAMILIES for m in futures[family].result()]
