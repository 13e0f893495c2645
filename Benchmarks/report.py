"""Merge rankwise-bench and reference timings into one table with ratios.

Reads bench-results/swift.json and bench-results/reference-*.json, prints a
table (median seconds; GFLOP/s for GEMM), and writes bench-results/results.csv
and results.json (with the machine description). Ratios are times relative to
Rankwise's OpenBLAS backend: > 1 means slower than it.
"""
import csv
import glob
import json
import os
import platform
import subprocess
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "bench-results"
documents = []
for path in [os.path.join(out, "swift.json")] + sorted(glob.glob(os.path.join(out, "reference-*.json"))):
    if os.path.exists(path):
        with open(path) as f:
            documents.append(json.load(f))
if not documents:
    sys.exit(f"report.py: no results in {out}/")

records = [r for d in documents for r in d["records"]]
implementations = []
for r in records:
    if r["implementation"] not in implementations:
        implementations.append(r["implementation"])
baseline = "openblas" if "openblas" in implementations else implementations[0]

rows = {}
for r in records:
    rows.setdefault((r["suite"], r["operation"], r["dtype"], r["size"]), {})[r["implementation"]] = r


def cell(r):
    if r is None:
        return "—"
    if r.get("flops"):
        text = f"{r['flops'] / r['median'] / 1e9:7.1f} GF/s"
    elif r.get("bytes"):
        text = f"{r['bytes'] / r['median'] / 1e9:6.2f} GB/s"
    else:
        text = f"{r['median']:9.4f} s"
    if r.get("metricName") == "peak RSS MB":
        text += f" ({r['metric']:.0f} MB)"
    return text


header = ["operation", "dtype", "size"] + implementations + [f"{i}/{baseline}" for i in implementations if i != baseline]
lines = [header]
csv_rows = []
for (suite, op, dtype, size), by_impl in rows.items():
    base = by_impl.get(baseline)
    line = [op, dtype, size] + [cell(by_impl.get(i)) + (" (busy)" if (by_impl.get(i) or {}).get("busy") else "") for i in implementations]
    for i in implementations:
        if i == baseline:
            continue
        other = by_impl.get(i)
        line.append(f"{other['median'] / base['median']:.2f}×" if other and base else "—")
    lines.append(line)
    for i, r in by_impl.items():
        csv_rows.append({
            "suite": suite, "operation": op, "dtype": dtype, "size": size, "implementation": i,
            "median_s": r["median"], "min_s": r["min"], "max_s": r.get("max", ""), "repetitions": r["repetitions"],
            "load": r.get("load", ""), "busy": r.get("busy", ""),
            "gflops": (r["flops"] / r["median"] / 1e9) if r.get("flops") else "",
            "gbytes_per_s": (r["bytes"] / r["median"] / 1e9) if r.get("bytes") else "",
            "metric": r.get("metric", ""), "metric_name": r.get("metricName", ""),
            "time_ratio_to_" + baseline: (r["median"] / base["median"]) if base else "",
        })

widths = [max(len(str(l[c])) for l in lines) for c in range(len(header))]
for l in lines:
    print("  ".join(str(v).ljust(w) for v, w in zip(l, widths)))
print(f"\nratios: median time relative to rankwise/{baseline} (below 1 is faster than it).")
for d in documents:
    if d["meta"].get("note"):
        print(f"note ({', '.join(sorted({r['suite'] for r in d['records']}))}): {d['meta']['note']}")

quality = [q for d in documents for q in d.get("quality", [])]
if quality:
    print("\nQuality on the demo model (4-bit, groups of 64; activation error ‖(W − Ŵ − BA) X‖ / ‖W X‖ over all layers;")
    print("size: packed GPTQ weights + F16 adapter, against the F16 model):")
    print(f"{'quantizer':10s} {'method':16s} {'rank':>4s}  {'act. error':>10s}  {'size':>10s}  {'of F16':>7s}")
    for q in quality:
        print(f"{q['quantizer']:10s} {q['method']:16s} {q['rank'] or '—':>4}  {q['activationError']:10.4f}  "
              f"{q['bytes'] / 1e6:8.2f} MB  {100 * q['bytes'] / q['modelBytes']:6.1f}%")


def machine():
    info = {"platform": platform.platform(), "cores": os.cpu_count(), "python": platform.python_version()}
    try:
        model = [l for l in open("/proc/cpuinfo") if l.startswith("model name")]
        info["cpu"] = model[0].split(":", 1)[1].strip() if model else ""
    except OSError:
        pass
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS"):
        info[var] = os.environ.get(var, "")
    try:
        info["swift"] = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except Exception:
        pass
    return info


with open(os.path.join(out, "results.csv"), "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(csv_rows[0].keys()))
    writer.writeheader()
    writer.writerows(csv_rows)
with open(os.path.join(out, "results.json"), "w") as f:
    json.dump({"machine": machine(), "sources": [d["meta"] for d in documents], "rows": csv_rows, "quality": quality}, f, indent=2)
print(f"wrote {out}/results.csv and {out}/results.json")
