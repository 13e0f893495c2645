"""numpy implementations of the GPTQ / SparseGPT rows of rankwise-bench: one
4096x4096 float32 layer (--quick: 1024x1024), H = XᵀX from as many calibration
tokens as columns, seeded like eora.py.

gptq-4bit-g128:  GPTQ, 4-bit, group 128, asymmetric, damp 0.01, block 128,
                 float32 working precision (H⁻¹'s Cholesky factor in float64, then cast).
sparsegpt-50%:   SparseGPT, unstructured 50 %, block 128, damp 0.01, float32.

The algorithm is scripts/gptq_reference.py (the oracle of the Swift fixtures), so this
measures the readable numpy reference, not a tuned implementation. Forming H is not
timed (as in eora.py); the preparation (dead columns, damping, Cholesky, inverse,
Cholesky) and the column loop are. Each row carries the relative activation error
sqrt(tr(ΔHΔᵀ) / tr(WHWᵀ)), Δ = W − Q.
"""
import os
import sys

from common import Harness, limit_threads, parse_args

args = parse_args(sys.argv[1:])
limit_threads(args["threads"])

import numpy as np  # noqa: E402
import scipy  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import gptq_reference as ref  # noqa: E402

quick = args["quick"]
CASES = [(1024, 1024, 1024)] if quick else [(4096, 4096, 4096)]   # (out, in, tokens)


def problem(out, n, tokens):
    rng = np.random.default_rng(11)
    w = (rng.standard_normal((out, n)) / np.sqrt(np.arange(1, n + 1))).astype(np.float32)
    x = rng.standard_normal((tokens, n)).astype(np.float32)
    x[:, 7::40] *= 25
    return w, x.T @ x


h = Harness(args["repetitions"], threads=args["threads"])
meta = {"numpy": np.__version__, "scipy": scipy.__version__, "damp_percent": 0.01, "blocksize": 128}
for out, n, tokens in CASES:
    w, gram = problem(out, n, tokens)
    h64 = gram.astype(np.float64)
    w64 = w.astype(np.float64)
    reference = float(np.sum((w64 @ h64) * w64))

    def relative_error(q):
        return float(np.sqrt(ref.activation_error(w64, q, h64) / reference))

    size = f"{out}x{n} N={tokens}"
    rows = (("gptq-4bit-g128", lambda: ref.gptq(w, gram, bits=4, group_size=128, sym=False, damp=0.01,
                                                 dtype=np.float32).Q),
            ("sparsegpt-50%", lambda: ref.sparsegpt(w, gram, sparsity=0.5, damp=0.01, dtype=np.float32).weight))
    for operation, fn in rows:
        result = {}
        h.measure("gptq", operation, "float32", size, "numpy", lambda: result.update(q=fn()))
        h.records[-1].update(metric=relative_error(result["q"]), metricName="relative activation error")
        print(f"  relative activation error {h.records[-1]['metric']:.5f}", file=sys.stderr)
    meta[f"rtn_4bit_g128_relative_activation_error {size}"] = relative_error(ref.rtn(w, 4, 128, False, dtype=np.float32).Q)
h.write(args["output"], "reference-gptq.json", meta)
