"""Monte-Carlo benchmark: the authors' protocol, the cost near the interpolation threshold, the
cost per gradient against the machine's floor, and (``--grid``) the whole protocol for real.

Run: ``python benchmarks/bench_mc.py`` (a few minutes) or ``python benchmarks/bench_mc.py
--grid`` (the authors' full grid: d = 500, L = 2, 20 instances, init scale 1e-5, sigma = 0.2,
gamma in {0.1, ..., 2.0}, theta/(pi/2) in {0.05, ..., 1.0}; scratch once per gamma, since its
law does not depend on theta, linear transfer and fine-tuning at all 400 points; two local
worker processes with one BLAS thread each). At gamma = 1 (n = d) the design's condition
number is ~d^2 and the interpolator's expected risk infinite: those points run with a budget
of 250 steps (1000 gradients) and are reported as not converged where they exceed it.
``--grid --sample K`` estimates the full grid's time from a measured part of it instead
(:func:`sample_grid`: at every gamma every K-th theta, K <= 10, scratch at every gamma; in
this process, timed by process CPU, scaled to the whole grid per gamma). ``--near`` runs
part 3 alone.

Default run (``--no-subset`` skips part 4):

1. One grid point (gamma = 0.5, theta = pi/4): seconds, steps and gradient evaluations of every
   phase (pretraining, also with the penalty mu = 0.5, scratch, linear transfer, fine-tuning),
   risks against theory; fine-tuning also with the Heun integrator for comparison.
2. The floor: a gradient of the depth-2 fine-tuning flow is two matrix-vector products with the
   row-space first layer (K x r x d, r = min(n, d)): ``4 K r d`` flops. Its floor is timed on
   this machine as the same two products by bare batched BLAS (a memory-bound GEMV: the floor
   any step of these sizes can reach) and, for reference, at the machine's GEMM rate (the
   flop floor if the products were compute-bound, which matrix-vector products are not).
3. Near the threshold: d = 200, the same 20 instances at gamma = 0.5 and 0.95 (the draws
   ``simulate(seed=0)`` makes at each gamma; fine-tuning from the same pretrained weights, and
   scratch): the time ratio (target <= 8; CPU time, the least of 3 interleaved runs) and the
   ratio of gradient evaluations.
4. A subset of the grid with near-threshold points, run through ``run_sweep`` like ``--grid``.

Timings depend on what else runs on the machine; the script prints the load average. Parts 1-3
are timed in process CPU time (``time.process_time``: with one BLAS thread, the time this
process computed, much less contaminated by other work on shared cores than wall time, though
not immune: shared caches and memory bandwidth still slow it), and the counts (steps, gradient
evaluations) are deterministic. The grid runs in worker processes and is timed by the wall
clock. It runs
with one BLAS thread (set before numpy loads, unless OPENBLAS_NUM_THREADS is set), as sweep
workers do: matrix-vector products gain nothing from a second thread, and multi-threaded BLAS
on cores shared with other work runs several times slower.
"""
from __future__ import annotations

import argparse
import math
import os
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings)

import symtransfer as st  # noqa: E402
from symtransfer.mc.data import sample_problem  # noqa: E402
from symtransfer.mc.gradient_flow import train  # noqa: E402
from symtransfer.mc.network import Trainable, small_init  # noqa: E402
from symtransfer.mc.pipeline import (  # noqa: E402
    fit_readout,
    instance_streams,
    pretrain,
    target_data,
)
from symtransfer.sweep import run_sweep  # noqa: E402

D, DEPTH, INSTANCES, ALPHA = 500, 2, 20, 1e-5
PENALTY = 0.5  # penalized pretraining (dense Heun flow), timed beside the plain one
GAMMA, SIGMA, THETA = 0.5, 0.2, math.pi / 4
GRID_GAMMA = [round(0.1 * k, 1) for k in range(1, 21)]
GRID_THETA = [round(0.05 * k, 2) * math.pi / 2 for k in range(1, 21)]
SUBSET_GAMMA = [0.5, 0.9, 1.0, 1.1, 1.5]
SUBSET_THETA = [math.pi / 4]


def _timed(fn):
    """(fn(), wall seconds)."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _cpu(fn):
    """(fn(), process CPU seconds)."""
    start = time.process_time()
    out = fn()
    return out, time.process_time() - start


def measure_point() -> dict:
    """Every phase at the authors' grid point; returns CPU seconds, steps, evaluations,
    risks."""
    streams = instance_streams(0, INSTANCES)
    opts = dict(progress=False)
    (weights, pre), t_pre = _cpu(lambda: pretrain(
        streams, d=D, depth=DEPTH, gamma_s=None, sigma_s=0.0, alpha=ALPHA, init="random",
        train_options=opts))
    (_, pen), t_pen = _cpu(lambda: pretrain(
        streams, d=D, depth=DEPTH, gamma_s=None, sigma_s=0.0, alpha=ALPHA, init="random",
        train_options=opts, mu=PENALTY))
    (X, y), t_data = _cpu(lambda: target_data(streams, d=D, gamma=GAMMA, theta=THETA,
                                                 sigma=SIGMA))
    problem, t_svd = _cpu(lambda: sample_problem(X, y))

    def run(init, **kw):  # a target phase, trained as simulate trains it
        net = Trainable(init, problem)
        return net, train(net, **opts, read="end_to_end", **kw)

    scratch_init = small_init(streams["scratch_init"], D, DEPTH, ALPHA)
    (net_s, stats_s), t_scratch = _cpu(lambda: run(scratch_init))
    (beta_lin, _), t_lin = _cpu(lambda: fit_readout(weights.features(), X, y, 0.0, 1e-3,
                                                      streams["readout"]))
    (net_f, stats_f), t_ft = _cpu(lambda: run(weights))
    (_, stats_h), t_heun = _cpu(lambda: run(weights, scheme="heun"))
    beta_t = np.zeros(D)
    beta_t[0], beta_t[1] = math.cos(THETA), math.sin(THETA)
    risks = {name: float(((b - beta_t) ** 2).sum(axis=1).mean()) for name, b in
             [("scratch", net_s.end_to_end()), ("linear", beta_lin),
              ("finetune", net_f.end_to_end())]}
    return dict(t_pre=t_pre, t_pen=t_pen, t_data=t_data + t_svd, t_scratch=t_scratch,
                t_lin=t_lin, t_ft=t_ft, t_heun=t_heun, pre=pre, pen=pen, scratch=stats_s,
                ft=stats_f, heun=stats_h, risks=risks, rank=problem.rank,
                converged=bool(pre.converged.all() and stats_s.converged.all()
                               and stats_f.converged.all() and pen.converged.all()))


def floor(rank: int, repeats: int = 50) -> dict:
    """CPU seconds of one gradient's matrix-vector work (forward + backward product with the
    (K, r, d) first layer) by bare batched BLAS, and the machine's GEMM rate."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((INSTANCES, rank, D))
    x, y = rng.standard_normal((INSTANCES, D, 1)), rng.standard_normal((INSTANCES, 1, rank))
    np.matmul(A, x), np.matmul(y, A)
    start = time.process_time()
    for _ in range(repeats):
        np.matmul(A, x)
        np.matmul(y, A)
    t_gemv = (time.process_time() - start) / repeats
    B = rng.standard_normal((1000, 1000))
    B @ B
    start = time.process_time()
    for _ in range(5):
        B @ B
    gemm_rate = 2e9 * 5 / (time.process_time() - start)
    flops = 4.0 * INSTANCES * rank * D
    return dict(flops=flops, t_gemv=t_gemv, t_gemm=flops / gemm_rate,
                gemv_rate=flops / t_gemv, gemm_rate=gemm_rate)


def near_threshold(d: int = 200, gammas=(0.5, 0.95), repeats: int = 3) -> dict:
    """Fine-tuning (same pretrained weights) and scratch at each gamma, same instances: the
    draws of ``simulate(seed=0)`` at that gamma (fresh streams per gamma). CPU seconds (the
    least of ``repeats`` identical runs, as timeit does: other work on the cores only ever
    adds time; the runs of all gammas are interleaved, so that a change of load between them
    does not bias the ratio), and the gradient evaluations summed over instances and of the
    slowest instance (the same in every run). Trained as ``simulate`` trains target phases
    (``read="end_to_end"``: the early finish judged on beta_hat)."""
    weights, _ = pretrain(instance_streams(0, INSTANCES), d=d, depth=DEPTH, gamma_s=None,
                          sigma_s=0.0, alpha=ALPHA, init="random",
                          train_options=dict(progress=False))
    cases = {}
    for gamma in gammas:
        streams = instance_streams(0, INSTANCES)
        X, y = target_data(streams, d=d, gamma=gamma, theta=THETA, sigma=SIGMA)
        problem = sample_problem(X, y)
        cases["finetune", gamma] = (weights, problem)
        cases["scratch", gamma] = (small_init(streams["scratch_init"], d, DEPTH, ALPHA), problem)
    times = {key: [] for key in cases}
    out = {}
    for _ in range(repeats):
        for key, (init, problem) in cases.items():
            net = Trainable(init, problem)
            stats, seconds = _cpu(lambda: train(net, progress=False, read="end_to_end"))
            times[key].append(seconds)
            out[key] = dict(evaluations=int(stats.evaluations.max()),
                            total=int(stats.evaluations.sum()),
                            converged=bool(stats.converged.all()))
    for key in cases:
        out[key]["seconds"] = min(times[key])
    return out


GAMMA_ONE_STEPS = 250  # at gamma = 1 (n = d): a budget of 250 steps, 1000 gradients


def run_grid(gammas, thetas, workers: int = 2) -> dict:
    """The protocol on a (gamma, theta) grid through run_sweep: scratch once per gamma (its law
    is theta-free), linear transfer and fine-tuning at every point; returns seconds per
    method, the sweeps, and the non-converged instances. gamma = 1 (n = d), where the
    interpolator's expected risk is infinite and the design's condition number ~ d^2, runs as
    its own sweep with the budget GAMMA_ONE_STEPS: its runs converge or are reported."""
    common = dict(sigma=SIGMA, d=D, instances=INSTANCES, depth=DEPTH, alpha=ALPHA,
                  workers=workers, progress=False)
    out = {}
    parts = [([g for g in gammas if g != 1.0], {}), ([g for g in gammas if g == 1.0],
                                                     {"max_steps": GAMMA_ONE_STEPS})]
    for method in ("scratch", "linear", "finetune"):
        for part, budget in parts:
            if not part:
                continue
            grid = {"gamma": part} if method == "scratch" else {"gamma": part, "theta": thetas}
            extra = {"theta": THETA} if method == "scratch" else {}
            sweep, seconds = _timed(lambda: run_sweep(method, grid, **common, **extra,
                                                      **budget))
            key = method + (" (gamma = 1)" if budget else "")
            out[key] = dict(seconds=seconds, sweep=sweep,
                            not_converged=int((~sweep.converged).sum()))
    return out


def sample_thetas(gamma_index: int, count: int, every: int) -> list[int]:
    """Theta indices sampled at the gamma with index ``gamma_index``: every ``every``-th of
    ``count``, starting at ``gamma_index mod every`` (the offset rotates with gamma, so that
    the samples cover every theta of the grid)."""
    return list(range(gamma_index % every, count, every))


def _sampled_gamma(method: str, gamma: float, picks: list, thetas, common: dict,
                   workers: int) -> tuple[float, int, int]:
    """Estimated CPU seconds of ``method`` at ``gamma`` on the whole theta axis from the
    sampled thetas ``picks`` (None: scratch, one point), the points run and the instance runs
    not converged. The first point pays the per-gamma set-up (the design's SVD, and linear
    transfer's SVD of the features), which the full grid pays once per worker; the others run
    on the warm caches, as the full grid's points do."""
    budget = {"max_steps": GAMMA_ONE_STEPS} if gamma == 1.0 else {}
    if picks == [None]:
        sweep, t = _cpu(lambda: run_sweep(method, {"gamma": [gamma]}, theta=THETA, **common,
                                          **budget))
        return t, 1, int((~sweep.converged).sum())
    first, t_first = _cpu(lambda: run_sweep(method, {"gamma": [gamma],
                                                     "theta": [thetas[picks[0]]]},
                                            **common, **budget))
    rest, t_rest = _cpu(lambda: run_sweep(method, {"gamma": [gamma],
                                                   "theta": [thetas[i] for i in picks[1:]]},
                                          **common, **budget))
    point = t_rest / (len(picks) - 1)
    setup = max(t_first - point, 0.0)
    bad = int((~first.converged).sum() + (~rest.converged).sum())
    return workers * setup + point * len(thetas), len(picks), bad


def sample_grid(gammas, thetas, every: int, workers: int = 2) -> dict:
    """An estimate of :func:`run_grid`'s time from a measured part of the grid.

    Cost depends mostly on gamma (the design's conditioning), so the sample is stratified by
    gamma: at every gamma, every ``every``-th theta (:func:`sample_thetas`, at least 2) for
    linear transfer and fine-tuning, and scratch (one point per gamma) at every gamma. The
    points run through ``run_sweep`` in this process (one BLAS thread) with the grid's
    settings, timed by process CPU; a gamma's estimate is its set-up (first point minus the
    others' mean) once per worker plus the mean point times the number of thetas
    (:func:`_sampled_gamma`). Pretraining, shared by a worker's points, falls in the set-up of
    each pretrained sweep's first gamma (so it is counted once per worker), except for linear
    transfer's main sweep, whose pretraining is timed before it and added once per worker.
    The two-worker wall estimate is the CPU total over 2: balanced workers on idle cores (the
    end of each sweep waits for its slowest point, which is not counted)."""
    if min(len(sample_thetas(gi, len(thetas), every)) for gi in range(len(gammas))) < 2:
        raise ValueError(f"--sample {every}: at least 2 thetas per gamma are needed "
                         f"(every <= {len(thetas) // 2})")
    from symtransfer.mc.pipeline import pretrained

    common = dict(sigma=SIGMA, d=D, instances=INSTANCES, depth=DEPTH, alpha=ALPHA,
                  workers=0, progress=False)
    pretrained.cache_clear()
    point = {"gamma": [GAMMA], "theta": [THETA]}
    _, t_warm = _cpu(lambda: run_sweep("linear", point, **common))
    _, t_linear = _cpu(lambda: run_sweep("linear", point, **common))
    t_pre = max(t_warm - t_linear, 0.0)  # the first run pretrains, the second reuses it
    per_method = dict.fromkeys(("scratch", "linear", "finetune"), 0.0)
    per_gamma = {method: {} for method in per_method}
    points = not_converged = 0
    # method by method as run_grid's sweeps (so the caches hold what a sweep's workers hold),
    # gamma = 1 (its own sweep: the step budget, so another pretraining) after the others
    order = [g for g in gammas if g != 1.0] + [g for g in gammas if g == 1.0]
    for method in per_method:
        for gamma in order:
            if gamma == 1.0 or (method == "finetune" and gamma == order[0]):
                pretrained.cache_clear()  # this sweep's pretraining is in its set-up
            gi = list(gammas).index(gamma)
            picks = [None] if method == "scratch" else sample_thetas(gi, len(thetas), every)
            seconds, n, bad = _sampled_gamma(method, gamma, picks, thetas, common, workers)
            per_method[method] += seconds
            per_gamma[method][gamma] = seconds
            points += n
            not_converged += bad
    pretrainings = workers  # linear's main sweep (warmed above); the others are in set-ups
    cpu = sum(per_method.values()) + pretrainings * t_pre
    return dict(per_method=per_method, per_gamma=per_gamma, t_pre=t_pre,
                pretrainings=pretrainings, cpu=cpu,
                wall2=cpu / workers, points=points, not_converged=not_converged,
                full_points=len(gammas) * (1 + 2 * len(thetas)))


def _print_sample(est: dict, every: int) -> None:
    print(f"authors' full grid estimated from {est['points']} of its {est['full_points']} "
          f"points (1 in {every} thetas at each gamma, scratch at each gamma; process CPU "
          f"seconds, scaled per gamma):")
    for method, seconds in est["per_method"].items():
        print(f"  {method:9s} {seconds:8.1f} s CPU (estimated, whole grid)")
        by_gamma = est["per_gamma"][method]
        print("    by gamma: " + ", ".join(f"{g:g}: {by_gamma[g]:.0f}" for g in sorted(by_gamma)))
    print(f"  pretraining {est['t_pre']:.1f} s CPU x {est['pretrainings']} (once per worker "
          f"of linear transfer's main sweep; the other sweeps' are in their set-ups)")
    print(f"  total {est['cpu'] / 60:.1f} min CPU; with two workers on two idle cores "
          f"~{est['wall2'] / 60:.1f} min (target 10 min); {est['not_converged']} instance runs "
          "of the sample not converged (gamma = 1 has a step budget)")


def _print_grid(result: dict, label: str) -> None:
    total = sum(r["seconds"] for r in result.values())
    print(f"{label}: {total / 60:.1f} min measured with two workers "
          f"(target for the full grid: 10 min on 2 cores)")
    for method, r in result.items():
        sweep = r["sweep"]
        print(f"  {method:22s} {r['seconds']:7.1f} s  {sweep.converged.size} instance runs, "
              f"{r['not_converged']} not converged")
        if r["not_converged"]:  # gamma is the first grid axis
            rows = sweep.converged.reshape(len(sweep.grid["gamma"]), -1)
            bad = [round(float(g), 2) for g, ok in zip(sweep.grid["gamma"], rows) if not ok.all()]
            print(f"            not converged at gamma = {bad} (the reason per instance is in "
                  "simulate()'s diagnostics)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", action="store_true", help="run the authors' full grid")
    parser.add_argument("--sample", type=int, default=0, metavar="K",
                        help="with --grid: estimate it from every K-th theta at each gamma")
    parser.add_argument("--near", action="store_true",
                        help="only part 3, the cost near the threshold")
    parser.add_argument("--no-subset", action="store_true",
                        help="skip the grid subset (part 4) of the default run")
    args = parser.parse_args()
    if not 0 <= args.sample <= len(GRID_THETA) // 2:
        parser.error(f"--sample K needs 1 <= K <= {len(GRID_THETA) // 2} (two thetas per gamma)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          f"(wall times are inflated when other work shares the cores; parts 1-3 report "
          f"process CPU time)")
    if args.grid and args.sample:
        _print_sample(sample_grid(GRID_GAMMA, GRID_THETA, args.sample), args.sample)
        return
    if args.grid:
        _print_grid(run_grid(GRID_GAMMA, GRID_THETA), "authors' full 20 x 20 grid")
        return
    if args.near:
        _print_near(near_threshold())
        return
    m = measure_point()
    print(f"authors' protocol at one grid point: d={D}, L={DEPTH}, {INSTANCES} instances, "
          f"gamma={GAMMA}, sigma={SIGMA}, theta=pi/4 (all converged: {m['converged']}); "
          "CPU seconds")
    for label, key, stats in [("pretraining (population)", "t_pre", m["pre"]),
                              (f"pretraining, mu = {PENALTY:g} (dense Heun)", "t_pen", m["pen"]),
                              ("target data + SVD", "t_data", None),
                              ("scratch", "t_scratch", m["scratch"]),
                              ("linear transfer (readout)", "t_lin", None),
                              ("fine-tuning (RKC)", "t_ft", m["ft"]),
                              ("fine-tuning (Heun, for comparison)", "t_heun", m["heun"])]:
        extra = "" if stats is None else (
            f"  {int(stats.steps.max()):6d} steps "
            + ("" if stats.evaluations is None else
               f"{int(stats.evaluations.max()):6d} gradient evaluations"))
        print(f"  {label:36s} {m[key]:7.2f} s{extra}")
    for name, value in m["risks"].items():
        theory = st.risk(name, gamma=GAMMA, theta=THETA, sigma=SIGMA)
        print(f"  risk {name:9s} MC {value:.4f}   theory {theory:.4f}")
    f = floor(m["rank"])
    for label, key in [("RKC", "ft"), ("Heun", "heun")]:
        # one batched gradient = one gradient of every instance; the batch shrinks to the
        # instances still training, so count instance-gradients and divide by the batch size
        batched = m[key].evaluations.sum() / INSTANCES
        per_eval = m["t_ft" if key == "ft" else "t_heun"] / batched
        print(f"fine-tuning, {label}: {1 / per_eval:7.0f} batched gradients/s "
              f"({per_eval * 1e3:.2f} ms CPU each, all phases' work included; "
              f"{4 * INSTANCES * m['rank'] * D / 1e6:.0f} Mflop of matrix-vector work)")
        print(f"  floor: the same products by bare batched GEMV {f['t_gemv'] * 1e3:.2f} ms "
              f"({f['gemv_rate'] / 1e9:.1f} Gflop/s): ratio {per_eval / f['t_gemv']:.2f} "
              f"(target <= 3)")
        print(f"  at the GEMM rate {f['t_gemm'] * 1e3:.2f} ms "
              f"({f['gemm_rate'] / 1e9:.1f} Gflop/s): ratio {per_eval / f['t_gemm']:.1f} "
              "(matrix-vector products are memory-bound: not reachable)")
    _print_near(near_threshold())
    if args.no_subset:
        return
    _print_grid(run_grid(SUBSET_GAMMA, SUBSET_THETA),
                f"grid subset gamma={SUBSET_GAMMA}, theta=pi/4")
    print("  (the full grid: python benchmarks/bench_mc.py --grid)")


def _print_near(near: dict) -> None:
    print("near the threshold, d = 200, 20 instances (same instances at both gammas), CPU "
          "seconds (least of 3 interleaved runs) and gradient evaluations (all instances; slowest "
          "instance):")
    for name in ("finetune", "scratch"):
        a, b = near[name, 0.5], near[name, 0.95]
        print(f"  {name:9s} gamma=0.5 {a['seconds']:6.2f} s ({a['total']}; {a['evaluations']}), "
              f"gamma=0.95 {b['seconds']:6.2f} s ({b['total']}; {b['evaluations']})")
        print(f"            ratio 0.95/0.5: time {b['seconds'] / a['seconds']:.1f} (target <= 8; "
              f"Heun's was ~50), gradients {b['total'] / a['total']:.1f}; converged "
              f"{a['converged'] and b['converged']}")


if __name__ == "__main__":
    main()
