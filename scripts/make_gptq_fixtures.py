#!/usr/bin/env python3
"""GPTQ / SparseGPT / RTN fixtures for the Compression tests, from scripts/gptq_reference.py.

Writes Tests/Fixtures/gptq_reference.safetensors (safetensors written by hand:
8-byte little-endian header length, JSON header padded with spaces to a multiple
of 8, tensors packed without gaps in header order). Floating-point data is F64.

Inputs (seeded):
  W   F64 [12, 192]   rows with scales from 0.01 to 3; row 0 has no negative value
                      (exercises the symmetric quantizer's xmin = 0 quirk), row 11 is
                      all zero (the [-1, 1] range; its asym zero is round(maxq / 2),
                      a half-to-even tie in float64).
  H   F32 [192, 192]  XᵀX (raw Gram sum, exactly symmetric) of X [768, 192] = Z·M with
                      correlated columns, columns 3, 100, 171 ×20, and columns 37 and 130
                      all zero (dead: H[i,i] = 0).
Cases caseK (gptq unless noted, damp 0.01 of mean diag, block size 128):
  codes U8 [12,192] (original column order), scales F64 [12,G], zeros F64 [12,G]
  (integer values), g_idx I32 [192], loss F64 [1];
  metadata caseK.config = JSON {"method","bits","group_size","sym","act_order",
  "static_groups","damp"} and caseK.rounding_margin (how far the case is from a tie).
Cases sparseK (SparseGPT): weight F64 [12,192], mask U8 [12,192] (1 = pruned),
  loss F64 [1]; metadata sparseK.config = JSON {"method","sparsity","prunen","prunem",
  "bits","sym","blocksize","damp"} (bits null = no quantization).

Run from the repository root: python3 scripts/make_gptq_fixtures.py
It also reruns every case in float32 and prints how many codes differ (not stored).
"""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gptq_reference as ref  # noqa: E402

PATH = os.path.join("Tests", "Fixtures", "gptq_reference.safetensors")
ROWS, COLS, TOKENS = 12, 192, 768
DEAD, LOUD = (37, 130), (3, 100, 171)
DAMP = 0.01

GPTQ_CASES = [  # (method, bits, group_size, sym, act_order, static_groups)
    ("gptq", 4, 128, False, False, False),
    ("gptq", 4, 32, True, False, False),
    ("gptq", 3, 64, False, True, False),
    ("gptq", 2, -1, False, False, False),
    ("gptq", 8, 128, True, True, True),
    ("gptq", 4, 64, False, True, True),
    ("gptq", 3, 32, True, False, False),
    ("rtn", 4, 64, False, False, False),
]
SPARSE_CASES = [  # (sparsity, prunen, prunem, bits)
    (0.5, 0, 0, None),
    (0.5, 2, 4, None),
    (0.5, 0, 0, 4),
]


def inputs():
    rng = np.random.default_rng(20260521)
    W = rng.standard_normal((ROWS, COLS)) * np.geomspace(0.01, 3.0, ROWS)[:, None]
    W[0] = np.abs(W[0])
    W[-1] = 0
    M = np.eye(COLS) + 1.5 * rng.standard_normal((COLS, COLS)) / np.sqrt(COLS)
    X = rng.standard_normal((TOKENS, COLS)) @ M
    X[:, list(LOUD)] *= 20
    X[:, list(DEAD)] = 0
    H = X.T @ X
    # Stored as F32 to keep the fixture small; the reference runs on exactly those values (widened).
    return W, ((H + H.T) / 2).astype(np.float32).astype(np.float64)


def run(method, bits, gs, sym, act, static, W, H, dtype):
    if method == "rtn":
        r = ref.rtn(W, bits, gs, sym, dtype=dtype)
        loss = float(np.sum((W - r.Q.astype(np.float64)) ** 2))
        return r.codes, r.scales, r.zeros, r.g_idx, loss, ref.rounding_margin(np.asarray(W, dtype), r.scales, r.zeros, r.g_idx, bits)
    r = ref.gptq(W, H, bits, gs, sym, act, static, damp=DAMP, dtype=dtype)
    return r.codes, r.scales, r.zeros, r.g_idx, r.loss, ref.rounding_margin(r.inputs, r.scales, r.zeros, r.g_idx, bits)


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, dtype, array), written in this order, packed."""
    codes = {"F64": "<f8", "F32": "<f4", "I32": "<i4", "U8": "u1"}
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, dtype, array in tensors:
        blob = np.ascontiguousarray(array, dtype=codes[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(np.shape(array)), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    """Independent read-back: name -> array, plus the metadata."""
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__")
    codes = {"F64": "<f8", "F32": "<f4", "I32": "<i4", "U8": "u1"}
    body, out, end = data[8 + n:], {}, 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        a, b = info["data_offsets"]
        assert a == end, f"gap before {name}"
        end = b
        out[name] = np.frombuffer(body[a:b], dtype=codes[info["dtype"]]).reshape(info["shape"])
    assert end == len(body), "trailing bytes"
    return out, meta


def main():
    W, H = inputs()
    tensors = [("W", "F64", W), ("H", "F32", H)]
    metadata = {
        "format": "pt",
        "source": "scripts/make_gptq_fixtures.py (numpy reference scripts/gptq_reference.py)",
        "hessian": "H is the raw Gram sum XᵀX; dead columns (H[i,i] = 0) and damping "
                   "(damp · mean diag after dead columns → 1) are left to the algorithm",
        "loss": "gptq and sparsegpt: Σ (w − q)² / d² / 2, d = U[c,c], H⁻¹ = UᵀU of the damped H above; "
                "rtn: Σ (w − q)² over W",
        "act_order": "columns by diag(H) descending, stable (ties keep original order)",
    }
    print("case   config                                  loss          margin    f32≠f64 codes (all-zero row)")
    for k, (method, bits, gs, sym, act, static) in enumerate(GPTQ_CASES):
        codes, scales, zeros, g_idx, loss, margin = run(method, bits, gs, sym, act, static, W, H, np.float64)
        codes32 = run(method, bits, gs, sym, act, static, W, H, np.float32)[0]
        differ = int(np.sum(codes != codes32))
        differ_zero_row = int(np.sum(codes[-1] != codes32[-1]))
        p = f"case{k}."
        tensors += [(p + "codes", "U8", codes), (p + "scales", "F64", scales), (p + "zeros", "F64", zeros),
                    (p + "g_idx", "I32", g_idx), (p + "loss", "F64", np.array([loss]))]
        config = {"method": method, "bits": bits, "group_size": gs, "sym": sym, "act_order": act,
                  "static_groups": static, "damp": DAMP if method == "gptq" else None}
        metadata[p + "config"] = json.dumps(config)
        metadata[p + "rounding_margin"] = f"{margin:.3e}"
        label = f"{method} {bits}b g{gs} {'sym' if sym else 'asym'}{' act' if act else ''}{' static' if static else ''}"
        print(f"case{k}  {label:38s}  {loss:12.6g}  {margin:.2e}  {differ:5d} ({differ_zero_row})")
    for k, (sparsity, n, m, bits) in enumerate(SPARSE_CASES):
        r = ref.sparsegpt(W, H, sparsity, n, m, bits, blocksize=128, damp=DAMP)
        r32 = ref.sparsegpt(W, H, sparsity, n, m, bits, blocksize=128, damp=DAMP, dtype=np.float32)
        p = f"sparse{k}."
        tensors += [(p + "weight", "F64", r.weight), (p + "mask", "U8", r.mask.astype(np.uint8)),
                    (p + "loss", "F64", np.array([r.loss]))]
        config = {"method": "sparsegpt", "sparsity": sparsity, "prunen": n, "prunem": m, "bits": bits,
                  "sym": False, "blocksize": 128, "damp": DAMP}
        metadata[p + "config"] = json.dumps(config)
        print(f"sparse{k} {json.dumps(config)}: pruned {r.mask.mean():.4f}, loss {r.loss:.6g}, "
              f"float32 masks differ in {int(np.sum(r.mask != r32.mask))} entries, "
              f"max |w32 − w64| {np.max(np.abs(r32.weight - r.weight)):.2e}")

    write_safetensors(PATH, tensors, metadata)
    back, meta = read_safetensors(PATH)
    assert meta == metadata and set(back) == {name for name, _, _ in tensors}
    for name, _, array in tensors:
        assert np.array_equal(back[name], array), name
    print(f"wrote {PATH} ({os.path.getsize(PATH)} bytes, {len(tensors)} tensors)")


if __name__ == "__main__":
    main()
