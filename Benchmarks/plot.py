"""Charts from bench-results/results.csv (make bench-plot): GEMM GFLOP/s by
size and decomposition times by size, one line per implementation; and one
bar chart of every other row (EoRA, randomized SVD, kernel regression,
merging) as time relative to Rankwise/OpenBLAS."""
import csv
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else "bench-results"
with open(os.path.join(out, "results.csv")) as f:
    rows = list(csv.DictReader(f))


def caption():
    """The machine and backends behind the numbers, for every chart."""
    try:
        with open(os.path.join(out, "results.json")) as f:
            document = json.load(f)
    except OSError:
        return ""
    swift = next((m for m in document.get("sources", []) if "native_kernel" in m), {})
    machine = document.get("machine", {})
    parts = [swift.get("cpu_model") or machine.get("cpu", ""), swift.get("instruction_sets", ""),
             f"OpenBLAS core {swift.get('openblas_core', '?')} (OPENBLAS_CORETYPE {swift.get('openblas_coretype_env', '?')})",
             f"native kernel {swift.get('native_kernel', '?')}", f"{swift.get('threads', '?')} threads",
             f"load {swift.get('load_average', '?')}"]
    busy = sum(1 for r in rows if r.get("busy") == "True")
    if busy:
        parts.append(f"{busy} rows measured on a busy machine")
    return " · ".join(p for p in parts if p)


CAPTION = caption()


def series(op, dtype, value):
    by_impl = {}
    for r in rows:
        if r["operation"] == op and r["dtype"] == dtype:
            by_impl.setdefault(r["implementation"], []).append((int(r["size"]), float(r[value])))
    return {k: sorted(v) for k, v in by_impl.items()}


written = []
linalg = [r for r in rows if r["suite"] == "linalg"]
for dtype in sorted({r["dtype"] for r in linalg}):
    ops = [("gemm", "gflops", "GFLOP/s")] + [(op, "median_s", "seconds") for op in ("svd", "eigh", "cholesky", "qr")]
    fig, axes = plt.subplots(1, len(ops), figsize=(4 * len(ops), 3.4))
    for ax, (op, value, label) in zip(axes, ops):
        for impl, points in series(op, dtype, value).items():
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=impl)
        if op == "gemm":   # the AVX2 builds (gemm-avx2 suite), dashed
            for impl, points in series("gemm, AVX2 kernel vs Haswell core", dtype, value).items():
                name = "native, AVX2 kernel" if impl == "native" else f"{impl}, Haswell core"
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="x", linestyle="--", label=name)
        ax.set_title(f"{op} {dtype}")
        ax.set_xlabel("n")
        ax.set_ylabel(label)
        ax.set_xscale("log", base=2)
        if value == "median_s":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        if ax.get_lines():
            ax.legend(fontsize=7)
    fig.text(0.01, 0.005, CAPTION, fontsize=6, ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    path = os.path.join(out, f"linalg-{dtype}.png")
    fig.savefig(path, dpi=110)
    written.append(path)
others = [r for r in rows if r["suite"] != "linalg" and r.get("time_ratio_to_openblas")]
if others:
    labels = sorted({(r["suite"], r["operation"], r["size"]) for r in others})
    impls = sorted({r["implementation"] for r in others}, key=lambda i: (i != "openblas", i))
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(labels)), 3.8))
    width = 0.8 / len(impls)
    for k, impl in enumerate(impls):
        ratio = {(r["suite"], r["operation"], r["size"]): float(r["time_ratio_to_openblas"]) for r in others if r["implementation"] == impl}
        xs = [i + k * width for i, key in enumerate(labels) if key in ratio]
        ax.bar(xs, [ratio[key] for key in labels if key in ratio], width, label=impl)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(labels))])
    ax.set_xticklabels([f"{op}\n{size}" for _, op, size in labels], fontsize=7)
    ax.axhline(1, color="black", linewidth=0.8)
    ax.set_yscale("log")   # ratios: 2× slower and 2× faster are the same distance from 1
    ax.set_ylabel("time / Rankwise (OpenBLAS), log scale")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    fig.text(0.01, 0.005, CAPTION, fontsize=6, ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    path = os.path.join(out, "algorithms.png")
    fig.savefig(path, dpi=110)
    written.append(path)
print("wrote " + ", ".join(written))
