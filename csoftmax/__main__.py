"""Command line: ``python -m csoftmax [bench [options] | demo [options] | info]``."""

import sys

USAGE = """\
usage: python -m csoftmax                 short demo and a quick speed table
       python -m csoftmax bench [--plot FILE.png] [--threads N] [--quick]
                                          full speed table against NumPy, SciPy, PyTorch
       python -m csoftmax bench --sweep [--plot FILE.png] [--quick] [--markdown FILE.md]
                                          ratios over row lengths 2 to 1M, layouts, dtypes,
                                          ops, masks and temperatures
       python -m csoftmax demo [--plot FILE.png]
                                          SoftmaxRegression vs scikit-learn on the digits data
       python -m csoftmax info            build and runtime configuration"""


def demo():
    import numpy as np

    import csoftmax

    x = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    with np.printoptions(precision=4, suppress=True):
        print(f"csoftmax {csoftmax.__version__}")
        print(f"x                         = {x}")
        print(f"softmax(x)                = {csoftmax.softmax(x)}")
        print(f"softmax(x, temperature=2) = {csoftmax.softmax(x, temperature=2.0)}")
        print(f"log_softmax(x)            = {csoftmax.log_softmax(x)}")
        print(f"logsumexp(x)              = {csoftmax.logsumexp(x):.4f}")
    print()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        from csoftmax._bench import run_bench

        demo()
        run_bench(quick=True)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "bench":
        from csoftmax._bench import main as bench_main

        return bench_main(rest)
    if command == "demo":
        from csoftmax._demo import main as demo_main

        return demo_main(rest)
    if command == "info" and not rest:
        import csoftmax

        csoftmax.show_config()
        return 0
    if command in ("-h", "--help") and not rest:
        print(USAGE)
        return 0
    print(f"python -m csoftmax: unknown command {' '.join(argv)!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
