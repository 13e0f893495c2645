"""Small numpy-written fixtures for the WeightFiles and CLI tests.

Writes, into Tests/Fixtures/:
  tiny_model.safetensors           a 2-block Llama-shaped model: BF16 projection weights,
                                   F32 norms, an embedding and lm_head, an I64 buffer
  tiny_sharded/                    the same tensors in two shards + model.safetensors.index.json
  tiny_calib.safetensors           M.gram (F32) + M.tokens (I64) for the q/k/v/o projections,
                                   M.inputs (F32) for the MLP projections
  tiny_grads.safetensors           an averaged gradient M.weight (F32) per projection
  values_f32.npy / values_f64_v2.npy / vector.npy   .npy v1 and v2, 2-D and 1-D
  regression.csv                   a header row and numeric columns x0..x3,y

safetensors is written by hand (8-byte length, JSON header, data) because the
safetensors package is not installed here; the layout follows the format spec.
Run from the repository root: python3 scripts/make_weightfiles_fixtures.py
"""
import json
import os
import struct

import numpy as np

out = os.path.join("Tests", "Fixtures")
os.makedirs(os.path.join(out, "tiny_sharded"), exist_ok=True)
rng = np.random.default_rng(7)
hidden, inter, vocab, blocks = 16, 24, 40, 2


def bf16_bytes(a):
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16   # round to nearest even
    return rounded.astype("<u2").tobytes()


def encode(array, dtype):
    if dtype == "BF16":
        return bf16_bytes(array)
    np_type = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4"}[dtype]
    return np.ascontiguousarray(array, dtype=np_type).tobytes()


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> (dtype, numpy array). Sorted by dtype size then name, packed."""
    size = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2}
    order = sorted(tensors, key=lambda n: (-size[tensors[n][0]], n))
    header = {"__metadata__": dict({"format": "pt"}, **(metadata or {}))}
    blobs, offset = [], 0
    for name in order:
        dtype, array = tensors[name]
        blob = encode(array, dtype)
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


model = {}
layers = []
for b in range(blocks):
    p = f"model.layers.{b}."
    for name, (o, i) in {"self_attn.q_proj": (hidden, hidden), "self_attn.k_proj": (hidden, hidden),
                         "self_attn.v_proj": (hidden, hidden), "self_attn.o_proj": (hidden, hidden),
                         "mlp.gate_proj": (inter, hidden), "mlp.up_proj": (inter, hidden),
                         "mlp.down_proj": (hidden, inter)}.items():
        w = rng.standard_normal((o, i)) / np.sqrt(np.arange(1, i + 1))
        model[p + name + ".weight"] = ("BF16", w.astype(np.float32))
        layers.append((p + name, i))
    model[p + "input_layernorm.weight"] = ("F32", np.ones(hidden, dtype=np.float32))
model["model.embed_tokens.weight"] = ("BF16", rng.standard_normal((vocab, hidden)).astype(np.float32))
model["lm_head.weight"] = ("BF16", rng.standard_normal((vocab, hidden)).astype(np.float32))
model["model.norm.weight"] = ("F32", np.ones(hidden, dtype=np.float32))
model["model.position_ids"] = ("I64", np.arange(8, dtype=np.int64))
write_safetensors(os.path.join(out, "tiny_model.safetensors"), model, {"source": "make_weightfiles_fixtures.py"})

names = sorted(model)
shards = {names[i]: ("model-00001-of-00002.safetensors" if i % 2 == 0 else "model-00002-of-00002.safetensors") for i in range(len(names))}
for shard in sorted(set(shards.values())):
    write_safetensors(os.path.join(out, "tiny_sharded", shard), {n: model[n] for n in names if shards[n] == shard})
with open(os.path.join(out, "tiny_sharded", "model.safetensors.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": 0}, "weight_map": shards}, f, indent=1, sort_keys=True)

calib = {}
for layer, width in layers:
    x = rng.standard_normal((64, width)).astype(np.float32)
    x[:, 3] *= 20   # an outlier channel
    if "self_attn" in layer:
        calib[layer + ".gram"] = ("F32", (x.T.astype(np.float64) @ x.astype(np.float64)).astype(np.float32))
        calib[layer + ".tokens"] = ("I64", np.array(64, dtype=np.int64))
    else:
        calib[layer + ".inputs"] = ("F32", x)
write_safetensors(os.path.join(out, "tiny_calib.safetensors"), calib)

grads = {layer + ".weight": ("F32", (1e-3 * rng.standard_normal((model[layer + ".weight"][1].shape))).astype(np.float32)) for layer, _ in layers}
write_safetensors(os.path.join(out, "tiny_grads.safetensors"), grads)

values = rng.standard_normal((5, 3))
np.save(os.path.join(out, "values_f32.npy"), values.astype(np.float32))
np.lib.format.write_array(open(os.path.join(out, "values_f64_v2.npy"), "wb"), values, version=(2, 0))
np.save(os.path.join(out, "vector.npy"), np.arange(4, dtype=np.float64))

x = rng.standard_normal((30, 4))
y = np.sin(x[:, 0]) + 0.5 * x[:, 1]
with open(os.path.join(out, "regression.csv"), "w") as f:
    f.write("x0,x1,x2,x3,y\n")
    for row, target in zip(x, y):
        f.write(",".join(repr(float(v)) for v in row) + "," + repr(float(target)) + "\n")
print("wrote fixtures to", out)
