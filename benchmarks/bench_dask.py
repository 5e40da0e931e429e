"""csoftmax.dask.softmax against the same softmax written with dask.array
primitives, on a ~2 GB float32 array, on Dask's threaded scheduler (or, with
--scheduler distributed, a 2-process LocalCluster on 127.0.0.1).

    python benchmarks/bench_dask.py [--gb 2] [--repeat 3] [--scheduler threads|distributed]

Two cases: the softmax axis inside each chunk ("rows": (N, 1024) in chunks
of (16384, 1024)) and split across chunks ("split": (M, 32768) in chunks of
(2048, 8192)). Every chunk is 64 MB. Each run is a fresh subprocess, so its
peak memory (ru_maxrss) is its own; runs of the two variants are interleaved
and the median time is reported.

The source array's chunks are all views of one random 64 MB block made
before timing (generating 2 GB of random numbers would cost more than either
softmax and hide the difference); the result is reduced to its sum, so no
result is held. Checked, for what is timed: the sum equals the number of
softmax slices (every probability row sums to 1), and the first rows equal
csoftmax.softmax of the NumPy source.

This file is a script, not a pytest module (nothing runs on import).
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

CASES = {  # name: (chunk shape, softmax axis)
    "rows": ((16384, 1024), -1),
    "split": ((2048, 8192), -1),
}
CHUNKS_ALONG_SPLIT_AXIS = 4
_BASE = {}


def _base_block(chunk):
    """The random chunk every chunk of the source shows (one per process)."""
    if chunk not in _BASE:
        block = np.random.default_rng(0).standard_normal(chunk, dtype=np.float32)
        block *= 4  # in place: the peak memory before the compute is one block
        block.setflags(write=False)
        _BASE[chunk] = block
    return _BASE[chunk]


def _tile(zeros, chunk):
    """A chunk of the source: (a corner of) the base block, never a copy."""
    return _base_block(chunk)[tuple(slice(0, n) for n in zeros.shape)]


def _maxrss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_rss_mb(client):
    """Peak RSS of this process, or the sum over the cluster's workers."""
    return _maxrss_mb() if client is None else sum(client.run(_maxrss_mb).values())


def source(case, gb):
    """A lazy float32 dask array of about `gb` GB whose chunks are the base block."""
    import dask.array as da

    chunk, _ = CASES[case]
    chunk_bytes = chunk[0] * chunk[1] * 4
    n_chunks = max(CHUNKS_ALONG_SPLIT_AXIS, round(gb * 2**30 / chunk_bytes))
    if case == "rows":
        shape = (chunk[0] * n_chunks, chunk[1])
    else:
        shape = (chunk[0] * (n_chunks // CHUNKS_ALONG_SPLIT_AXIS),
                 chunk[1] * CHUNKS_ALONG_SPLIT_AXIS)
    return da.zeros(shape, chunks=chunk, dtype=np.float32).map_blocks(_tile, chunk=chunk,
                                                                      dtype=np.float32)


def dask_primitives_softmax(x, axis):
    """The softmax a Dask user writes with dask.array primitives."""
    import dask.array as da

    e = da.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def csoftmax_softmax(x, axis):
    import csoftmax.dask

    return csoftmax.dask.softmax(x, axis=axis)


VARIANTS = {"csoftmax.dask": csoftmax_softmax, "dask.array": dask_primitives_softmax}


def _compute(y, scheduler, client):
    if client is not None:
        return client.compute(y).result(timeout=600)
    return y.compute(scheduler=scheduler)


def run_one(variant, case, gb, scheduler):
    """One timed run in this process; returns a dict of measurements."""
    import csoftmax

    import bench_dask  # this file as a module, so that a cluster's workers can import it

    client = cluster = None
    if scheduler == "distributed":
        import distributed

        cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                           host="127.0.0.1", dashboard_address=None,
                                           silence_logs=40)
        client = distributed.Client(cluster)
        client.upload_file(bench_dask.__file__)
        client.run(bench_dask._base_block, CASES[case][0])
    chunk, axis = CASES[case]
    x = bench_dask.source(case, gb)
    # thread pool, imports, first calls and the base block, before timing
    _compute(VARIANTS[variant](x[:16], axis).sum(), scheduler, client)
    y = VARIANTS[variant](x, axis)
    total = y.sum()
    rss_before = _peak_rss_mb(client)
    start = time.perf_counter()
    checksum = float(_compute(total, scheduler, client))
    seconds = time.perf_counter() - start
    rss_peak = _peak_rss_mb(client)
    # checks of what was timed
    slices = x.size // x.shape[axis]
    assert abs(checksum - slices) <= 1e-4 * slices, (checksum, slices)
    sample = _compute(y[:64], scheduler, client)
    expected = csoftmax.softmax(_compute(x[:64], scheduler, client), axis=axis)
    np.testing.assert_allclose(sample, expected, rtol=2e-5, atol=1e-12)
    if client is not None:
        client.close()
        cluster.close()
    return {"variant": variant, "case": case, "seconds": seconds, "shape": list(x.shape),
            "gb": x.nbytes / 2**30, "chunks": int(np.prod(x.numblocks)),
            "peak_rss_mb": rss_peak, "rss_before_mb": rss_before}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", default="rows,split")
    parser.add_argument("--scheduler", default="threads", choices=["threads", "distributed"])
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(*args.child, args.gb, args.scheduler)))
        return
    results = {}
    for case in args.cases.split(","):
        for _ in range(args.repeat):
            for variant in VARIANTS:  # interleaved, each run a fresh process
                out = subprocess.run([sys.executable, __file__, "--child", variant, case,
                                      "--gb", str(args.gb), "--scheduler", args.scheduler],
                                     capture_output=True, text=True, check=True, timeout=1200)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                results.setdefault((case, variant), []).append(r)
    print(f"softmax of a float32 array, scheduler={args.scheduler}, median of {args.repeat} "
          "runs (each a fresh process); memory: peak RSS (MB) of the process (of the "
          "workers, summed, on a cluster) and its growth during the compute")
    print(f"{'case':6} {'variant':14} {'shape':>16} {'GB':>5} {'chunks':>6} {'seconds':>8} "
          f"{'GB/s':>6} {'peak MB':>8} {'+MB':>6}")
    for case in args.cases.split(","):
        times = {}
        for variant in VARIANTS:
            rs = results[(case, variant)]
            t = statistics.median(r["seconds"] for r in rs)
            peak = max(r["peak_rss_mb"] for r in rs)
            grow = max(r["peak_rss_mb"] - r["rss_before_mb"] for r in rs)
            times[variant] = t
            r = rs[0]
            print(f"{case:6} {variant:14} {str(tuple(r['shape'])):>16} {r['gb']:5.2f} "
                  f"{r['chunks']:6d} {t:8.3f} {r['gb'] / t:6.2f} {peak:8.0f} {grow:6.0f}")
        print(f"{case:6} speed-up of csoftmax.dask: "
              f"{times['dask.array'] / times['csoftmax.dask']:.2f}x")


if __name__ == "__main__":
    main()
