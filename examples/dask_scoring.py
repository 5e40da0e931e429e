"""Score a dataset larger than one chunk with csoftmax.dask on a LocalCluster.

    python examples/dask_scoring.py [--rows 400000] [--classes 1000] [--chunk-rows 50000]

Logits for `rows` examples over `classes` classes are generated chunk by
chunk on the workers (2 processes on 127.0.0.1, nothing else is reached)
and kept there; csoftmax.dask computes the mean cross-entropy against the labels and the
softmax, from which the accuracy and the mean confidence follow: lazy dask
arrays, computed together in one pass over the data. Prints the results and
the throughput.
"""
import argparse
import time

import numpy as np
import dask
import dask.array as da
import distributed

import csoftmax.dask


def score(logits, labels):
    """Lazy scores: mean cross-entropy, accuracy and mean max-probability."""
    loss = csoftmax.dask.cross_entropy(logits, labels)
    probs = csoftmax.dask.softmax(logits)
    accuracy = (probs.argmax(axis=-1) == labels).mean()
    confidence = probs.max(axis=-1).mean()
    return loss, accuracy, confidence


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    args = parser.parse_args()

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        rng = da.random.default_rng(0)
        shape, chunks = (args.rows, args.classes), (args.chunk_rows, args.classes)
        labels = rng.integers(0, args.classes, args.rows, chunks=args.chunk_rows)
        # a model that puts +3 on the right class: confident but not always right
        logits = rng.standard_normal(shape, chunks=chunks, dtype=np.float32)
        is_label = da.arange(args.classes)[None, :] == labels[:, None]
        logits = da.where(is_label, logits + np.float32(3.0), logits)  # stays float32
        # the dataset: generated once and kept in the workers' memory, so that
        # the timing below is the scoring, not the random number generator
        start = time.perf_counter()
        logits, labels = client.persist([logits, labels])
        distributed.wait([logits, labels])
        generated = time.perf_counter() - start
        start = time.perf_counter()
        loss, accuracy, confidence = dask.compute(*score(logits, labels))
        seconds = time.perf_counter() - start
        gb = logits.nbytes / 1e9
        print(f"{args.rows} rows x {args.classes} classes ({gb:.1f} GB of {logits.dtype} logits, "
              f"{logits.numblocks[0]} chunks, generated in {generated:.1f} s) on "
              f"{len(client.scheduler_info()['workers'])} workers")
        print(f"cross-entropy {float(loss):.4f}, accuracy {float(accuracy):.4f}, "
              f"mean max-probability {float(confidence):.4f}")
        print(f"scored in {seconds:.2f} s: {args.rows / seconds:,.0f} rows/s, "
              f"{gb / seconds:.2f} GB/s")

if __name__ == "__main__":
    main()
