"""Charts from bench-results/results.csv (make bench-plot): GEMM GFLOP/s by
size, and decomposition times by size, one line per implementation."""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else "bench-results"
with open(os.path.join(out, "results.csv")) as f:
    rows = list(csv.DictReader(f))


def series(op, dtype, value):
    by_impl = {}
    for r in rows:
        if r["operation"] == op and r["dtype"] == dtype:
            by_impl.setdefault(r["implementation"], []).append((int(r["size"]), float(r[value])))
    return {k: sorted(v) for k, v in by_impl.items()}


written = []
for dtype in ("float32", "float64"):
    ops = [("gemm", "gflops", "GFLOP/s")] + [(op, "median_s", "seconds") for op in ("svd", "eigh", "cholesky", "qr")]
    fig, axes = plt.subplots(1, len(ops), figsize=(4 * len(ops), 3.4))
    for ax, (op, value, label) in zip(axes, ops):
        for impl, points in series(op, dtype, value).items():
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=impl)
        ax.set_title(f"{op} {dtype}")
        ax.set_xlabel("n")
        ax.set_ylabel(label)
        ax.set_xscale("log", base=2)
        if value == "median_s":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(out, f"linalg-{dtype}.png")
    fig.savefig(path, dpi=110)
    written.append(path)
print("wrote " + ", ".join(written))
