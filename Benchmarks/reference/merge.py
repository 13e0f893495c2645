"""The merge rows of `make bench`: Fisher merging of four float32 models with their
Fishers (four 1 GB models + four 1 GB Fishers; --quick: 64 MB each), then mergekit's
ties, dare_ties (three models on a base) and slerp from YAML configs, end to end
(read, merge, write), as input throughput in GB/s with each process's peak RSS.
Results are checked against numpy: equal for Fisher, ties and slerp; for DARE,
whose drops are random, by their statistics (share of entries dropped, L1 rescale).

Two implementations run in the same invocation on the same files, each in a
fresh child process so that peak RSS is its own:
  openblas  the built `rankwise merge --method fisher` (.build/release/rankwise)
  numpy     the same formula (spec/algorithms.md) in numpy, memory-mapping the
            inputs and writing one safetensors file

Usage: merge.py [--quick] [--repetitions N] [--threads N] [--output DIR]
       [--rankwise PATH] [--keep-data]
"""
import json
import os
import shutil
import sys
import time

from common import Harness, limit_threads, parse_args, run_child

args = parse_args(sys.argv[1:])
limit_threads(args["threads"])

import numpy as np  # noqa: E402


def read_safetensors(path):
    """name -> read-only float32 memmap view (the files written below are F32 only)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[name] = data[start:end].view(np.float32).reshape(info["shape"])
    return out


def write_safetensors(path, tensors):
    """tensors: list of (name, shape, producer) with producer() -> float32 array, written one at a time."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, _ in tensors:
        size = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for _, _, produce in tensors:
            f.write(np.ascontiguousarray(produce(), dtype=np.float32).tobytes())
    os.replace(tmp, path)


def numpy_fisher_merge(models, fishers, out, floor=1e-6):
    """theta = sum(l'_i F~_i theta_i) / sum(l'_i F~_i), l'_i = 1 / ||F_i||_2 (equal weights,
    normalised), F~_0 = max(F_0, floor); the plain mean where the denominator is 0."""
    ms = [read_safetensors(p) for p in models]
    fs = [read_safetensors(p) for p in fishers]
    norms = [np.sqrt(sum(float(np.dot(t.ravel().astype(np.float64), t.ravel().astype(np.float64))) for t in f.values())) for f in fs]
    lam = [1.0 / n if n > 0 else 1.0 for n in norms]

    def merged(name):
        num = np.zeros(ms[0][name].shape, dtype=np.float64)
        den = np.zeros_like(num)
        plain = np.zeros_like(num)
        for i, (m, f) in enumerate(zip(ms, fs)):
            fi = f[name].astype(np.float64)
            if i == 0:
                np.maximum(fi, floor, out=fi)
            fi *= lam[i]
            den += fi
            fi *= m[name]
            num += fi
            plain += lam[i] * m[name].astype(np.float64)
        return np.where(den > 0, num / np.where(den > 0, den, 1), plain / sum(lam)).astype(np.float32)

    write_safetensors(out, [(name, t.shape, lambda name=name: merged(name)) for name, t in ms[0].items()])


def largest(a, k):
    """Mask of the k largest entries of a, ties at the k-th value going to the earlier positions (mergekit's
    topk leaves their order open; Rankwise takes the earlier ones, and at 2^26 entries per tensor float32 ties
    occur)."""
    mask = np.zeros(a.size, dtype=bool)
    if k <= 0:
        return mask
    t = np.partition(a, a.size - k)[a.size - k]
    mask = a > t
    mask[np.flatnonzero(a == t)[:k - int(mask.sum())]] = True
    return mask


def numpy_ties(base, models, out, density=0.5):
    """mergekit's ties (research note 4.2/4.3): per tensor, each delta keeps its int(density·n) largest |δ|,
    weights 1, majority sign of Σδ, the disjoint mean of the agreeing deltas (normalize), added to the base."""
    b = read_safetensors(base)
    ms = [read_safetensors(p) for p in models]

    def merged(name):
        base_t = b[name].astype(np.float64).ravel()
        deltas = []
        for m in ms:
            d = m[name].astype(np.float64).ravel() - base_t
            deltas.append(np.where(largest(np.abs(d), int(density * d.size)), d, 0.0))
        D = np.stack(deltas)
        sign = np.where(D.sum(0) >= 0, 1.0, -1.0)
        mask = np.sign(D) == sign
        total = (D * mask).sum(0)
        div = mask.sum(0).astype(np.float64)
        div[div == 0] = 1
        return (base_t + total / div).reshape(b[name].shape).astype(np.float32)

    write_safetensors(out, [(name, t.shape, lambda name=name: merged(name)) for name, t in b.items()])


def numpy_dare_ties(base, models, out, density=0.5, seed=0):
    """mergekit's dare_ties (research note 4.2/4.3) with its defaults but density 0.5: per tensor, each model's delta
    keeps each entry with probability `density` (numpy's generator here, torch's in mergekit, Rankwise's own seeded
    stream: the masks differ, only their statistics compare), rescaled by sum|delta| / sum|kept| (current mergekit's
    L1 rescale, skipped when either sum is below 1e-7), weights 1, the majority sign of the sum, the agreeing deltas
    summed (normalize off), added to the base."""
    b = read_safetensors(base)
    ms = [read_safetensors(p) for p in models]
    rng = np.random.default_rng(seed)

    def merged(name):
        base_t = b[name].astype(np.float64).ravel()
        deltas = []
        for m in ms:
            d = m[name].astype(np.float64).ravel() - base_t
            kept = np.where(rng.random(d.size) < density, d, 0.0)
            before, after = np.abs(d).sum(), np.abs(kept).sum()
            if before >= 1e-7 and after >= 1e-7:
                kept *= before / after
            deltas.append(kept)
        D = np.stack(deltas)
        sign = np.where(D.sum(0) >= 0, 1.0, -1.0)
        total = (D * (np.sign(D) == sign)).sum(0)
        return (base_t + total).reshape(b[name].shape).astype(np.float32)

    write_safetensors(out, [(name, t.shape, lambda name=name: merged(name)) for name, t in b.items()])


def dare_properties(base, merged):
    """What two DARE merges of the same inputs share though their random masks differ: the share of entries left at
    the base (all N models' entries dropped: (1 - density)^N, the elected sign always has a kept delta otherwise),
    and the mean |merged - base| (the L1 rescale restores each delta's L1 norm; without it, about half)."""
    b, m = read_safetensors(base), read_safetensors(merged)
    unchanged = sum(int(np.count_nonzero(m[n] == b[n])) for n in b)
    total = sum(b[n].size for n in b)
    mean_abs = sum(float(np.abs(m[n].astype(np.float64) - b[n]).sum()) for n in b) / total
    return unchanged / total, mean_abs


def numpy_slerp(base, model, out, t=0.5):
    """mergekit's slerp (research note 4.4) of each flattened tensor, in float64 here."""
    a_all, b_all = read_safetensors(base), read_safetensors(model)

    def merged(name):
        a = a_all[name].astype(np.float64).ravel()
        b = b_all[name].astype(np.float64).ravel()
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        dot = float(np.dot(a / na if na > 1e-8 else a, b / nb if nb > 1e-8 else b))
        if abs(dot) > 0.9995:
            r = (1 - t) * a + t * b
        else:
            omega = np.arccos(dot)
            r = np.sin((1 - t) * omega) / np.sin(omega) * a + np.sin(t * omega) / np.sin(omega) * b
        return r.reshape(a_all[name].shape).astype(np.float32)

    write_safetensors(out, [(name, t.shape, lambda name=name: merged(name)) for name, t in a_all.items()])


if len(sys.argv) > 1 and sys.argv[1] == "--numpy-worker":
    numpy_fisher_merge(sys.argv[2:6], sys.argv[6:10], sys.argv[10])
    sys.exit(0)
if len(sys.argv) > 1 and sys.argv[1] == "--numpy-ties":
    numpy_ties(sys.argv[2], sys.argv[3:6], sys.argv[6])
    sys.exit(0)
if len(sys.argv) > 1 and sys.argv[1] == "--numpy-dare":
    numpy_dare_ties(sys.argv[2], sys.argv[3:6], sys.argv[6])
    sys.exit(0)
if len(sys.argv) > 1 and sys.argv[1] == "--numpy-slerp":
    numpy_slerp(sys.argv[2], sys.argv[3], sys.argv[4])
    sys.exit(0)

quick = args["quick"]
rows, columns, count = (1024, 4096, 4) if quick else (4096, 4096, 16)    # 64 MB or 1 GiB per file
rankwise = sys.argv[sys.argv.index("--rankwise") + 1] if "--rankwise" in sys.argv else ".build/release/rankwise"
if not os.path.exists(rankwise):
    sys.exit(f"merge.py: {rankwise} not found (swift build -c release --product rankwise)")
folder = os.path.join(args["output"], "merge-data")
os.makedirs(folder, exist_ok=True)
rng = np.random.default_rng(3)
models = [os.path.join(folder, f"model{i}.safetensors") for i in range(4)]
fishers = [os.path.join(folder, f"fisher{i}.safetensors") for i in range(4)]
names = [f"model.layers.{k}.mlp.up_proj.weight" for k in range(count)]
for i in range(4):
    write_safetensors(models[i], [(n, (rows, columns), lambda: rng.standard_normal((rows, columns), dtype=np.float32) * 0.02) for n in names])
    write_safetensors(fishers[i], [(n, (rows, columns), lambda: rng.random((rows, columns), dtype=np.float32) ** 2) for n in names])
input_bytes = sum(os.path.getsize(p) for p in models + fishers)
size = f"4 models x {rows * columns * count * 4 / 2**20:.0f} MiB"
threads = ["--threads", str(args["threads"])] if args["threads"] else []
commands = {
    "openblas": [rankwise, "merge", "--method", "fisher", *models, "--fisher", *fishers, "-q", *threads,
                 "-o", os.path.join(folder, "merged-rankwise.safetensors")],
    "numpy": [sys.executable, __file__, "--numpy-worker", *models, *fishers, os.path.join(folder, "merged-numpy.safetensors")],
}
h = Harness(min(args["repetitions"], 3), slow_run_seconds=60, threads=args["threads"])


def compare_children(operation, size, commands, input_bytes):
    """Times the children interleaved; records input bytes and peak RSS."""
    peaks = {name: [] for name in commands}
    h.compare("merge", operation, "float32", size,
              {name: (lambda name=name: peaks[name].append(run_child(commands[name], "merge.py"))) for name in commands})
    for record in h.records[-len(commands):]:
        peak = max(peaks[record["implementation"]])
        record["bytes"] = input_bytes
        record["metric"], record["metricName"] = peak, "peak RSS MB"
        print(f"  [{record['implementation']}] {input_bytes / record['median'] / 1e9:.2f} GB/s of input, peak RSS {peak:.0f} MB",
              file=sys.stderr)


compare_children("fisher merge, 4 models", size, commands, input_bytes)

a = read_safetensors(os.path.join(folder, "merged-rankwise.safetensors"))
b = read_safetensors(os.path.join(folder, "merged-numpy.safetensors"))
worst = max(float(np.max(np.abs(a[n] - b[n]))) for n in names)
print(f"  max |rankwise - numpy| = {worst:.3g}", file=sys.stderr)
if worst > 1e-6:
    sys.exit("merge.py: the two merges differ")

# mergekit's ties and dare_ties (3 models on model 0 as the base, density 0.5; DARE's drops seeded) and slerp (t = 0.5),
# from YAML configs.
differences, dare = {"fisher": worst}, {}
for method, config, numpy_command, inputs in [
    ("ties", f"merge_method: ties\nbase_model: {models[0]}\nmodels:\n" + "".join(f"  - model: {m}\n    parameters: {{weight: 1.0, density: 0.5}}\n" for m in models[1:]),
     [sys.executable, __file__, "--numpy-ties", models[0], *models[1:], os.path.join(folder, "ties-numpy.safetensors")], models),
    ("dare_ties", f"merge_method: dare_ties\nbase_model: {models[0]}\nparameters: {{seed: 0}}\nmodels:\n"
     + "".join(f"  - model: {m}\n    parameters: {{weight: 1.0, density: 0.5}}\n" for m in models[1:]),
     [sys.executable, __file__, "--numpy-dare", models[0], *models[1:], os.path.join(folder, "dare_ties-numpy.safetensors")], models),
    ("slerp", f"merge_method: slerp\nbase_model: {models[0]}\nmodels:\n  - model: {models[1]}\nparameters: {{t: 0.5}}\n",
     [sys.executable, __file__, "--numpy-slerp", models[0], models[1], os.path.join(folder, "slerp-numpy.safetensors")], models[:2]),
]:
    with open(os.path.join(folder, f"{method}.yml"), "w") as f:
        f.write(config)
    method_commands = {
        "openblas": [rankwise, "merge", "--config", os.path.join(folder, f"{method}.yml"), "-q", *threads,
                     "-o", os.path.join(folder, f"{method}-rankwise.safetensors")],
        "numpy": numpy_command,
    }
    method_bytes = sum(os.path.getsize(p) for p in inputs)
    compare_children(f"{method} merge, {len(inputs)} models", f"{len(inputs)} models x {rows * columns * count * 4 / 2**20:.0f} MiB",
                     method_commands, method_bytes)
    if method == "dare_ties":
        # Random drops: compare properties, not values (see dare_properties).
        expected = (1 - 0.5) ** 3
        for implementation in ("rankwise", "numpy"):
            dare[implementation] = dare_properties(models[0], os.path.join(folder, f"dare_ties-{implementation}.safetensors"))
            share, mean_abs = dare[implementation]
            print(f"  dare_ties {implementation}: {share:.4f} of entries left at the base (expected {expected:.4f}, "
                  f"so {1 - share ** (1 / 3):.4f} kept per model), mean |merged - base| {mean_abs:.4g}", file=sys.stderr)
            if abs(share - expected) > 0.002:
                sys.exit(f"merge.py: {implementation}'s dare_ties does not drop at density 0.5")
        ratio = dare["rankwise"][1] / dare["numpy"][1]
        print(f"  dare_ties: mean |merged - base| rankwise / numpy = {ratio:.4f}", file=sys.stderr)
        if abs(ratio - 1) > 0.01:
            sys.exit("merge.py: the two dare_ties merges do not rescale alike")
        continue
    a = read_safetensors(os.path.join(folder, f"{method}-rankwise.safetensors"))
    b = read_safetensors(os.path.join(folder, f"{method}-numpy.safetensors"))
    differences[method] = max(float(np.max(np.abs(a[n] - b[n]))) for n in names)
    print(f"  {method}: max |rankwise - numpy| = {differences[method]:.3g}", file=sys.stderr)
    if differences[method] > 1e-6:
        sys.exit(f"merge.py: the two {method} merges differ")
h.write(args["output"], "reference-merge.json", {"numpy": np.__version__, "merge_max_abs_difference": worst,
                                                  "max_abs_differences": differences,
                                                  "dare_ties_unchanged_share_and_mean_abs_delta": dare})
if "--keep-data" not in sys.argv:
    shutil.rmtree(folder)
