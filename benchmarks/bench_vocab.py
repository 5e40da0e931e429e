"""Large-vocabulary output layers: one training step's loss and gradients,
full softmax cross-entropy against its approximations (csoftmax.vocab), on a
small language-model-style task.

    python benchmarks/bench_vocab.py                 # hidden 256, vocabulary 50,000, batch 512
    python benchmarks/bench_vocab.py --train 30      # the runnable example: SGD steps, loss going down
    python benchmarks/bench_vocab.py --vocab 5000 --repeats 3 --threads 1

Task: the targets of a batch are drawn from a Zipfian class distribution
(p(c) proportional to 1 / (c + 1), class 0 most frequent), as word
frequencies are; hidden vectors are the last layer's activations (random
here). A step computes what training needs: the loss and its gradient
w.r.t. the hidden vectors and every output-layer parameter. For the full
softmax that is logits = h @ W.T + b, csoftmax.cross_entropy with
return_grad=True, then dW = G.T @ h, dh = G @ W, db = G.sum(0).

Every method's result is checked before it is timed (finite loss, finite
gradients, agreement with an independent reference). Methods are timed in
interleaved rounds (one step of each per round), and the speed-up over the
full softmax is the median of the per-round ratios, so slow drifts of a
shared machine hit both sides of a ratio alike. Not collected by pytest
(the file name does not start with test_); it imports nothing from the
other benchmark files.
"""
import argparse
import statistics
import time

import numpy as np

import csoftmax
from csoftmax.vocab import AdaptiveSoftmax, HierarchicalSoftmax


# ---------------------------------------------------------------- the task

class Task:
    """Zipfian targets and hidden vectors for a vocabulary of `vocab` words."""

    def __init__(self, hidden=256, vocab=50_000, batch=512, dtype=np.float32, seed=0):
        rng = np.random.default_rng(seed)
        self.dim, self.vocab, self.batch, self.dtype = hidden, vocab, batch, np.dtype(dtype)
        self.frequencies = 1.0 / np.arange(1, vocab + 1)
        self.frequencies /= self.frequencies.sum()
        self.rng = rng
        self.h, self.target = self.sample_batch()

    def sample_batch(self):
        target = self.rng.choice(self.vocab, size=self.batch, p=self.frequencies)
        h = self.rng.standard_normal((self.batch, self.dim)).astype(self.dtype)
        return h, target


# ---------------------------------------------------------------- one method per class
# A method holds its output layer's parameters and offers
#   step(h, target) -> (loss, grads)   grads: dict, 'hidden' plus one entry per parameter
#   check(task)                        raises AssertionError if its results are wrong
#   parameters() -> dict name -> ndarray (the arrays step's grads refer to, for SGD)

class FullSoftmax:
    name = "full softmax cross_entropy"

    def __init__(self, task, seed=1):
        rng = np.random.default_rng(seed)
        bound = 1.0 / np.sqrt(task.dim)
        self.weight = rng.uniform(-bound, bound, (task.vocab, task.dim)).astype(task.dtype)
        self.bias = np.zeros(task.vocab, task.dtype)

    def parameters(self):
        return {"weight": self.weight, "bias": self.bias}

    def step(self, h, target):
        logits = h @ self.weight.T
        logits += self.bias
        loss, grad = csoftmax.cross_entropy(logits, target, return_grad=True)
        return loss, {"hidden": grad @ self.weight, "weight": grad.T @ h, "bias": grad.sum(axis=0)}

    def check(self, task):
        loss, grads = self.step(task.h, task.target)
        logits = task.h.astype(np.float64) @ self.weight.T.astype(np.float64) + self.bias
        top = logits.max(axis=1, keepdims=True)
        log_z = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
        reference = np.mean(log_z - logits[np.arange(task.batch), task.target])
        assert abs(loss - reference) <= 1e-4 * abs(reference), (loss, reference)
        assert all(np.all(np.isfinite(g)) for g in grads.values())


class Hierarchical:
    name = "HierarchicalSoftmax"

    def __init__(self, task, seed=1):
        self.model = HierarchicalSoftmax(task.frequencies * 1e9, task.dim, seed=seed,
                                         dtype=task.dtype)

    def parameters(self):
        return {"node_weight": self.model.node_weight, "node_bias": self.model.node_bias}

    def step(self, h, target):
        return self.model.loss(h, target, return_grad=True)

    def check(self, task):
        loss, grads = self.step(task.h, task.target)
        # the top-down pass over the whole tree (a BLAS product and another
        # kernel) must give the same target log-probabilities as the path walk
        rows = slice(0, 32)
        log_proba = self.model.log_proba(task.h[rows]).astype(np.float64)
        expected = log_proba[np.arange(32), task.target[rows]]
        np.testing.assert_allclose(self.model.log_prob(task.h[rows], task.target[rows]),
                                   expected, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(np.exp(log_proba).sum(axis=1), 1.0, rtol=1e-4)
        assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())


class Adaptive:
    def __init__(self, task, seed=1, cutoffs=(2000, 10_000)):
        cutoffs = [c for c in cutoffs if c < task.vocab] or [task.vocab // 2]
        self.name = f"AdaptiveSoftmax {cutoffs}"
        self.model = AdaptiveSoftmax(task.dim, task.vocab, cutoffs, seed=seed, dtype=task.dtype)

    def parameters(self):
        params = {"head_weight": self.model.head_weight}
        for i, (proj, out) in enumerate(self.model.tail):
            params[f"tail{i}_proj"], params[f"tail{i}_out"] = proj, out
        return params

    def step(self, h, target):
        loss, grads = self.model.loss(h, target, return_grad=True)
        for i, (d_proj, d_out) in enumerate(grads.pop("tail")):
            grads[f"tail{i}_proj"], grads[f"tail{i}_out"] = d_proj, d_out
        return loss, grads

    def check(self, task):
        loss, grads = self.step(task.h, task.target)
        # the full log_prob (log_softmax kernels) must agree with the loss
        # (fused cross-entropy kernels, tails only on their own targets)
        rows = slice(0, 64)
        log_prob = self.model.log_prob(task.h[rows]).astype(np.float64)
        np.testing.assert_allclose(np.exp(log_prob).sum(axis=1), 1.0, rtol=1e-4)
        expected = -np.mean(log_prob[np.arange(64), task.target[rows]])
        partial = self.model.loss(task.h[rows], task.target[rows])
        assert abs(partial - expected) <= 1e-4 * abs(expected), (partial, expected)
        assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())


class TorchAdaptive:
    """PyTorch's AdaptiveLogSoftmaxWithLoss, forward + backward, with the same
    weights as Adaptive: the peer the adaptive softmax is measured against."""
    name = "torch AdaptiveLogSoftmaxWithLoss"

    def __init__(self, task, seed=1):
        import torch

        self.torch, self.ours = torch, Adaptive(task, seed)
        model = self.ours.model
        self.module = torch.nn.AdaptiveLogSoftmaxWithLoss(
            task.dim, task.vocab, model.cutoffs[:-1], div_value=model.div_value)
        self.module.to(torch.float64 if task.dtype == np.float64 else torch.float32)
        with torch.no_grad():
            self.module.head.weight.copy_(torch.from_numpy(model.head_weight))
            for (proj, out), seq in zip(model.tail, self.module.tail):
                seq[0].weight.copy_(torch.from_numpy(proj))
                seq[1].weight.copy_(torch.from_numpy(out))

    def parameters(self):
        return {name: p.detach().numpy() for name, p in self.module.named_parameters()}

    def step(self, h, target):
        self.module.zero_grad(set_to_none=True)
        hidden = self.torch.tensor(h, requires_grad=True)
        loss = self.module(hidden, self.torch.from_numpy(target)).loss
        loss.backward()
        grads = {name: p.grad.numpy() for name, p in self.module.named_parameters()
                 if p.grad is not None}
        return loss.item(), dict(grads, hidden=hidden.grad.numpy())

    def check(self, task):
        loss, grads = self.step(task.h, task.target)
        expected, ours = self.ours.step(task.h, task.target)
        assert abs(loss - expected) <= 1e-4 * abs(expected), (loss, expected)
        np.testing.assert_allclose(grads["hidden"], ours["hidden"], rtol=1e-3, atol=1e-6)


# The methods compared, the full softmax first (the ratios' reference).
# ---- sampled_softmax_loss and negative_sampling_loss go here: add a class
# ---- with the same four members (name, parameters, step, check) and list it.
METHODS = [FullSoftmax, Hierarchical, Adaptive]
try:  # PyTorch, when installed, as the adaptive softmax's peer (not trained by --train)
    import torch  # noqa: F401

    PEERS = [TorchAdaptive]
except ImportError:
    PEERS = []


# ---------------------------------------------------------------- timing

def time_methods(methods, task, repeats):
    """Seconds per step of each method in `repeats` interleaved rounds."""
    times = {m.name: [] for m in methods}
    for _ in range(repeats):
        for method in methods:
            start = time.perf_counter()
            method.step(task.h, task.target)
            times[method.name].append(time.perf_counter() - start)
    return times


def benchmark(task, repeats):
    methods = [cls(task) for cls in METHODS + PEERS]
    for method in methods:
        method.check(task)
        method.step(task.h, task.target)  # warm-up: page faults, BLAS threads
    times = time_methods(methods, task, repeats)

    def speedup(slow, fast):
        """median over rounds of slow time / fast time"""
        return statistics.median(a / b for a, b in zip(times[slow], times[fast]))

    print(f"loss + gradients per step: hidden {task.dim}, vocabulary {task.vocab:,}, "
          f"batch {task.batch}, {task.dtype}, {csoftmax.get_num_threads()} csoftmax threads, "
          f"{repeats} interleaved rounds")
    print(f"{'method':34s} {'median ms':>10s} {'min ms':>8s} {'speed-up vs full':>17s}")
    for method in methods:
        t = times[method.name]
        print(f"{method.name:34s} {1e3 * statistics.median(t):10.2f} {1e3 * min(t):8.2f} "
              f"{speedup(methods[0].name, method.name):16.1f}x")
    for peer in methods:
        if isinstance(peer, TorchAdaptive):
            print(f"AdaptiveSoftmax vs {peer.name}: {speedup(peer.name, peer.ours.name):.1f}x")
    return times


def train(task, steps, learning_rate):
    """The runnable example: plain SGD on the output layer and on a learnable
    hidden input per example slot, printing each method's loss."""
    for cls in METHODS:
        method = cls(task)
        params = method.parameters()
        h = task.h.copy()
        losses = []
        for _ in range(steps):
            loss, grads = method.step(h, task.target)
            losses.append(float(loss))
            h -= learning_rate * task.batch * grads["hidden"]
            for name, array in params.items():
                array -= learning_rate * grads[name]
        print(f"{method.name:34s} loss {losses[0]:.3f} -> {losses[-1]:.3f} in {steps} steps")
        assert losses[-1] < losses[0], f"{method.name}: SGD did not lower the loss"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--vocab", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--float64", action="store_true", help="compute in float64")
    parser.add_argument("--repeats", type=int, default=9, help="interleaved timing rounds")
    parser.add_argument("--threads", type=int, default=None,
                        help="csoftmax threads (and BLAS threads, if threadpoolctl is installed)")
    parser.add_argument("--train", type=int, default=0, metavar="STEPS",
                        help="run the training example for STEPS steps instead of timing")
    parser.add_argument("--lr", type=float, default=0.5, help="SGD learning rate (--train)")
    args = parser.parse_args(argv)
    task = Task(args.hidden, args.vocab, args.batch, np.float64 if args.float64 else np.float32)
    limits = None
    if args.threads is not None:
        csoftmax.set_num_threads(args.threads)
        if PEERS:
            torch.set_num_threads(args.threads)
        try:
            from threadpoolctl import threadpool_limits
            limits = threadpool_limits(args.threads)
        except ImportError:
            print("threadpoolctl is not installed: BLAS keeps its own thread count")
    try:
        if args.train:
            train(task, args.train, args.lr)
        else:
            benchmark(task, args.repeats)
    finally:
        if limits is not None:
            limits.unregister()


if __name__ == "__main__":
    main()
