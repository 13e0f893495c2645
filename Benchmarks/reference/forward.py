"""numpy side of rankwise-bench's forward suite, float32, batched, over the same
deterministic token ids as the Swift side:
- all-MiniLM-L6-v2 sentence embeddings (the sequences all have the same length,
  so no padding), from the model fetched by `make test-models`;
- SmolLM2-135M's summed next-token NLL of 4 x 512 tokens (every block, final
  norm, tied head, log-softmax), from the F32 safetensors and config.json that
  rankwise-bench converts from the wheel's GGUF into <output>/forward-data/smollm2
  (so run the Swift side first, as `make bench` does).
Each is skipped with a note when its model is not there."""
import json
import math
import os
import struct
import sys

from common import Harness, limit_threads, parse_args, run_child

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


def rms(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + np.float32(eps)) * w


def llama_nll(W, cfg, ids):
    """Hugging Face's LlamaForCausalLM forward (pre-RMSNorm blocks, rotate-half RoPE with float32
    angles, grouped-query causal attention, SiLU-gated MLP), then the mean NLL of the shifted labels."""
    B, S = ids.shape
    H, heads, kv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = cfg.get("head_dim") or H // heads
    eps = cfg["rms_norm_eps"]
    inv = (1.0 / (cfg.get("rope_theta", 10000.0) ** (np.arange(0, d, 2, dtype=np.float64) / d))).astype(np.float32)
    angles = np.arange(S, dtype=np.float32)[:, None] * inv[None, :]
    cos, sin = np.cos(angles), np.sin(angles)
    mask = np.triu(np.full((S, S), -np.inf, dtype=np.float32), 1)

    def rope(t):  # [B, h, S, d]
        a, b = t[..., : d // 2], t[..., d // 2:]
        return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)

    x = W["model.embed_tokens.weight"][ids].reshape(B * S, H)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = rms(x, W[p + "input_layernorm.weight"], eps)
        q = rope((a @ W[p + "self_attn.q_proj.weight"].T).reshape(B, S, heads, d).transpose(0, 2, 1, 3))
        k = rope((a @ W[p + "self_attn.k_proj.weight"].T).reshape(B, S, kv, d).transpose(0, 2, 1, 3))
        v = (a @ W[p + "self_attn.v_proj.weight"].T).reshape(B, S, kv, d).transpose(0, 2, 1, 3)
        k = np.ascontiguousarray(np.repeat(k, heads // kv, axis=1).transpose(0, 1, 3, 2))
        v = np.ascontiguousarray(np.repeat(v, heads // kv, axis=1))
        s = np.ascontiguousarray(q) @ k / np.float32(math.sqrt(d)) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        x = x + (s @ v).transpose(0, 2, 1, 3).reshape(B * S, heads * d) @ W[p + "self_attn.o_proj.weight"].T
        m = rms(x, W[p + "post_attention_layernorm.weight"], eps)
        g = m @ W[p + "mlp.gate_proj.weight"].T
        x = x + (g / (1 + np.exp(-g)) * (m @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
    x = rms(x, W["model.norm.weight"], eps)
    head = W.get("lm_head.weight", W["model.embed_tokens.weight"])
    total, terms = 0.0, 0
    for b in range(B):
        for start in range(0, S - 1, 256):  # the logits 256 rows at a time, as the Swift side
            end = min(start + 256, S - 1)
            logits = x[b * S + start: b * S + end] @ head.T
            top = logits.max(-1, keepdims=True)
            lse = np.log(np.exp(logits - top).sum(-1, dtype=np.float64)) + top[:, 0]
            total += float((lse - logits[np.arange(end - start), ids[b, start + 1: end + 1]]).sum())
            terms += end - start
    return total / terms


def bench_ids(count, length, vocabulary):
    """The token ids rankwise-bench generates too (RankwiseBench.benchIDs): sentence s, position t."""
    return np.array([[101] + [1000 + (s * 7919 + t * 104729) % (vocabulary - 1000) for t in range(1, length - 1)] + [102]
                     for s in range(count)])


def model(folder):
    """config.json and the F32 tensors of model.safetensors in `folder`."""
    return json.load(open(os.path.join(folder, "config.json"))), load(os.path.join(folder, "model.safetensors"))


def main():
    harness = Harness(args["repetitions"], threads=args["threads"])
    calibrate_rows(harness)
    if not os.path.exists(os.path.join(MODEL, "model.safetensors")):
        print(f"forward: all-MiniLM-L6-v2 is not in {MODEL} (make test-models); skipped", file=sys.stderr)
    else:
        cfg, W = model(MODEL)
        count, length = (64, 64) if args["quick"] else (256, 64)
        ids = bench_ids(count, length, cfg["vocab_size"])
        harness.measure("forward", "minilm embeddings", "float32", f"{count}x{length} tokens", "numpy", lambda: embeddings(W, cfg, ids))
    smol = os.path.join(args["output"], "forward-data", "smollm2")
    if not os.path.exists(os.path.join(smol, "model.safetensors")):
        print(f"forward: {smol} is missing (rankwise-bench --suites forward writes it from the SmolLM2 GGUF); skipped", file=sys.stderr)
    else:
        cfg, W = model(smol)
        count, length = (1, 256) if args["quick"] else (4, 512)
        ids = bench_ids(count, length, cfg["vocab_size"])
        print(f"forward: SmolLM2 mean NLL {llama_nll(W, cfg, ids)} (numpy)", file=sys.stderr)
        harness.measure("forward", "smollm2 nll", "float32", f"{count}x{length} tokens", "numpy", lambda: llama_nll(W, cfg, ids))
    harness.write(args["output"], "reference-forward.json", {"numpy": np.__version__})


def calibrate_rows(harness):
    """`rankwise calibrate` on both models as a user runs it (the built CLI, a fresh child per run): time
    and peak RSS. The text is the SmolLM2 wheel's LICENSE.txt (MiniLM: its non-empty lines, eight times,
    one input each; SmolLM2: 16 random windows of 512 tokens, as GPTQ samples; --quick: 4 of 256)."""
    rankwise = ".build/release/rankwise"
    license_file = os.path.join(CACHE, "smollm2", "LICENSE.txt")
    if not os.path.exists(rankwise) or not os.path.exists(license_file):
        print("forward: calibrate rows need .build/release/rankwise and make test-models; skipped", file=sys.stderr)
        return
    folder = os.path.join(args["output"], "forward-data")
    os.makedirs(folder, exist_ok=True)
    lines = [line for line in open(license_file, encoding="utf-8").read().splitlines() if line.strip()]
    text = os.path.join(folder, "calibration.txt")
    with open(text, "w", encoding="utf-8") as f:
        f.write("\n".join(lines * 8) + "\n")
    threads = ["--threads", str(args["threads"])] if args["threads"] else []
    samples, length = (4, 256) if args["quick"] else (16, 512)
    cases = [("calibrate minilm", f"{len(lines) * 8} lines", [os.path.join(CACHE, "minilm")]),
             ("calibrate smollm2", f"{samples}x{length} tokens", [os.path.join(CACHE, "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
                                                                 "--samples", str(samples), "--seq-len", str(length)])]
    for operation, size, model in cases:
        command = [rankwise, "calibrate", "--model", model[0], *model[1:], "--text", text, "-q", *threads,
                   "-o", os.path.join(folder, "calibration.safetensors")]
        peak = []

        harness.measure("forward", operation, "float32", size, "openblas", lambda: peak.append(run_child(command, "forward.py")))
        record = harness.records[-1]
        record["metric"], record["metricName"] = max(peak), "peak RSS MB"
        print(f"  peak RSS {max(peak):.0f} MB", file=sys.stderr)


main()
