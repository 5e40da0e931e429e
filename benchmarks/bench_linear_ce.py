"""Fused linear cross-entropy against the unfused step and PyTorch: time and
extra peak memory of the loss and all gradients (float32).

    python benchmarks/bench_linear_ce.py                # both shapes, 1 and all threads
    python benchmarks/bench_linear_ce.py --repeat 5 --threads 1 --shape 1024,256,128256

Three ways to the loss and (d_hidden, d_weight, d_bias) of
cross_entropy(hidden @ weight.T + bias, target):
  fused    csoftmax.linear_cross_entropy(..., return_grad=True)
  unfused  csoftmax: logits = h @ W.T + b; cross_entropy(return_grad=True);
           the three gradient products
  torch    F.linear + F.cross_entropy, forward and backward
Each is checked against the others before it is timed. Times are medians of
--repeat runs. Peak memory is measured in a fresh process per case (Linux): the
peak resident set size during one call (VmHWM, reset just before it through
/proc/self/clear_refs), less the resident size before it (inputs allocated
and touched) and less the returned gradients' size; the logits' size is
printed beside it. BLAS (threadpoolctl) and PyTorch are
limited to the same thread count as csoftmax.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

SHAPES = ((4096, 512, 32000), (1024, 256, 128256))
METHODS = ("fused", "unfused", "torch")


def inputs(N, D, V):
    rng = np.random.default_rng(0)
    hidden = rng.standard_normal((N, D), dtype=np.float32)
    weight = (rng.standard_normal((V, D), dtype=np.float32) / np.sqrt(D)).astype(np.float32)
    bias = (rng.standard_normal(V, dtype=np.float32) * 0.1).astype(np.float32)
    target = rng.integers(0, V, N)
    target[::17] = -100
    return hidden, weight, bias, target


def run(method, hidden, weight, bias, target, threads):
    """(loss, d_hidden, d_weight, d_bias) by `method`."""
    import csoftmax

    if method == "fused":
        loss, grads = csoftmax.linear_cross_entropy(hidden, weight, target, bias,
                                                    return_grad=True, num_threads=threads)
        return (float(loss),) + grads
    if method == "unfused":
        logits = np.matmul(hidden, weight.T)
        logits += bias
        loss, d_logits = csoftmax.cross_entropy(logits, target, return_grad=True,
                                                num_threads=threads)
        del logits
        return (float(loss), d_logits @ weight, d_logits.T @ hidden, d_logits.sum(0))
    import torch

    h = torch.from_numpy(hidden).requires_grad_()
    w = torch.from_numpy(weight).requires_grad_()
    b = torch.from_numpy(bias).requires_grad_()
    loss = torch.nn.functional.cross_entropy(torch.nn.functional.linear(h, w, b),
                                             torch.from_numpy(target))
    loss.backward()
    return (loss.item(), h.grad.numpy(), w.grad.numpy(), b.grad.numpy())


def limit_threads(threads):
    import threadpoolctl
    import torch

    torch.set_num_threads(threads)
    return threadpoolctl.threadpool_limits(threads, user_api="blas")


def current_rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def peak_child(method, shape, threads):
    """Measured in this (fresh) process: extra peak bytes of one call."""
    hidden, weight, bias, target = inputs(*shape)
    with limit_threads(threads):
        import csoftmax  # noqa: F401  (imported, with torch, before the baseline)
        import torch  # noqa: F401

        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets the peak resident size (VmHWM) to the current one
        before = current_rss()
        result = run(method, hidden, weight, bias, target, threads)
    peak = peak_rss()
    returned = sum(a.nbytes for a in result[1:])
    print(json.dumps({"extra": peak - before - returned}))


def extra_peak(method, shape, threads):
    out = subprocess.run([sys.executable, __file__, "--peak-child", method,
                          ",".join(map(str, shape)), str(threads)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["extra"]


def check(results):
    """Every method's loss and gradients against the first's."""
    first = results[METHODS[0]]
    for method, other in results.items():
        assert abs(other[0] - first[0]) <= 1e-5 * abs(first[0]), (method, other[0], first[0])
        for g, g0 in zip(other[1:], first[1:]):
            error = float(np.max(np.abs(g - g0))) / float(np.max(np.abs(g0)))
            assert error < 1e-4, (method, error)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="*", default=None)
    parser.add_argument("--shape", default=None, metavar="N,D,V", help="one shape only")
    parser.add_argument("--peak-child", nargs=3, metavar=("METHOD", "SHAPE", "THREADS"))
    args = parser.parse_args()
    if args.peak_child:
        method, shape, threads = args.peak_child
        peak_child(method, tuple(int(s) for s in shape.split(",")), int(threads))
        return
    all_threads = os.cpu_count() or 1
    thread_counts = args.threads or sorted({1, all_threads})
    print(f"{'N, D, V':>18} {'threads':>7} {'method':>8} {'median s':>9} {'min s':>7} "
          f"{'max s':>7} {'extra MB':>9} {'% logits':>8}")
    shapes = SHAPES if args.shape is None else (tuple(int(s) for s in args.shape.split(",")),)
    for shape in shapes:
        hidden, weight, bias, target = inputs(*shape)
        logits_bytes = shape[0] * shape[2] * 4
        for threads in thread_counts:
            with limit_threads(threads):
                results = {m: run(m, hidden, weight, bias, target, threads) for m in METHODS}
                check(results)
                del results
                times = {m: [] for m in METHODS}
                for _ in range(args.repeat):
                    for m in METHODS:  # interleaved, so load changes hit all alike
                        start = time.perf_counter()
                        run(m, hidden, weight, bias, target, threads)
                        times[m].append(time.perf_counter() - start)
            for m in METHODS:
                extra = extra_peak(m, shape, threads)
                t = times[m]
                print(f"{str(shape):>18} {threads:>7} {m:>8} {statistics.median(t):9.3f} "
                      f"{min(t):7.3f} {max(t):7.3f} {extra / 1e6:9.1f} "
                      f"{100 * extra / logits_bytes:8.1f}", flush=True)


if __name__ == "__main__":
    main()
