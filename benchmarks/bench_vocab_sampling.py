"""One training step of a language-model output layer: full softmax vs
sampled softmax vs negative sampling (loss + gradients).

    python benchmarks/bench_vocab_sampling.py [--batch 512] [--dim 256]
        [--vocab 50000] [--repeats 7] [--threads 1] [--dtype float32]

Each step computes the loss and the gradients w.r.t. the hidden states,
the output weights and the biases:

- full:      logits = h @ W.T + b; csoftmax.cross_entropy(return_grad=True);
             dW = G.T @ h (dense), dh = G @ W, db = G.sum(0)
- sampled:   csoftmax.vocab.sampled_softmax_loss (log-uniform, unique, as
             TensorFlow), dW and db sparse over the touched classes
- negative:  csoftmax.vocab.negative_sampling_loss with K negatives per
             example, dW sparse

Every variant's loss and gradient are checked against a float64 NumPy
computation before timing. Runs are interleaved (one of each variant per
round) and the median per variant is reported with its speed-up over the
full softmax, all measured in this run. BLAS and csoftmax use --threads
threads (default 1: a steady number on a shared machine).
"""
import argparse
import time

import numpy as np
from scipy import special
from threadpoolctl import threadpool_limits

import csoftmax
from csoftmax.vocab import negative_sampling_loss, sampled_softmax_loss
from csoftmax.vocab._samplers import class_probability, sample_candidates

SEED = 0


def full_step(h, W, b, target):
    logits = h @ W.T
    logits += b
    loss, grad = csoftmax.cross_entropy(logits, target, return_grad=True)
    return loss, (grad @ W, grad.T @ h, grad.sum(axis=0))


def sampled_step(h, W, b, target, num_sampled):
    return sampled_softmax_loss(h, W, b, target, num_sampled, seed=SEED, return_grad=True)


def negative_step(h, W, target, negatives):
    return negative_sampling_loss(h, W, target, negatives, return_grad=True)


# ---------------------------------------------------------------- checks (float64, untimed)

def _close(name, got, want, rtol):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max(),
                               err_msg=name)


def check_full(result, h, W, b, target, rtol):
    loss, (dh, dW, db) = result
    logits = h @ W.T + b
    rows = np.arange(h.shape[0])
    _close("full loss", loss, np.mean(special.logsumexp(logits, axis=1) - logits[rows, target]),
           rtol)
    grad = special.softmax(logits, axis=1)
    grad[rows, target] -= 1.0
    grad /= h.shape[0]
    _close("full dh", dh, grad @ W, rtol)
    _close("full dW", dW, grad.T @ h, rtol)
    _close("full db", db, grad.sum(axis=0), rtol)


def check_sampled(result, h, W, b, target, num_sampled, rtol):
    """TensorFlow's sampled softmax written out in float64 for the same draw."""
    loss, (dh, (rows, dW), (_, db)) = result
    C, batch = W.shape[0], h.shape[0]
    ids, counts, tries = sample_candidates("log_uniform", num_sampled, C,
                                           np.random.default_rng(SEED))
    p_true = class_probability("log_uniform", target, C)
    true_count = -np.expm1(tries * np.log1p(-p_true)) if tries > num_sampled else \
        num_sampled * p_true
    logits = np.concatenate([(np.sum(h * W[target], axis=1) + b[target]
                              - np.log(true_count))[:, None],
                             h @ W[ids].T + b[ids] - np.log(counts)], axis=1)
    logits[:, 1:][target[:, None] == ids[None, :]] = -np.inf
    _close("sampled loss", loss, np.mean(special.logsumexp(logits, axis=1) - logits[:, 0]),
           rtol)
    grad = special.softmax(logits, axis=1)
    grad[:, 0] -= 1.0
    grad /= batch
    _close("sampled dh", dh, grad[:, :1] * W[target] + grad[:, 1:] @ W[ids], rtol)
    dense_w = np.zeros_like(W)
    np.add.at(dense_w, target, grad[:, :1] * h)
    np.add.at(dense_w, ids, grad[:, 1:].T @ h)
    dense_b = np.zeros(C)
    np.add.at(dense_b, target, grad[:, 0])
    np.add.at(dense_b, ids, grad[:, 1:].sum(axis=0))
    assert rows.tolist() == np.union1d(target, ids).tolist()
    _close("sampled dW", dW, dense_w[rows], rtol)
    _close("sampled db", db, dense_b[rows], rtol)


def check_negative(result, h, W, target, negatives, rtol):
    loss, (dh, (rows, dW)) = result
    positive = np.sum(h * W[target], axis=1)
    negative = np.einsum("bd,bkd->bk", h, W[negatives])
    _close("negative loss", loss, np.mean(np.logaddexp(0, -positive)
                                          + np.logaddexp(0, negative).sum(axis=1)), rtol)
    g_pos = -special.expit(-positive) / h.shape[0]
    g_neg = special.expit(negative) / h.shape[0]
    _close("negative dh", dh, g_pos[:, None] * W[target]
           + np.einsum("bk,bkd->bd", g_neg, W[negatives]), rtol)
    dense_w = np.zeros_like(W)
    np.add.at(dense_w, target, g_pos[:, None] * h)
    np.add.at(dense_w, negatives.ravel(), (g_neg[:, :, None] * h[:, None, :]).reshape(-1,
                                                                                     h.shape[1]))
    _close("negative dW", dW, dense_w[rows], rtol)


# ---------------------------------------------------------------- timing

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--vocab", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--sampled", type=int, nargs="+", default=[64, 1024])
    parser.add_argument("--negatives", type=int, nargs="+", default=[5, 20])
    args = parser.parse_args()

    rng = np.random.default_rng(1)
    h64 = rng.normal(size=(args.batch, args.dim))
    W64 = rng.normal(scale=args.dim ** -0.5, size=(args.vocab, args.dim))
    b64 = rng.normal(scale=0.1, size=args.vocab)
    # Zipf-like targets: frequent words have small ids, as the log-uniform sampler assumes
    target = np.minimum(rng.zipf(1.2, size=args.batch) - 1, args.vocab - 1)
    h, W, b = (a.astype(args.dtype) for a in (h64, W64, b64))
    rtol = 2e-4 if args.dtype == "float32" else 1e-9

    steps = {"full softmax": lambda: full_step(h, W, b, target)}
    checks = {"full softmax": lambda r: check_full(r, h64, W64, b64, target, rtol)}
    for s in args.sampled:
        steps[f"sampled S={s}"] = lambda s=s: sampled_step(h, W, b, target, s)
        checks[f"sampled S={s}"] = lambda r, s=s: check_sampled(r, h64, W64, b64, target, s,
                                                                  rtol)
    for k in args.negatives:
        negatives = rng.integers(0, args.vocab, size=(args.batch, k))
        steps[f"negative K={k}"] = lambda n=negatives: negative_step(h, W, target, n)
        checks[f"negative K={k}"] = lambda r, n=negatives: check_negative(r, h64, W64, target,
                                                                          n, rtol)

    with threadpool_limits(args.threads):
        csoftmax.set_num_threads(args.threads)
        for name, step in steps.items():
            checks[name](step())  # also a warm-up
        times = {name: [] for name in steps}
        for _ in range(args.repeats):
            for name, step in steps.items():
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)

    full = np.median(times["full softmax"])
    print(f"batch {args.batch}, dim {args.dim}, vocab {args.vocab}, {args.dtype}, "
          f"{args.threads} thread(s), median of {args.repeats} interleaved runs; "
          "all results checked against float64 NumPy")
    print(f"{'step (loss + dh, dW, db)':<26}{'ms':>10}{'speed-up vs full':>20}")
    for name, samples in times.items():
        median = np.median(samples)
        print(f"{name:<26}{median * 1e3:>10.2f}{full / median:>19.1f}x")


if __name__ == "__main__":
    main()
