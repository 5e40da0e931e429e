"""``python -m csoftmax demo [--plot FILE.png]``: SoftmaxRegression against
scikit-learn's LogisticRegression on the bundled digits data (no download).

Needs scikit-learn (and matplotlib for --plot): pip install csoftmax[sklearn].
"""
import argparse
import sys
import time

import numpy as np

REPEATS = 5


def digits_split():
    """Standardised digits (1797 8x8 images, 10 classes), 75/25 stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def models():
    """Both estimators at their defaults (C=1, tol=1e-4), as a user swapping one
    for the other would run them."""
    from sklearn.linear_model import LogisticRegression

    from ._regression import SoftmaxRegression

    return {
        "csoftmax.SoftmaxRegression": SoftmaxRegression,
        "sklearn LogisticRegression": LogisticRegression,
    }


def timed_fits(makers, X, y, repeats=REPEATS):
    """Fits every model `repeats` times on one thread (BLAS and OpenMP limited
    through threadpoolctl, SoftmaxRegression's own threads too), interleaved so
    that machine load hits all alike; returns {name: (last fitted model,
    median seconds)}."""
    from threadpoolctl import threadpool_limits

    seconds = {name: [] for name in makers}
    fitted = {}
    with threadpool_limits(1):
        for _ in range(repeats):
            for name, make in makers.items():
                model = make()
                start = time.perf_counter()
                model.fit(X, y)
                seconds[name].append(time.perf_counter() - start)
                fitted[name] = model
    return {name: (fitted[name], float(np.median(seconds[name]))) for name in makers}


def reliability(proba, y_true, classes, bins=10):
    """Per confidence bin of the top class: (mean confidence, accuracy, count),
    and the expected calibration error."""
    confidence = proba.max(axis=1)
    correct = classes[proba.argmax(axis=1)] == y_true
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    count = np.bincount(which, minlength=bins)
    filled = count > 0
    mean_conf = np.bincount(which, confidence, bins)[filled] / count[filled]
    accuracy = np.bincount(which, correct, bins)[filled] / count[filled]
    ece = float(np.sum(count[filled] * np.abs(accuracy - mean_conf)) / len(y_true))
    return mean_conf, accuracy, count[filled], ece


def plot(path, results, X_test, y_test):
    """Confusion matrix of SoftmaxRegression and the reliability diagram of both models."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from sklearn.metrics import confusion_matrix

    ours, _ = results["csoftmax.SoftmaxRegression"]
    fig = Figure(figsize=(11, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax_cm, ax_rel = fig.subplots(1, 2, width_ratios=[1, 1.1])

    cm = confusion_matrix(y_test, ours.predict(X_test), labels=ours.classes_)
    ax_cm.imshow(cm, cmap="Blues")
    for (i, j), value in np.ndenumerate(cm):
        if value:
            ax_cm.text(j, i, str(value), ha="center", va="center", fontsize=8,
                       color="white" if value > cm.max() / 2 else "black")
    ticks = np.arange(len(ours.classes_))
    ax_cm.set(xticks=ticks, yticks=ticks, xticklabels=ours.classes_, yticklabels=ours.classes_,
              xlabel="predicted digit", ylabel="true digit",
              title=f"SoftmaxRegression confusion matrix (accuracy "
                    f"{ours.score(X_test, y_test):.1%})")

    ax_rel.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    # the two models reach the same optimum, so their curves coincide: hollow
    # large markers for ours keep the other visible inside them
    styles = [dict(marker="o", markersize=11, markerfacecolor="none", linewidth=2.5),
              dict(marker="s", markersize=4, linestyle="--")]
    for (name, (model, _)), style in zip(results.items(), styles):
        conf, acc, count, ece = reliability(model.predict_proba(X_test), y_test, model.classes_)
        ax_rel.plot(conf, acc, label=f"{name} (ECE {ece:.3f})", **style)
    for x, y, n in zip(conf, acc, count):
        ax_rel.annotate(f"n={n}", (x, y), textcoords="offset points", xytext=(0, -18),
                        ha="center", fontsize=7, color="dimgrey")
    ax_rel.set(xlim=(0, 1.02), ylim=(0, 1.05), xlabel="confidence (top-class probability)",
               ylabel="accuracy", title="Reliability diagram, test set (10 bins)")
    ax_rel.legend(loc="lower right")
    fig.savefig(path, dpi=110)


def main(argv=()):
    parser = argparse.ArgumentParser(
        prog="python -m csoftmax demo",
        description="SoftmaxRegression vs sklearn LogisticRegression on the digits data")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="save a confusion matrix and a reliability diagram")
    args = parser.parse_args(list(argv))
    try:
        import sklearn  # noqa: F401
        if args.plot:
            import matplotlib  # noqa: F401
    except ImportError as error:
        print(f"python -m csoftmax demo needs scikit-learn (and matplotlib for --plot): "
              f"{error}; pip install 'csoftmax[sklearn]' matplotlib", file=sys.stderr)
        return 2

    X_train, X_test, y_train, y_test = digits_split()
    print(f"digits: {len(y_train)} training and {len(y_test)} test images, "
          f"{X_train.shape[1]} standardised features, 10 classes")
    print(f"both estimators at their defaults (C=1, tol=1e-4), one thread; fit time is the "
          f"median of {REPEATS} interleaved fits\n")
    results = timed_fits(models(), X_train, y_train)
    print(f"{'model':28s} {'accuracy':>9s} {'fit time':>10s} {'iterations':>11s}")
    for name, (model, seconds) in results.items():
        n_iter = int(np.max(model.n_iter_))
        print(f"{name:28s} {model.score(X_test, y_test):9.2%} {seconds * 1e3:8.1f} ms "
              f"{n_iter:11d}")
    (_, ours), (_, theirs) = results.values()
    print(f"\nSoftmaxRegression fits {theirs / ours:.2f}x as fast as LogisticRegression")
    if args.plot:
        plot(args.plot, results, X_test, y_test)
        print(f"plot saved to {args.plot}")
    return 0
