"""numpy/scipy/scikit-learn implementations of the EoRA rows of rankwise-bench:
the same math on the same shapes (4096x4096 layer, 4096 calibration tokens,
rank 128, and 2048x2048 at rank 64; MiniLM-sized 1536x384 and 384x1536 with
12,288 tokens at rank 32; --quick: 1024 and the MiniLM layers), each with its
relative activation error.

exact: eigh of C in float64, cut-off, W' = dW Q L^1/2 in float32, full SVD.
fast:  Cholesky of C + dI in float64, randomized_svd (p = 10, q = 4), triangular solve.
"""
import sys

from common import Harness, limit_threads, parse_args

args = parse_args(sys.argv[1:])
limit_threads(args["threads"])

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402

quick = args["quick"]
# (out, in, tokens, rank): the same list as rankwise-bench's eoraCases.
MINILM = [(1536, 384, 12288, 32), (384, 1536, 12288, 32)]
CASES = ([(1024, 1024, 1024, 128)] if quick else [(4096, 4096, 4096, 128), (2048, 2048, 4096, 64)]) + MINILM


def rtn(weight, bits=4, group=128):
    out = weight.reshape(weight.shape[0], -1, group).astype(np.float64)
    lo = np.minimum(out.min(axis=2, keepdims=True), 0)
    hi = np.maximum(out.max(axis=2, keepdims=True), 0)
    scale = (hi - lo) / (2 ** bits - 1)
    safe = np.where(scale > 0, scale, 1)
    zero = np.round(-lo / safe)
    q = np.clip(np.round(out / safe) + zero, 0, 2 ** bits - 1)
    return np.where(scale > 0, (q - zero) * scale, out).reshape(weight.shape).astype(np.float32)


def case(out, n, tokens, rank):
    rng = np.random.default_rng(11)
    w = (rng.standard_normal((out, n)) / np.sqrt(np.arange(1, n + 1))).astype(np.float32)
    delta = w - rtn(w)
    x = rng.standard_normal((tokens, n)).astype(np.float32)
    x[:, 7::40] *= 25
    c = (x.T @ x).astype(np.float64)
    delta_energy = float(np.sum((delta.astype(np.float64) @ c) * delta))

    def activation_error(b, a):
        e = delta.astype(np.float64) - b.astype(np.float64) @ a.astype(np.float64)
        return float(np.sqrt(max(np.sum((e @ c) * e), 0) / delta_energy))

    def exact():
        lam, q = np.linalg.eigh(c)
        cutoff = max(lam[-1], 0) * min(1.0, n * np.finfo(np.float32).eps)
        keep = lam > cutoff
        root = np.where(keep, np.sqrt(np.where(keep, lam, 1)), 0)
        inv_root = np.where(keep, 1 / np.where(keep, root, 1), 0)
        w_prime = delta @ (q * root).astype(np.float32)
        u, s, vt = np.linalg.svd(w_prime, full_matrices=False)
        b = u[:, :rank] * np.sqrt(s[:rank])
        a = ((np.sqrt(s[:rank])[:, None] * vt[:rank]).astype(np.float64) * inv_root) @ q.T
        return b, a

    def fast():
        from sklearn.utils.extmath import randomized_svd
        shift = 1e-6 * np.trace(c) / n
        lower = np.linalg.cholesky(c + shift * np.eye(n))
        w_prime = delta @ lower.astype(np.float32)
        u, s, vt = randomized_svd(w_prime, rank, n_oversamples=10, n_iter=4, power_iteration_normalizer="QR", random_state=0)
        b = u * np.sqrt(s)
        a = scipy.linalg.solve_triangular(lower, (np.sqrt(s)[:, None] * vt).astype(np.float64).T, lower=True, trans="T").T
        return b, a

    return activation_error, exact, fast


h = Harness(args["repetitions"], slow_run_seconds=20, threads=args["threads"])
for out, n, tokens, rank in CASES:
    activation_error, exact, fast = case(out, n, tokens, rank)
    for name, fn in ((f"eora exact r={rank}", exact), (f"eora fast r={rank}", fast)):
        result = {}
        h.measure("eora", name, "float32", f"{out}x{n} N={tokens}", "numpy", lambda: result.update(ba=fn()))
        h.records[-1]["metric"] = activation_error(*result["ba"])
        h.records[-1]["metricName"] = "activation error"
        print(f"  activation error {h.records[-1]['metric']:.5f}", file=sys.stderr)
h.write(args["output"], "reference-eora.json", {"numpy": np.__version__})
