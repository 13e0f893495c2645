#!/usr/bin/env python3
"""Reference values for the GGUF reader tests, from llama.cpp's own Python package (gguf-py).

Writes Tests/Fixtures/gguf_reference.json (small, committed):

  "blocks": for each block format the reader dequantizes (Q8_0, Q4_0, Q4_1, Q5_0,
      Q5_1: two 32-element blocks; Q2_K, Q3_K, Q4_K, Q5_K, Q6_K: one 256-element
      super-block), seeded random bytes with finite F16 scales ("hex") and the
      values gguf.quants.dequantize gives ("values", float32 shortest decimals).
  "smollm2": facts and spot checks of SmolLM2-135M-Instruct.Q4_1.gguf (the test
      model from scripts/fetch_test_models.sh), when it is present: tensor and key
      counts, metadata, and for a few rows of a few tensors, in Hugging Face order
      (q/k rows un-permuted: Hugging Face row h*d + j*d/2 + i is GGUF row
      h*d + 2i + j), the first 16 values and the row's float64 sum and sum of
      squares. Rows are dequantized by gguf-py, un-permuted with numpy.

Needs numpy and gguf (pip install gguf; 0.19.0 was used). Run from the repository
root: python3 scripts/make_gguf_fixtures.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
"""
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

OUT = os.path.join("Tests", "Fixtures", "gguf_reference.json")
MODEL = os.path.expanduser("~/.cache/rankwise/test-models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")


def f32(values):
    """float32 values as their shortest decimal strings' numbers (exact when parsed back as Float)."""
    return [float(str(np.float32(v))) for v in np.asarray(values, dtype=np.float32).ravel()]


def random_block(rng, qtype, blocks):
    """Random bytes for `blocks` blocks, with every F16 scale set to a finite value of moderate size."""
    size, nbytes = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(blocks, nbytes), dtype=np.uint8)
    # Offsets of the F16 fields (d, m / dmin) in each block.
    fields = {T.Q8_0: [0], T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2],
              T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}[qtype]
    for b in range(blocks):
        for offset in fields:
            value = np.float16(rng.uniform(-0.05, 0.05))
            raw[b, offset:offset + 2] = np.frombuffer(value.tobytes(), dtype=np.uint8)
    return raw, size * blocks


def blocks_section():
    rng = np.random.default_rng(20260601)
    out = []
    for qtype in [T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]:
        blocks = 2 if gguf.GGML_QUANT_SIZES[qtype][0] == 32 else 1
        raw, count = random_block(rng, qtype, blocks)
        values = dequantize(raw.reshape(-1), qtype)
        assert values.size == count and np.all(np.isfinite(values))
        out.append({"type": qtype.name, "count": count, "hex": raw.tobytes().hex(), "values": f32(values)})
    return out


def unpermute(w, heads):
    """Hugging Face rows from GGUF rows: within each head of d rows, HF row i <- GGUF 2i, HF i + d/2 <- GGUF 2i + 1."""
    rows = w.shape[0]
    d = rows // heads
    return w.reshape(heads, d // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def smollm2_section(path):
    reader = gguf.GGUFReader(path)
    fields = reader.fields

    def scalar(key):
        return fields[key].contents()

    tensors = {t.name: t for t in reader.tensors}
    heads, kv_heads = scalar("llama.attention.head_count"), scalar("llama.attention.head_count_kv")

    def hf_matrix(name):
        t = tensors[name]
        w = dequantize(t.data, t.tensor_type).reshape([int(x) for x in reversed(t.shape)] if len(t.shape) > 1 else [-1])
        if name.endswith("attn_q.weight"):
            w = unpermute(w, heads)
        elif name.endswith("attn_k.weight"):
            w = unpermute(w, kv_heads)
        return np.asarray(w, dtype=np.float32)

    picks = [("token_embd.weight", [0, 1, 49151]),
             ("blk.0.attn_q.weight", [0, 1, 32, 63, 97, 575]),
             ("blk.0.attn_k.weight", [1, 32, 191]),
             ("blk.0.attn_v.weight", [5]),
             ("blk.29.ffn_down.weight", [575]),
             ("output_norm.weight", [None]),
             ("blk.3.attn_norm.weight", [None])]
    rows = []
    for name, indices in picks:
        w = hf_matrix(name)
        for r in indices:
            row = w if r is None else w[r]
            rows.append({"gguf": name, "row": r, "type": tensors[name].tensor_type.name,
                         "first": f32(row[:16]), "sum": float(row.astype(np.float64).sum()),
                         "sumsq": float((row.astype(np.float64) ** 2).sum())})
    # The permutation itself, on stored (GGUF-order) q rows: HF row 1 is GGUF row 2, HF row 32 is GGUF row 1.
    q_stored = dequantize(tensors["blk.0.attn_q.weight"].data, tensors["blk.0.attn_q.weight"].tensor_type)
    types = {}
    for t in reader.tensors:
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
    return {
        "tensor_count": len(reader.tensors),
        "metadata_count": len([k for k in fields if not k.startswith("GGUF.")]),
        "version": int(scalar("GGUF.version")),
        "alignment": int(reader.alignment),
        "data_offset": int(reader.data_offset),
        "types": types,
        "stored_bytes": int(sum(int(t.n_bytes) for t in reader.tensors)),
        "architecture": scalar("general.architecture"),
        "tokens": len(fields["tokenizer.ggml.tokens"].data),
        "merges": len(fields["tokenizer.ggml.merges"].data),
        "token_5": fields["tokenizer.ggml.tokens"].contents(5),
        "merge_0": fields["tokenizer.ggml.merges"].contents(0),
        "stored_q_row_1_first": f32(np.asarray(q_stored).reshape(576, 576)[1][:4]),
        "rows": rows,
    }


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else MODEL
    result = {"generator": f"scripts/make_gguf_fixtures.py with gguf {gguf.__version__ if hasattr(gguf, '__version__') else '0.19.0'}",
              "blocks": blocks_section()}
    if os.path.exists(model):
        result["smollm2"] = smollm2_section(model)
    else:
        print(f"note: {model} not found; writing the block section only", file=sys.stderr)
    with open(OUT, "w") as f:
        json.dump(result, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
