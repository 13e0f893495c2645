"""numpy side of rankwise-bench's forward suite: all-MiniLM-L6-v2 sentence
embeddings (float32, batched: the sequences all have the same length, so no
padding) over the same deterministic token ids, from the model fetched by
`make test-models`. Skipped with a note when the model is not there."""
import json
import math
import os
import struct
import sys

from common import Harness, limit_threads, parse_args

args = parse_args(sys.argv[1:])
limit_threads(args["threads"])

import numpy as np  # noqa: E402
import scipy.special  # noqa: E402

CACHE = os.environ.get("RANKWISE_TEST_MODELS") or os.path.expanduser("~/.cache/rankwise/test-models")
MODEL = os.path.join(CACHE, "minilm")


def load(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    body = data[8 + n:]
    return {k: np.frombuffer(body[v["data_offsets"][0]:v["data_offsets"][1]], dtype="<f4").reshape(v["shape"])
            for k, v in header.items() if v["dtype"] == "F32"}


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def erf(x):
    return scipy.special.erf(x).astype(np.float32)


def embeddings(W, cfg, ids):
    B, S = ids.shape
    H, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    d = H // heads
    eps = cfg["layer_norm_eps"]
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:S] + W["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        # As 2-D products over all B·S tokens (a 3-D operand makes numpy loop over the batch).
        lin = lambda t, n: (t.reshape(B * S, -1) @ W[p + n + ".weight"].T + W[p + n + ".bias"]).reshape(B, S, -1)
        # Contiguous per-head blocks: numpy's stacked matmul is BLAS-backed only on contiguous operands.
        q = np.ascontiguousarray(lin(x, "attention.self.query").reshape(B, S, heads, d).transpose(0, 2, 1, 3))
        k = np.ascontiguousarray(lin(x, "attention.self.key").reshape(B, S, heads, d).transpose(0, 2, 3, 1))
        v = np.ascontiguousarray(lin(x, "attention.self.value").reshape(B, S, heads, d).transpose(0, 2, 1, 3))
        s = q @ k / np.float32(math.sqrt(d))
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(0, 2, 1, 3).reshape(B, S, H)
        y = layer_norm(lin(ctx, "attention.output.dense") + x, W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"], eps)
        m = lin(y, "intermediate.dense")
        m = 0.5 * m * (1 + erf(m / np.float32(math.sqrt(2))))
        x = layer_norm(lin(m, "output.dense") + y, W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], eps)
    mean = x.mean(1)
    return mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)


def main():
    harness = Harness(args["repetitions"])
    if not os.path.exists(os.path.join(MODEL, "model.safetensors")):
        print(f"forward: all-MiniLM-L6-v2 is not in {MODEL} (make test-models); skipped", file=sys.stderr)
    else:
        cfg = json.load(open(os.path.join(MODEL, "config.json")))
        W = load(os.path.join(MODEL, "model.safetensors"))
        count, length = (64, 64) if args["quick"] else (256, 64)
        V = cfg["vocab_size"]
        ids = np.array([[101] + [1000 + (s * 7919 + t * 104729) % (V - 1000) for t in range(1, length - 1)] + [102] for s in range(count)])
        harness.measure("forward", "minilm embeddings", "float32", f"{count}x{length} tokens", "numpy", lambda: embeddings(W, cfg, ids))
    harness.write(args["output"], "reference-forward.json", {"numpy": np.__version__})


main()
