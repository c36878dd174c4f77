"""Benchmark: steps per second of ``optimizer="gd"`` and ``"sgd"`` (symtransfer.mc.optimizers)
against the authors' protocol implemented naively, timed on this machine.

Setting: fine-tuning at d = 500, L = 2, 20 instances, gamma = 0.5 (n = 250), from balanced
rank-1 weights of unit end-to-end norm (what population pretraining from small initialization
ends at; built directly so the benchmark times the optimizers, not pretraining).

* ours: :func:`symtransfer.mc.optimizers.descend` -- the first layer held in the row space of X
  (r = min(n, d) coordinates), gradients as rank-1 factors queued in the layers; a step is a
  few batched matrix-vector products, ``O(K r d)``.
* naive: plain numpy over the (K, d, d) weights, as the authors' code does: form ``X W_1``
  (``K n d^2`` flops) and the dense gradient ``X^T r w_2^T`` every step; sgd forms
  ``X_B W_1`` on the minibatch rows.

Both run the same steps (checked: the weights agree after the timed naive steps). Printed:
seconds per step, steps per second (one step = all 20 instances), and the ratio. One BLAS
thread (set before numpy loads, unless already set), as the sweep workers run. Timings depend
on the machine's load; the script prints the load average.

Run: ``python benchmarks/bench_optimizers.py [--steps 200] [--naive-steps 5]``.
"""
from __future__ import annotations

import argparse
import os
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings)

from symtransfer.mc.data import Design, teachers  # noqa: E402
from symtransfer.mc.network import Trainable, Weights, small_init  # noqa: E402
from symtransfer.mc.optimizers import Minibatches, Optimizer, _Data, descend  # noqa: E402

D, INSTANCES, GAMMA, SIGMA, THETA = 500, 20, 0.5, 0.2, np.pi / 4


def setup(d: int, instances: int) -> tuple[Weights, Design, np.ndarray]:
    rngs = [np.random.default_rng([11, k]) for k in range(instances)]
    weights = small_init(rngs, d, 2, 1.0, "balanced")
    design = Design.sample([np.random.default_rng([12, k]) for k in range(instances)],
                           int(GAMMA * d), d)
    _, beta_t = teachers(d, THETA)
    return weights, design, beta_t


def naive_steps(weights: Weights, X: np.ndarray, y: np.ndarray, lr: float, steps: int,
                batches: Minibatches | None) -> tuple[np.ndarray, np.ndarray]:
    """The authors' protocol, plain numpy: ``X W_1`` formed every step."""
    W1, w2 = np.array(weights.layers[0]), np.array(weights.last)
    K, n = y.shape
    for _ in range(steps):
        if batches is None:
            Xb, yb = X, y
        else:
            rows = np.stack(batches.next())
            Xb = np.take_along_axis(X, rows[:, :, None], axis=1)
            yb = np.take_along_axis(y, rows, axis=1)
        H = np.matmul(Xb, W1)                              # X W_1: K n d^2
        r = np.einsum("knd,kd->kn", H, w2) - yb
        g1 = np.einsum("knd,kn->kd", Xb, r) / Xb.shape[1]  # X^T r / n
        g2 = np.einsum("knd,kn->kd", H, r) / Xb.shape[1]   # (X W_1)^T r / n
        W1 -= lr * np.einsum("ki,kj->kij", g1, w2)
        w2 -= lr * g2
    return W1, w2


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="steps of ours per optimizer")
    parser.add_argument("--naive-steps", type=int, default=5,
                        help="steps of the naive code (rounded up to whole sgd epochs)")
    parser.add_argument("--d", type=int, default=D)
    parser.add_argument("--instances", type=int, default=INSTANCES)
    parser.add_argument("--batch-size", type=int, default=25)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()}, BLAS threads "
          f"{os.environ.get('OPENBLAS_NUM_THREADS')}")
    weights, design, beta_t = setup(args.d, args.instances)
    problem = design.problem(beta_t, SIGMA)
    y = design.labels(beta_t, SIGMA)
    n = y.shape[1]
    lr = 0.05
    print(f"d = {args.d}, n = {n}, {args.instances} instances, L = 2, lr = {lr}")
    for name, batch in (("gd", None), ("sgd", args.batch_size)):
        streams = lambda: [np.random.default_rng([13, k]) for k in range(args.instances)]  # noqa: E731
        data = None if name == "gd" else _Data.of(design.X, y, problem)

        def run(steps: int, opt_name: str = name, b=batch) -> Trainable:
            net = Trainable(weights, problem)
            opt = Optimizer(opt_name, lr, b, None, False)
            descend(net, opt, tol=0.0, max_steps=steps, data=data, rngs=streams())
            return net

        # marginal cost per step: the stability bound (power iterations at the first and the
        # last point) is paid once per run, so time S and 2 S steps and take the difference
        per_epoch = Optimizer(name, lr, batch).steps_per_epoch(n)
        S = max(per_epoch, args.steps // per_epoch * per_epoch)
        t1, t2 = timed(lambda: run(S)), timed(lambda: run(2 * S))
        ours, fixed = (t2 - t1) / S, 2 * t1 - t2
        check_steps = -(-args.naive_steps // per_epoch) * per_epoch  # whole epochs
        check = run(check_steps)
        batches = None if name == "gd" else Minibatches(streams(), n, batch, False)
        result: list = []
        naive = timed(lambda: result.extend(naive_steps(weights, design.X, y, lr, check_steps,
                                                        batches))) / check_steps
        dense = check.weights()
        diff = max(np.abs(dense.layers[0] - result[0]).max(),
                   np.abs(dense.last - result[1]).max())
        label = name if batch is None else f"{name} (batch {batch})"
        print(f"{label:<16} ours {ours * 1e3:7.2f} ms/step ({1 / ours:7.1f} steps/s; plus "
              f"{fixed:.2f} s once per run for the stability bound)   naive "
              f"{naive * 1e3:7.1f} ms/step ({1 / naive:6.2f} steps/s)   ratio "
              f"{naive / ours:6.1f}x   max |ours - naive| after {check_steps} steps {diff:.1e}")

if __name__ == "__main__":
    main()
