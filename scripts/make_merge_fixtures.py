#!/usr/bin/env python3
"""mergekit-method fixtures for the Merging tests, from scripts/mergekit_reference.py.

Writes Tests/Fixtures/merge_reference.json:

  "generator": {"seed", "tensor", "model", "key" (hex), "uniforms": [first 6]}
      pins the drop stream (DropRandomness) bit for bit.
  "tensors": {name: {"shape", "base": [...], "models": [[...] x 3]}}
      three small tensors (2-D [6, 16], 1-D [12], 3-D [3, 4, 5]) of a base and three
      fine-tuned models; every value is a float32 (stored as its exact float64
      decimal), so Float and Double runs see the same inputs. Models are
      base + 0.2 * (0.6 * shared + noise); in the 2-D tensor positions 0, 5, 17, 40
      equal the base in every model (zero deltas, zero variance) and position 3
      equals it in model 1 only.
  "cases": [{"name", "method" (mergekit's name), "parameters" (mergekit's names,
      plus "rescale" as none/l1/inverse_keep_probability, "consensus",
      "empty_when_no_outliers", "seed"), "models" (which of the three, in order),
      "base" (whether the method takes the base),
      "outputs": {tensor: [...]}, "masks": {tensor: ["0101…" per model]}}]
      masks are the keep masks of sparsifying methods (absent where nothing was
      dropped). Outputs are float64.

Random drops: the uniforms of model m (its index in the case's "models" order) come
from drop_uniforms(n, seed, tensor name, m); the reference keeps u < p.

Run from the repository root: python3 scripts/make_merge_fixtures.py
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mergekit_reference as ref  # noqa: E402

PATH = os.path.join("Tests", "Fixtures", "merge_reference.json")
SHAPES = {
    "model.layers.0.mlp.down_proj.weight": [6, 16],
    "model.layers.1.input_layernorm.weight": [12],
    "model.layers.2.conv.weight": [3, 4, 5],
}
ZERO_DELTA = [0, 5, 17, 40]

CASES = [
    # (name, method, parameters, models)
    ("task_arithmetic", "task_arithmetic", {"weight": [1.0, 0.5, -0.3], "lambda": 0.8}, [0, 1, 2]),
    ("ties", "ties", {"weight": [1.0, 0.7, 0.4], "density": [0.5, 0.3, 0.7], "lambda": 1.2}, [0, 1, 2]),
    ("ties_sum_unnormalized", "ties", {"weight": [0.6, -0.5, 1.1], "density": 0.4, "normalize": False}, [0, 1, 2]),
    ("ties_count", "ties", {"weight": [1.0, 2.0, 0.5], "density": 0.6, "consensus": "count"}, [0, 1, 2]),
    ("dare_ties", "dare_ties", {"weight": [0.9, 0.6, 0.3], "density": [0.6, 0.4, 0.8], "seed": 7}, [0, 1, 2]),
    ("dare_ties_paper_rescale", "dare_ties",
     {"weight": [0.5, 0.5, 1.0], "density": 0.5, "seed": 11, "rescale": "inverse_keep_probability", "normalize": True}, [0, 1, 2]),
    ("dare_linear", "dare_linear", {"weight": [0.4, 0.3, 0.3], "density": [0.7, 0.5, 0.3], "seed": 123456789}, [0, 1, 2]),
    ("dare_linear_no_rescale", "dare_linear", {"weight": [1.0, 1.0], "density": 0.5, "seed": 3, "rescale": "none"}, [2, 0]),
    ("breadcrumbs", "breadcrumbs", {"weight": [1.0, 0.8, 0.6], "density": 0.6, "gamma": 0.05}, [0, 1, 2]),
    ("breadcrumbs_quirk", "breadcrumbs",
     {"weight": [1.0, 0.8, 0.6], "density": 0.6, "gamma": 0.05, "empty_when_no_outliers": True}, [0, 1, 2]),
    ("breadcrumbs_ties", "breadcrumbs_ties",
     {"weight": [0.7, 0.9, 0.5], "density": [0.5, 0.6, 0.7], "gamma": [0.1, 0.05, 0.08], "normalize": True}, [0, 1, 2]),
    ("della", "della", {"weight": [1.0, 0.6, 0.8], "density": 0.5, "epsilon": 0.2, "lambda": 1.1, "seed": 5}, [0, 1, 2]),
    ("della_linear", "della_linear",
     {"weight": [0.5, 0.3, 0.2], "density": [0.4, 0.5, 0.6], "epsilon": 0.1, "seed": 99, "rescale": "inverse_keep_probability"},
     [0, 1, 2]),
    ("slerp", "slerp", {"t": 0.3}, [0]),
    ("slerp_extrapolate", "slerp", {"t": 1.25}, [1]),
    ("nuslerp_flat_base", "nuslerp", {"weight": [0.3, 0.7]}, [0, 1]),
    ("nuslerp_rows_base", "nuslerp", {"weight": [2.0, 1.0], "nuslerp_flatten": False}, [1, 2]),
    ("nuslerp_row_wise", "nuslerp", {"weight": [0.25, 0.75], "nuslerp_flatten": False, "nuslerp_row_wise": True, "no_base": True},
     [0, 2]),
    ("model_stock", "model_stock", {}, [0, 1, 2]),
    ("model_stock_filter_wise", "model_stock", {"filter_wise": True}, [0, 1, 2]),
    ("karcher", "karcher", {"max_iter": 5, "tol": 1e-6}, [0, 1, 2]),
    ("karcher_default", "karcher", {}, [0, 2]),
    ("sce", "sce", {"select_topk": 0.6}, [0, 1, 2]),
    ("sce_all", "sce", {}, [0, 1, 2]),
    ("nearswap", "nearswap", {"t": 0.15}, [0]),
    ("passthrough", "passthrough", {"scale": 0.5}, [1]),
]


def f32(x):
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def inputs():
    rng = np.random.default_rng(20260614)
    tensors = {}
    for name, shape in SHAPES.items():
        n = int(np.prod(shape))
        base = f32(rng.standard_normal(n))
        shared = rng.standard_normal(n)
        models = [f32(base + 0.2 * (0.6 * shared + rng.standard_normal(n))) for _ in range(3)]
        if len(shape) == 2:
            for m in models:
                m[ZERO_DELTA] = base[ZERO_DELTA]
            models[1][3] = base[3]
        tensors[name] = {"shape": shape, "base": base, "models": models}
    return tensors


def run_case(method, params, chosen, name, tensor):
    shape = tensor["shape"]
    base = tensor["base"]
    models = [tensor["models"][i] for i in chosen]
    n = base.size
    if method in ref.GTA_METHODS:
        seed = params.get("seed", 0)
        uniforms = [ref.drop_uniforms(n, seed, name, m) for m in range(len(models))]
        out, masks = ref.gta(method, base, models, shape, params.get("weight", 1.0), density=params.get("density", 1.0),
                             gamma=params.get("gamma", 0.01), epsilon=params.get("epsilon", 0.15),
                             normalize=params.get("normalize"), rescale=params.get("rescale"), lam=params.get("lambda", 1.0),
                             uniforms=uniforms, consensus=params.get("consensus"),
                             empty_when_no_outliers=params.get("empty_when_no_outliers", False))
        return out, masks
    if method == "slerp":
        return ref.slerp(params["t"], base, models[0]), None
    if method == "nuslerp":
        return ref.nuslerp(params["weight"], models[0], models[1], shape, base=None if params.get("no_base") else base,
                           flatten=params.get("nuslerp_flatten", True), row_wise=params.get("nuslerp_row_wise", False)), None
    if method == "model_stock":
        return ref.model_stock(base, models, shape, filter_wise=params.get("filter_wise", False)), None
    if method == "karcher":
        return ref.karcher(models, max_iter=params.get("max_iter", 10), tol=params.get("tol", 1e-5)), None
    if method == "sce":
        return ref.sce(base, models, select_topk=params.get("select_topk", 1.0)), None
    if method == "nearswap":
        return ref.nearswap(params["t"], base, models[0]), None
    if method == "passthrough":
        return ref.passthrough(models[0], params.get("scale")), None
    raise ValueError(method)


def main():
    tensors = inputs()
    generator_name = "model.layers.0.mlp.down_proj.weight"
    fixture = {
        "generator": {"seed": 42, "tensor": generator_name, "model": 2,
                      "key": "0x%016x" % ref.stream_key(42, generator_name, 2),
                      "uniforms": [float(u) for u in ref.drop_uniforms(6, 42, generator_name, 2)]},
        "tensors": {name: {"shape": t["shape"], "base": [float(x) for x in t["base"]],
                           "models": [[float(x) for x in m] for m in t["models"]]} for name, t in tensors.items()},
        "cases": [],
    }
    for case_name, method, params, chosen in CASES:
        entry = {"name": case_name, "method": method, "parameters": params, "models": chosen,
                 "base": method not in ("karcher", "passthrough") and not params.get("no_base", False),
                 "outputs": {}, "masks": {}}
        for name, tensor in tensors.items():
            out, masks = run_case(method, params, chosen, name, tensor)
            assert np.all(np.isfinite(out)), (case_name, name)
            entry["outputs"][name] = [float(x) for x in out]
            if masks and any(m is not None for m in masks):
                entry["masks"][name] = ["".join("1" if k else "0" for k in m) if m is not None else None for m in masks]
        fixture["cases"].append(entry)
    os.makedirs(os.path.dirname(PATH), exist_ok=True)
    with open(PATH, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {PATH}: {os.path.getsize(PATH)} bytes, {len(CASES)} cases over {len(tensors)} tensors")
    # How often the sparsifiers' masks differ between the cases (a sanity print, not stored).
    for case in fixture["cases"]:
        for name, masks in case["masks"].items():
            kept = [m.count("1") / len(m) for m in masks if m is not None]
            print(f"  {case['name']:<26} {name:<40} kept {', '.join(f'{k:.2f}' for k in kept)}")


if __name__ == "__main__":
    main()
