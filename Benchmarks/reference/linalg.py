"""numpy/scipy/scikit-learn timings for the rows rankwise-bench measures:
GEMM, SVD (gesdd), symmetric eigen (syevd), Cholesky, QR, and randomized SVD.

Usage: python3 Benchmarks/reference/linalg.py [--quick] [--repetitions N] [--threads N] [--output DIR]
"""
import sys

from common import Harness, limit_threads, parse_args

args = parse_args(sys.argv[1:])
limit_threads(args["threads"])

import numpy as np  # noqa: E402  (after the thread limit)

quick = args["quick"]
h = Harness(args["repetitions"], threads=args["threads"])
gemm_sizes = [256, 512, 1024] if quick else [256, 512, 1024, 2048, 4096]
decomposition_sizes = [256, 512] if quick else [512, 1024, 2048]
rng = np.random.default_rng(1)

for dtype in (np.float32, np.float64):
    name = np.dtype(dtype).name
    for n in gemm_sizes:
        a = rng.standard_normal((n, n)).astype(dtype)
        b = rng.standard_normal((n, n)).astype(dtype)
        c = np.empty((n, n), dtype=dtype)
        h.measure("linalg", "gemm", name, n, "numpy", lambda: np.matmul(a, b, out=c), flops=2.0 * n ** 3)
    for n in decomposition_sizes:
        a = rng.standard_normal((n, n)).astype(dtype)
        g = rng.standard_normal((n, n)).astype(dtype)
        s = (g.T @ g + n * np.eye(n)).astype(dtype)
        h.measure("linalg", "svd", name, n, "numpy", lambda: np.linalg.svd(a, full_matrices=False))
        h.measure("linalg", "eigh", name, n, "numpy", lambda: np.linalg.eigh(s))
        h.measure("linalg", "cholesky", name, n, "numpy", lambda: np.linalg.cholesky(s))
        h.measure("linalg", "qr", name, n, "numpy", lambda: np.linalg.qr(a, mode="reduced"))

try:
    from sklearn.utils.extmath import randomized_svd
except ImportError:
    randomized_svd = None
    print("linalg.py: scikit-learn missing; skipping the randomized SVD row (make bench installs it)", file=sys.stderr)

if randomized_svd is not None:
    n, rank = (1024 if quick else 4096), 128
    a = (rng.standard_normal((n, n)) / np.arange(1, n + 1)).astype(np.float32)
    h.measure("rsvd", f"randomized_svd r={rank}", "float32", n, "scikit-learn",
              lambda: randomized_svd(a, rank, n_oversamples=10, n_iter=4, power_iteration_normalizer="QR", random_state=0))

meta = {"numpy": np.__version__, "threads": str(args["threads"] or "default")}
try:
    cfg = np.show_config(mode="dicts")
    meta["numpy_blas"] = cfg["Build Dependencies"]["blas"].get("openblas configuration", cfg["Build Dependencies"]["blas"]["name"])
except Exception:  # older numpy
    pass
h.write(args["output"], "reference-linalg.json", meta)
