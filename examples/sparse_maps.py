"""Plot softmax, entmax-1.5 and sparsemax of one row of scores side by side.

    python examples/sparse_maps.py [--out docs/sparse_maps.png]

The same ten scores go through the three maps: softmax gives every entry
some probability, entmax-1.5 and sparsemax give exact zeros to the low ones
(sparsemax the most). Needs matplotlib.
"""
import argparse
import os

import numpy as np

import csoftmax


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/sparse_maps.png", help="PNG file to write")
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = np.array([2.1, 1.7, 1.5, 0.9, 0.4, 0.1, -0.3, -0.8, -1.2, -2.0])
    maps = [("softmax", csoftmax.softmax(scores)),
            ("entmax-1.5", csoftmax.entmax15(scores)),
            ("sparsemax", csoftmax.sparsemax(scores))]
    fig, axes = plt.subplots(1, 4, figsize=(12, 2.8), sharey=False)
    positions = np.arange(scores.size)
    axes[0].bar(positions, scores, color="0.5")
    axes[0].set_title("scores x")
    for ax, (name, p) in zip(axes[1:], maps):
        ax.bar(positions, p, color="C0")
        ax.set_ylim(0, 0.75)
        nonzero = int(np.count_nonzero(p))
        ax.set_title(f"{name}: {nonzero} of {p.size} nonzero")
    for ax in axes:
        ax.set_xticks(positions)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
