"""Theory with an input covariance on a 10^6-point (gamma, theta) grid: time per point.

Fine-tuning risk (exact form, depth 2, sigma = 0.2) for a Discrete spectrum with 2 and 100
atoms and a PowerLaw spectrum (100 atoms), against the isotropic kernel
(symtransfer.risk) on the same grid. Target: 2 atoms within 10x of the isotropic kernel.
Run: python benchmarks/bench_spectra.py [--points N]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import symtransfer as st
from symtransfer import anisotropic as A
from symtransfer import spectra


def timed(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10 ** 6)
    args = parser.parse_args()
    side = int(round(np.sqrt(args.points)))
    G, TH = np.meshgrid(np.linspace(0.01, 2.0, side), np.linspace(0, np.pi / 2, side))
    n = G.size
    iso = timed(lambda: st.risk("finetune", gamma=G, theta=TH, sigma=0.2))
    print(f"{n} points; isotropic kernel: {iso / n * 1e9:8.1f} ns/point")
    cases = [("Discrete, 2 atoms", spectra.Discrete([0.4, 1.6])),
             ("Discrete, 100 atoms", spectra.Discrete(np.linspace(0.1, 3.0, 100))),
             ("PowerLaw(1.0), 100 atoms", spectra.PowerLaw(1.0, atoms=100))]
    for label, spec in cases:
        t = timed(lambda: A.finetune(spec, gamma=G, theta=TH, sigma=0.2), repeats=1)
        print(f"{label:26s}: {t / n * 1e9:8.1f} ns/point  ({t / iso:6.1f}x isotropic)")


if __name__ == "__main__":
    main()
