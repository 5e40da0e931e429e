"""float32 softmax accuracy of csoftmax, SciPy and PyTorch, as a Markdown table.

Max error in ulps of a float64 reference (over elements >= 1e-30), logits
randn * scale, for the row lengths and scales of the README's table:

    python benchmarks/accuracy_table.py [--rows-of N ...]

SciPy and PyTorch are skipped when not installed.
"""
import argparse

import numpy as np

import csoftmax

SCALES = [1, 3, 10, 30, 100]


def reference_softmax(x):
    wide = x.astype(np.float64)
    exps = np.exp(wide - wide.max(axis=-1, keepdims=True))
    return exps / exps.sum(axis=-1, keepdims=True)


def max_ulps(got, reference):
    keep = reference >= 1e-30
    spacing = np.spacing(np.abs(reference[keep]).astype(np.float32)).astype(np.float64)
    return float((np.abs(np.asarray(got)[keep].astype(np.float64) - reference[keep]) / spacing).max())


def implementations():
    found = {"csoftmax": lambda x: csoftmax.softmax(x)}
    try:
        import scipy.special

        found["SciPy"] = lambda x: scipy.special.softmax(x, axis=-1)
    except ImportError:
        pass
    try:
        import torch

        found["PyTorch"] = lambda x: torch.softmax(torch.from_numpy(x), dim=-1).numpy()
    except ImportError:
        pass
    return found


def table(row_lengths, elements=400_000, seed=0):
    rng = np.random.default_rng(seed)
    libraries = implementations()
    lines = ["| library | n | " + " | ".join(f"scale {s}" for s in SCALES) + " |",
             "|---|---|" + "---|" * len(SCALES)]
    cases = {}
    for n in row_lengths:
        for scale in SCALES:
            x = (rng.standard_normal((max(1, elements // n), n)) * scale).astype(np.float32)
            cases[n, scale] = x, reference_softmax(x)
    for name, softmax in libraries.items():
        for n in row_lengths:
            errors = [max_ulps(softmax(x), ref) for x, ref in (cases[n, s] for s in SCALES)]
            lines.append(f"| {name} | {n} | " + " | ".join(f"{e:.1f}" for e in errors) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-of", type=int, nargs="+", default=[10, 1000, 128256],
                        help="row lengths (default: 10 1000 128256)")
    print(table(parser.parse_args().rows_of))


if __name__ == "__main__":
    main()
