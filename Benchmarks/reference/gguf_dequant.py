"""gguf-py (llama.cpp's Python package, numpy) timings for the gguf rows of
rankwise-bench: gguf.quants.dequantize of a 49152 x 576 tensor (--quick:
8192 x 576; the k-quants as 18432 x 1536, the same element count) in each block format, on seeded random blocks with finite F16
scales, as rankwise-bench dequantizes them (its bytes come from another
generator; the time does not depend on the values).
"""
import sys

from common import Harness, limit_threads, parse_args

args = parse_args(sys.argv[1:])
limit_threads(args["threads"])

import numpy as np  # noqa: E402
from gguf import GGMLQuantizationType as T  # noqa: E402
from gguf import GGML_QUANT_SIZES  # noqa: E402
from gguf.quants import dequantize  # noqa: E402

elements = (8192 if args["quick"] else 49152) * 576
scale_offsets = {T.Q4_1: [0, 2], T.Q5_1: [0, 2], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q2_K: [80, 82], T.Q3_K: [108], T.Q6_K: [208]}


def bench_bytes(qtype):
    """Seeded random blocks with finite F16 scales in +-0.05 (the time does not depend on the values)."""
    block, size = GGML_QUANT_SIZES[qtype]
    blocks = elements // block
    raw = np.random.default_rng(0).integers(0, 256, size=(blocks, size), dtype=np.uint8)
    for offset in scale_offsets.get(qtype, [0]):
        scale = ((raw[:, offset].astype(np.float32) - 128) / 2560).astype(np.float16)
        raw[:, offset:offset + 2] = scale.view(np.uint8).reshape(blocks, 2)
    return raw.reshape(-1)


h = Harness(args["repetitions"], threads=args["threads"])
for qtype in [T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q4_K, T.Q6_K]:
    data = bench_bytes(qtype)
    columns = 1536 if GGML_QUANT_SIZES[qtype][0] == 256 else 576
    rows = elements // columns
    h.measure("gguf", f"dequantize {qtype.name}", "float32", f"{rows}x{columns}", "gguf-py", lambda: dequantize(data, qtype))
h.write(args["output"], "reference-gguf.json", {"library": "gguf-py", "numpy": np.__version__})
