#!/usr/bin/env python3
"""Tiny random Llama-family checkpoints and their logits from a plain numpy forward
pass (float64), for the Models tests: Tests/Fixtures/models/tiny-<variant>/ with
config.json, model.safetensors (F32) and expected.json (token ids of two sequences,
their logits, and the mean next-token NLL).

Variants: llama (GQA 4/2 heads, untied head, llama3 RoPE scaling), qwen2 (q/k/v
biases, tied embeddings), qwen3 (per-head q/k RMSNorm, explicit head_dim).
The forward follows Hugging Face's modeling_llama/qwen2/qwen3: pre-RMSNorm blocks,
rotate-half RoPE, grouped-query causal attention, SiLU-gated MLP.
Run from the repository root: python3 scripts/make_llama_fixtures.py
"""
import json
import math
import os
import struct

import numpy as np

OUT = os.path.join("Tests", "Fixtures", "models")
SEQUENCES = [[1, 5, 9, 33, 2, 17, 60, 4, 4, 11], [7, 3, 50]]


def write_safetensors(path, tensors):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        blob = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def rms(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def inv_freq(cfg, d):
    f = 1.0 / cfg["rope_theta"] ** (np.arange(0, d, 2) / d)
    s = cfg.get("rope_scaling")
    if s and s["rope_type"] == "llama3":
        factor, low, high, ctx = s["factor"], s["low_freq_factor"], s["high_freq_factor"], s["original_max_position_embeddings"]
        out = []
        for fi in f:
            wl = 2 * math.pi / fi
            if wl < ctx / high:
                out.append(fi)
            elif wl > ctx / low:
                out.append(fi / factor)
            else:
                t = (ctx / wl - low) / (high - low)
                out.append((1 - t) * fi / factor + t * fi)
        f = np.array(out)
    return f


def rope(x, f):  # x [S, d]
    d = x.shape[1]
    ang = np.arange(x.shape[0])[:, None] * f[None, :]
    c, s = np.cos(ang), np.sin(ang)
    a, b = x[:, : d // 2], x[:, d // 2:]
    return np.concatenate([a * c - b * s, b * c + a * s], axis=1)


def forward(W, cfg, ids):
    H, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = cfg.get("head_dim", H // nh)
    eps = cfg["rms_norm_eps"]
    f = inv_freq(cfg, d)
    x = W["model.embed_tokens.weight"][ids]
    S = len(ids)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = rms(x, W[p + "input_layernorm.weight"], eps)
        def proj(n):
            y = a @ W[p + f"self_attn.{n}.weight"].T
            return y + W[p + f"self_attn.{n}.bias"] if p + f"self_attn.{n}.bias" in W else y
        q, k, v = proj("q_proj"), proj("k_proj"), proj("v_proj")
        ctx = np.zeros((S, nh * d))
        g = nh // nkv
        for h in range(nh):
            qh = q[:, h * d:(h + 1) * d]
            kh = k[:, (h // g) * d:(h // g + 1) * d]
            if cfg["model_type"] == "qwen3":
                qh = rms(qh, W[p + "self_attn.q_norm.weight"], eps)
                kh = rms(kh, W[p + "self_attn.k_norm.weight"], eps)
            qh, kh = rope(qh, f), rope(kh, f)
            vh = v[:, (h // g) * d:(h // g + 1) * d]
            sc = qh @ kh.T / math.sqrt(d)
            sc = sc + np.triu(np.full((S, S), -np.inf), 1)
            sc = np.exp(sc - sc.max(-1, keepdims=True))
            sc /= sc.sum(-1, keepdims=True)
            ctx[:, h * d:(h + 1) * d] = sc @ vh
        x = x + ctx @ W[p + "self_attn.o_proj.weight"].T
        m = rms(x, W[p + "post_attention_layernorm.weight"], eps)
        gate = m @ W[p + "mlp.gate_proj.weight"].T
        x = x + ((gate / (1 + np.exp(-gate))) * (m @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
    x = rms(x, W["model.norm.weight"], eps)
    head = W.get("lm_head.weight", W["model.embed_tokens.weight"])
    return x @ head.T


def make(variant, cfg, seed):
    rng = np.random.default_rng(seed)
    H, nh, nkv, I, V = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["intermediate_size"], cfg["vocab_size"]
    d = cfg.get("head_dim", H // nh)
    r = lambda *s: (rng.standard_normal(s) * 0.2).astype(np.float32).astype(np.float64)
    W = {"model.embed_tokens.weight": r(V, H), "model.norm.weight": 1 + r(H)}
    if not cfg["tie_word_embeddings"]:
        W["lm_head.weight"] = r(V, H)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        W.update({p + "input_layernorm.weight": 1 + r(H), p + "post_attention_layernorm.weight": 1 + r(H),
                  p + "self_attn.q_proj.weight": r(nh * d, H), p + "self_attn.k_proj.weight": r(nkv * d, H),
                  p + "self_attn.v_proj.weight": r(nkv * d, H), p + "self_attn.o_proj.weight": r(H, nh * d),
                  p + "mlp.gate_proj.weight": r(I, H), p + "mlp.up_proj.weight": r(I, H), p + "mlp.down_proj.weight": r(H, I)})
        if variant == "qwen2":
            for n, w in [("q_proj", nh * d), ("k_proj", nkv * d), ("v_proj", nkv * d)]:
                W[p + f"self_attn.{n}.bias"] = r(w)
        if variant == "qwen3":
            W[p + "self_attn.q_norm.weight"] = 1 + r(d)
            W[p + "self_attn.k_norm.weight"] = 1 + r(d)
    folder = os.path.join(OUT, f"tiny-{variant}")
    os.makedirs(folder, exist_ok=True)
    write_safetensors(os.path.join(folder, "model.safetensors"), W)
    json.dump(cfg, open(os.path.join(folder, "config.json"), "w"), indent=1)
    logits = [forward(W, cfg, s) for s in SEQUENCES]
    nll, count = 0.0, 0
    for s, lg in zip(SEQUENCES, logits):
        for t in range(len(s) - 1):
            row = lg[t]
            top = row.max()
            nll += math.log(np.exp(row - top).sum()) + top - row[s[t + 1]]
            count += 1
    json.dump({"sequences": SEQUENCES, "logits": [lg.tolist() for lg in logits], "mean_nll": nll / count},
              open(os.path.join(folder, "expected.json"), "w"))
    print(f"{folder}: mean NLL {nll / count:.6f}")


BASE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 48,
        "vocab_size": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu", "max_position_embeddings": 128}
make("llama", dict(BASE, model_type="llama", architectures=["LlamaForCausalLM"], tie_word_embeddings=False,
                   rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                 "original_max_position_embeddings": 16}), 1)
make("qwen2", dict(BASE, model_type="qwen2", architectures=["Qwen2ForCausalLM"], tie_word_embeddings=True, rope_theta=1e6), 2)
make("qwen3", dict(BASE, model_type="qwen3", architectures=["Qwen3ForCausalLM"], tie_word_embeddings=True, head_dim=16,
                   num_key_value_heads=1), 3)
