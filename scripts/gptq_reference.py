#!/usr/bin/env python3
"""A small numpy reference for GPTQ, SparseGPT and round-to-nearest (RTN).

Written from the project's research notes on the reference implementations
(IST-DASLab gptq/sparsegpt, GPTQModel), not from their code; the step numbers
a.2–a.6 (GPTQ) and a.9 (SparseGPT) in the comments refer to those notes. It is
the oracle for the Swift Compression tests (fixtures:
scripts/make_gptq_fixtures.py) and the numpy side of the GPTQ benchmark
(Benchmarks/reference/gptq.py). Layout: W is [rows, cols] = [out, in]; H is the
[cols, cols] Gram matrix of the layer inputs (any positive scale: damping is
relative to its mean diagonal, so the scale changes only the reported loss).

Conventions a port must follow to reproduce the codes bit for bit:
* Rounding is round-half-to-even everywhere (torch.round = np.round =
  Swift's `.toNearestOrEven`), for the codes and for the asymmetric zero point.
* Codes are `clip(round(x / scale) + zero, 0, maxq)` with a true division by
  the scale (not a multiply by its reciprocal); the zero point is
  `round(-xmin / scale)` with `scale = (xmax - xmin) / maxq` computed first.
* act_order sorts diag(H) descending with a STABLE sort
  (`np.argsort(-diag, kind="stable")`): equal diagonal values keep their
  original column order. PyTorch's argsort does not promise this; the choice
  here makes ties (e.g. dead columns, whose diagonal is set to 1) deterministic,
  and makes H = c·I give the identity permutation.
* The inverse factor U (upper, H⁻¹ = UᵀU) is always formed in float64 with
  LAPACK potrf('L') → potri → potrf('U') and then cast to the working dtype.
* Group parameters for groups that start inside a block are computed from the
  global W, which does not yet hold the current block's updates (a.4).

Command line:
    python3 scripts/gptq_reference.py --self-test
    python3 scripts/gptq_reference.py --weight W.npy --hessian H.npy --bits 4 \
        --group-size 128 [--sym] [--act-order] [--static-groups] --out PREFIX
(writes PREFIX.codes.npy, .scales.npy, .zeros.npy, .g_idx.npy, .dequantized.npy)
"""
import argparse
import sys
from typing import NamedTuple

import numpy as np
from scipy.linalg import lapack


# --------------------------------------------------------------------------- quantizer (a.6)

def quantizer_params(x, bits, sym):
    """Per-row (scale, zero) of a slice x [rows, k], as a.6 (perchannel, weight mode).

    The range always contains 0; sym uses ±max|x| but leaves xmin = 0 for a row
    with no negative value (the reference's quirk); an all-zero row uses [-1, 1].
    Returns two [rows] arrays in x's dtype; zero holds integer values in [0, maxq].
    """
    x = np.asarray(x)
    maxq = 2 ** bits - 1
    xmin = np.minimum(x.min(axis=1), 0)
    xmax = np.maximum(x.max(axis=1), 0)
    if sym:
        xmax = np.maximum(np.abs(xmin), xmax)
        xmin = np.where(xmin < 0, -xmax, xmin)
    empty = (xmin == 0) & (xmax == 0)
    xmin = np.where(empty, -1, xmin)
    xmax = np.where(empty, 1, xmax)
    scale = (xmax - xmin) / maxq
    if sym:
        zero = np.full_like(scale, (maxq + 1) / 2)
    else:
        zero = np.round(-xmin / scale)
    return scale, zero


def _per_row(v, x):
    """Broadcast a per-row vector against x ([rows] or [rows, k])."""
    return v if np.ndim(x) == 1 else np.asarray(v)[:, None]


def quantize(x, scale, zero, bits):
    """Integer codes clip(round(x / scale) + zero, 0, 2^bits − 1), as floats of x's dtype."""
    s, z = _per_row(scale, x), _per_row(zero, x)
    return np.clip(np.round(x / s) + z, 0, 2 ** bits - 1)


def fake_quant(x, scale, zero, bits):
    """Quantize then dequantize: scale · (code − zero)."""
    s, z = _per_row(scale, x), _per_row(zero, x)
    return s * (quantize(x, scale, zero, bits) - z)


# --------------------------------------------------------------------------- shared preparation

def remove_dead_columns(W, H):
    """a.2.2 in place: H[i,i] == 0 → H[i,i] = 1 and W[:, i] = 0. Returns the dead mask."""
    dead = np.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    return dead


def inverse_hessian_factor(H, damp=0.01):
    """a.2.6–7: U, upper triangular with (H + λI)⁻¹ = UᵀU, λ = damp · mean(diag H).

    Computed in float64 as the reference does it: Cholesky (lower), inverse from
    the factor (potri), Cholesky of the inverse (upper). H must already have its
    dead columns repaired; it is not modified.
    """
    H = np.array(H, dtype=np.float64)
    H[np.diag_indices_from(H)] += damp * np.mean(np.diag(H))
    lower, info = lapack.dpotrf(H, lower=1, clean=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"damped H is not positive definite (potrf info {info})")
    inverse, info = lapack.dpotri(lower, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"potri failed (info {info})")
    inverse = np.tril(inverse) + np.tril(inverse, -1).T
    upper, info = lapack.dpotrf(inverse, lower=0, clean=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"H⁻¹ is not positive definite in float64 (potrf info {info})")
    return upper


def act_order_permutation(diag):
    """Columns by diag(H) descending; ties keep their original order (stable sort)."""
    return np.argsort(-np.asarray(diag), kind="stable")


# --------------------------------------------------------------------------- GPTQ (a.2–a.5)

class GPTQResult(NamedTuple):
    codes: np.ndarray     # uint8 [rows, cols], original column order
    scales: np.ndarray    # [rows, G], in file order (see gptq)
    zeros: np.ndarray     # [rows, G], integer values
    g_idx: np.ndarray     # int32 [cols]: group of each original column
    Q: np.ndarray         # dequantized weight [rows, cols], original column order
    loss: float           # Σ (w − q)² / d² / 2 with d = U[c, c]
    perm: np.ndarray      # processing order (identity without act_order)
    inputs: np.ndarray    # each column as it was quantized (after error feedback), original order


def gptq(W, H, bits=4, group_size=128, sym=False, act_order=False, static_groups=False,
         damp=0.01, blocksize=128, dtype=np.float64):
    """GPTQ of one layer, following a.2–a.5 step by step.

    W [rows, cols], H [cols, cols] (not modified). group_size −1 = one group per
    row. Working precision `dtype` for W, U and the quantizer; U itself is formed
    in float64 (inverse_hessian_factor) and cast.

    scales/zeros columns are in the order the groups appear in g_idx: original
    group order, except with act_order and no static groups, where group g is
    the g-th group of `group_size` columns visited in permuted order
    (g_idx[j] = position of j in perm // group_size). The act_order permutation
    is a stable descending argsort of diag(H) (after dead columns are set to 1).
    """
    if group_size == 0 or group_size < -1:
        raise ValueError("group_size must be positive or -1")
    if static_groups and group_size == -1:
        raise ValueError("static_groups needs group_size > 0")
    maxq = 2 ** bits - 1
    W = np.array(W, dtype=dtype)
    H = np.array(H, dtype=np.float64)
    rows, cols = W.shape

    scale, zero = quantizer_params(W, bits, sym)                     # a.2.1: whole W, before dead columns
    remove_dead_columns(W, H)                                        # a.2.2
    static = []
    if static_groups:                                                # a.2.3: original order, after dead columns
        static = [quantizer_params(W[:, g0:g0 + group_size], bits, sym) for g0 in range(0, cols, group_size)]
    perm = np.arange(cols)
    if act_order:                                                    # a.2.4
        perm = act_order_permutation(np.diag(H))
        W = np.ascontiguousarray(W[:, perm])                         # (column fancy-indexing returns Fortran order)
        H = np.ascontiguousarray(H[perm][:, perm])
    invperm = np.argsort(perm)
    U = inverse_hessian_factor(H, damp).astype(dtype)               # a.2.6–7

    # Blocks and per-column outputs are held transposed (one row per column of W) so
    # each column step reads and writes contiguous memory; the arithmetic is a.3's.
    codes_t = np.zeros((cols, rows), dtype=np.uint8)
    Q_t, inputs_t, losses_t = (np.zeros((cols, rows), dtype=dtype) for _ in range(3))
    visited = []                                                     # (scale, zero) per group, in visit order
    for i1 in range(0, cols, blocksize):                             # a.3
        i2 = min(i1 + blocksize, cols)
        W1 = W[:, i1:i2].T.copy()                                    # W1[i] = current column i1 + i
        U1 = U[i1:i2, i1:i2]
        Err1 = np.zeros_like(W1)
        for i in range(i2 - i1):
            c = i1 + i
            if group_size > 0:                                       # a.4
                if static_groups:
                    scale, zero = static[perm[c] // group_size]
                elif c % group_size == 0:
                    scale, zero = quantizer_params(W[:, c:c + group_size], bits, sym)   # global W: stale inside a block
                    visited.append((scale, zero))
            w = W1[i].copy()
            d = U1[i, i]
            code = quantize(w, scale, zero, bits)
            q = scale * (code - zero)
            codes_t[c], Q_t[c], inputs_t[c] = code, q, w
            losses_t[c] = (w - q) ** 2 / d ** 2 / 2
            e = (w - q) / d
            W1[i:] -= np.outer(U1[i, i:], e)                          # W1[:, i:] -= e ⊗ U1[i, i:]
            Err1[i] = e
        W[:, i2:] -= Err1.T @ U[i1:i2, i2:]                           # one GEMM for all later columns

    if group_size == -1:
        groups = [(scale, zero)]
        g_idx = np.zeros(cols, dtype=np.int32)
    elif static_groups:
        groups = static
        g_idx = (np.arange(cols) // group_size).astype(np.int32)
    else:
        groups = visited
        g_idx = (invperm // group_size).astype(np.int32)             # = arange // gs without act_order
    scales = np.stack([s for s, _ in groups], axis=1)
    zeros = np.stack([z for _, z in groups], axis=1)
    assert codes_t.max() <= maxq
    codes, Q, inputs = (np.ascontiguousarray(a[invperm].T) for a in (codes_t, Q_t, inputs_t))   # original order
    return GPTQResult(codes, scales, zeros, g_idx, Q, float(np.sum(losses_t, dtype=np.float64)), perm, inputs)


# --------------------------------------------------------------------------- RTN

class RTNResult(NamedTuple):
    codes: np.ndarray     # uint8 [rows, cols]
    scales: np.ndarray    # [rows, G]
    zeros: np.ndarray     # [rows, G]
    g_idx: np.ndarray     # int32 [cols] = j // group_size
    Q: np.ndarray         # dequantized weight


def rtn(W, bits=4, group_size=128, sym=False, dtype=np.float64):
    """Round to nearest with the a.6 quantizer, params per group of the unmodified W."""
    if group_size == 0 or group_size < -1:
        raise ValueError("group_size must be positive or -1")
    W = np.asarray(W, dtype=dtype)
    cols = W.shape[1]
    gs = cols if group_size == -1 else group_size
    codes, Q, scales, zeros = [], [], [], []
    for g0 in range(0, cols, gs):
        block = W[:, g0:g0 + gs]
        scale, zero = quantizer_params(block, bits, sym)
        code = quantize(block, scale, zero, bits)
        codes.append(code)
        Q.append(scale[:, None] * (code - zero[:, None]))
        scales.append(scale)
        zeros.append(zero)
    return RTNResult(np.concatenate(codes, axis=1).astype(np.uint8), np.stack(scales, axis=1),
                     np.stack(zeros, axis=1), (np.arange(cols) // gs).astype(np.int32),
                     np.concatenate(Q, axis=1))


# --------------------------------------------------------------------------- SparseGPT (a.9)

class SparseGPTResult(NamedTuple):
    weight: np.ndarray    # pruned (and optionally fake-quantized) W
    mask: np.ndarray      # bool [rows, cols], True = pruned
    loss: float           # Σ (w − q)² / d² / 2


def sparsegpt(W, H, sparsity=0.5, prunen=0, prunem=0, bits=None, blocksize=128, damp=0.01, dtype=np.float64):
    """SparseGPT of one layer, as a.9.

    Unstructured (prunen == 0): per block, saliency s = W1² / diag(U1)², threshold
    sorted(s)[int(numel · sparsity)], pruned where s <= threshold (computed once at
    the block start). N:M (prunen > 0): at local column i with i % prunem == 0, the
    prunen smallest saliencies of each row among columns i…i+prunem−1 of the current
    W1 (ties: lowest column first). With `bits`, every column is fake-quantized after
    masking with one asymmetric per-row quantizer computed from the whole W at the
    start (before dead columns, like GPTQ's a.2.1); pruned entries stay exactly 0.
    """
    if not 0 <= sparsity < 1:
        raise ValueError("sparsity must be in [0, 1)")
    if prunen and (prunem <= prunen or blocksize % prunem):
        raise ValueError("N:M needs prunen < prunem and blocksize a multiple of prunem")
    W = np.array(W, dtype=dtype)
    H = np.array(H, dtype=np.float64)
    rows, cols = W.shape
    if bits:
        scale, zero = quantizer_params(W, bits, sym=False)
    remove_dead_columns(W, H)
    U = inverse_hessian_factor(H, damp).astype(dtype)

    mask = np.zeros((rows, cols), dtype=bool)
    losses = np.zeros((rows, cols), dtype=dtype)
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        W1 = W[:, i1:i2].T.copy()                                    # transposed block, as in gptq
        U1 = U[i1:i2, i1:i2]
        d1 = np.diag(U1)
        Q1, Err1, losses1 = np.zeros_like(W1), np.zeros_like(W1), np.zeros_like(W1)
        if prunen == 0:
            saliency = W1 ** 2 / d1[:, None] ** 2
            thresh = np.sort(saliency, axis=None)[int(saliency.size * sparsity)]
            mask1 = saliency <= thresh
        else:
            mask1 = np.zeros(W1.shape, dtype=bool)
        for i in range(i2 - i1):
            if prunen and i % prunem == 0:
                saliency = W1[i:i + prunem] ** 2 / d1[i:i + prunem, None] ** 2
                smallest = np.argsort(saliency, axis=0, kind="stable")[:prunen]
                np.put_along_axis(mask1[i:i + prunem], smallest, True, axis=0)
            w = W1[i].copy()
            d = U1[i, i]
            q = np.where(mask1[i], 0, w)
            if bits:
                q = fake_quant(q, scale, zero, bits)
            Q1[i] = q
            losses1[i] = (w - q) ** 2 / d ** 2 / 2
            e = (w - q) / d
            W1[i:] -= np.outer(U1[i, i:], e)
            Err1[i] = e
        W[:, i1:i2] = Q1.T
        mask[:, i1:i2] = mask1.T
        losses[:, i1:i2] = losses1.T
        W[:, i2:] -= Err1.T @ U[i1:i2, i2:]
    return SparseGPTResult(W, mask, float(np.sum(losses, dtype=np.float64)))


# --------------------------------------------------------------------------- helpers

def activation_error(W, Q, H):
    """tr((W − Q) H (W − Q)ᵀ) in float64."""
    D = np.asarray(W, np.float64) - np.asarray(Q, np.float64)
    return float(np.sum((D @ np.asarray(H, np.float64)) * D))


def dequantize(codes, scales, zeros, g_idx):
    """scale · (code − zero) with the group of each column taken from g_idx."""
    return scales[:, g_idx] * (codes.astype(scales.dtype) - zeros[:, g_idx])


def rounding_margin(inputs, scales, zeros, g_idx, bits):
    """Smallest distance of x / scale from a rounding tie (k + ½) over the entries
    where that rounding decides the code (both neighbours inside [0, maxq] after
    adding the zero). A port whose column values differ by less than about
    margin · scale reproduces every code."""
    t = inputs / scales[:, g_idx]
    low = np.floor(t) + zeros[:, g_idx]
    decides = (low >= 0) & (low + 1 <= 2 ** bits - 1)
    distance = np.abs(t - np.floor(t) - 0.5)
    return float(distance[decides].min()) if decides.any() else float("inf")


def correlated_problem(rng, rows, cols, tokens, dead=(), loud=()):
    """W with varying row scales, H = XᵀX of correlated inputs (X = Z·M, some columns ×20, dead columns 0)."""
    W = rng.standard_normal((rows, cols)) * np.geomspace(0.02, 2.0, rows)[:, None]
    M = np.eye(cols) + rng.standard_normal((cols, cols)) / np.sqrt(cols) * 1.5
    X = rng.standard_normal((tokens, cols)) @ M
    X[:, list(loud)] *= 20
    X[:, list(dead)] = 0
    return W, X.T @ X


# --------------------------------------------------------------------------- self-test

def _naive_gptq_codes(W, H, bits, sym, damp):
    """Unblocked GPTQ, group_size −1, no act_order: every update applied at once."""
    W = np.array(W, dtype=np.float64)
    H = np.array(H, dtype=np.float64)
    scale, zero = quantizer_params(W, bits, sym)
    remove_dead_columns(W, H)
    U = inverse_hessian_factor(H, damp)
    codes = np.zeros(W.shape, dtype=np.uint8)
    for c in range(W.shape[1]):
        w = W[:, c].copy()
        codes[:, c] = quantize(w, scale, zero, bits)
        q = fake_quant(w, scale, zero, bits)
        W[:, c:] -= np.outer((w - q) / U[c, c], U[c, c:])
    return codes


CONFIGS = [  # (bits, group_size, sym, act_order, static_groups)
    (4, 128, False, False, False), (4, 32, True, False, False), (3, 64, False, True, False),
    (2, -1, False, False, False), (8, 128, True, True, True), (4, 64, False, True, True),
    (3, 32, True, False, False), (4, 48, False, True, False),
]


def self_test():
    rng = np.random.default_rng(2024)
    W, H = correlated_problem(rng, 10, 200, 600, dead=(13, 150), loud=(5, 77, 190))
    checks = 0

    def ok(message):
        nonlocal checks
        checks += 1
        print(f"ok  {message}")

    for bits, gs, sym, act, static in CONFIGS:
        name = f"{bits}-bit g{gs} {'sym' if sym else 'asym'}{' act' if act else ''}{' static' if static else ''}"
        for dtype in (np.float64, np.float32):
            r = gptq(W, H, bits, gs, sym, act, static, dtype=dtype)
            G = 1 if gs == -1 else -(-W.shape[1] // gs)
            assert r.codes.dtype == np.uint8 and r.codes.max() <= 2 ** bits - 1
            assert r.scales.shape == r.zeros.shape == (W.shape[0], G) and r.g_idx.dtype == np.int32
            assert np.all(r.zeros == np.round(r.zeros)) and r.zeros.min() >= 0 and r.zeros.max() <= 2 ** bits - 1
            assert np.array_equal(dequantize(r.codes, r.scales, r.zeros, r.g_idx), r.Q), name
            assert np.all(r.Q[:, [13, 150]] == 0), "dead columns quantize to 0"
            again = np.clip(np.round(r.inputs / r.scales[:, r.g_idx]) + r.zeros[:, r.g_idx], 0, 2 ** bits - 1)
            assert np.array_equal(again, r.codes), "inputs are the values that were rounded"
            assert np.all(np.bincount(r.g_idx, minlength=G) <= (W.shape[1] if gs == -1 else gs))
        ok(f"{name}: codes in range, Q = scale·(code − zero) via g_idx, codes = round(inputs), dead columns 0 (float64, float32)")

        # No cross-column correlation: U is diagonal, so error feedback touches nothing later.
        r = gptq(W, 3.7 * np.eye(W.shape[1]), bits, gs, sym, act, static)
        plain = rtn(W, bits, gs, sym)
        assert np.array_equal(r.perm, np.arange(W.shape[1])), "stable sort: equal diagonal keeps order"
        assert np.array_equal(r.codes, plain.codes) and np.array_equal(r.scales, plain.scales), name
        assert np.array_equal(r.zeros, plain.zeros) and np.array_equal(r.Q, plain.Q), name
        ok(f"{name}: H = c·I gives exactly the RTN codes, scales and zeros")

        r = gptq(W, H, bits, gs, sym, act, static)
        plain = rtn(np.where(np.diag(H) == 0, 0, W), bits, gs, sym)
        e_gptq, e_rtn = activation_error(W, r.Q, H), activation_error(W, plain.Q, H)
        assert e_gptq < e_rtn, (name, e_gptq, e_rtn)
        ok(f"{name}: activation error GPTQ {e_gptq:.4g} < RTN {e_rtn:.4g} (ratio {e_gptq / e_rtn:.3f})")

    # Lazy batching is exact: block sizes dividing the group size give the same codes,
    # and group −1 matches an unblocked loop.
    for bs in (16, 64, 200):
        assert np.array_equal(gptq(W, H, 4, -1, blocksize=bs).codes, gptq(W, H, 4, -1).codes)
    assert np.array_equal(_naive_gptq_codes(W, H, 4, False, 0.01), gptq(W, H, 4, -1).codes)
    for bs in (16, 32, 64):
        assert np.array_equal(gptq(W, H, 3, 64, blocksize=bs).codes, gptq(W, H, 3, 64, blocksize=64).codes)
    ok("lazy batches: codes independent of the block size (when it divides the group size); = unblocked loop")

    # Worked act-order example of a.5.
    diag = np.array([1, 5, 3, 8, 2, 7, 4, 6], dtype=np.float64)
    W8 = rng.standard_normal((3, 8))
    r = gptq(W8, np.diag(diag), 4, 4, act_order=True)
    assert r.perm.tolist() == [3, 5, 7, 1, 6, 2, 4, 0], r.perm
    assert r.g_idx.tolist() == [1, 0, 1, 0, 1, 0, 1, 0], r.g_idx
    first = quantizer_params(W8[:, [3, 5, 7, 1]], 4, False)
    assert np.array_equal(r.scales[:, 0], first[0]) and np.array_equal(r.zeros[:, 0], first[1])
    ok("a.5 example: perm [3,5,7,1,6,2,4,0], g_idx [1,0,1,0,1,0,1,0], scales[:,0] from columns 3,5,7,1")

    # Quantizer corner cases.
    s, z = quantizer_params(np.array([[0.0, 0.0], [1.0, 3.0], [-2.0, 1.0]]), 4, True)
    assert s.tolist() == [2 / 15, 3 / 15, 4 / 15] and z.tolist() == [8, 8, 8]
    s, z = quantizer_params(np.array([[0.0, 0.0], [1.0, 3.0], [-3.0, 0.0]]), 4, False)
    assert z.tolist() == [np.round(1 / (2 / 15)), 0, 15]
    assert np.round(2.5) == 2 and np.round(3.5) == 4
    ok("quantizer: range contains 0, sym all-positive quirk, all-zero row → [-1, 1], half-to-even")

    # SparseGPT.
    for label, kw in (("unstructured 0.5", dict(sparsity=0.5)), ("2:4", dict(prunen=2, prunem=4)),
                      ("unstructured 0.5 + 4-bit", dict(sparsity=0.5, bits=4)), ("2:4 + 3-bit", dict(prunen=2, prunem=4, bits=3)),
                      ("unstructured 0.7, block 64", dict(sparsity=0.7, blocksize=64))):
        for dtype in (np.float64, np.float32):
            r = sparsegpt(W, H, dtype=dtype, **kw)
            assert np.all(r.weight[r.mask] == 0), label
            assert np.all(r.mask[:, [13, 150]]), "dead columns have saliency 0, always pruned"
            if kw.get("prunen"):
                groups = r.mask.reshape(W.shape[0], -1, 4).sum(axis=2)
                assert np.all(groups == 2), label
            else:
                bs = kw.get("blocksize", 128)
                for b0 in range(0, W.shape[1], bs):
                    block = r.mask[:, b0:b0 + bs]
                    assert block.sum() == int(block.size * kw["sparsity"]) + 1, (label, b0)   # no ties here
            if kw.get("bits"):
                scale, zero = quantizer_params(W.astype(dtype), kw["bits"], False)
                assert np.array_equal(fake_quant(r.weight, scale, zero, kw["bits"]), r.weight), "on the grid"
        r = sparsegpt(W, H, **kw)
        naive = np.where(r.mask | (np.diag(H) == 0), 0, W)   # same mask, no error feedback
        if kw.get("bits"):
            naive = fake_quant(naive, *quantizer_params(W, kw["bits"], False), kw["bits"])
        e_sparse, e_naive = activation_error(W, r.weight, H), activation_error(W, naive, H)
        assert e_sparse < e_naive, (label, e_sparse, e_naive)
        ok(f"sparsegpt {label}: pattern, exact zeros (float64, float32); activation error "
           f"{e_sparse:.4g} < {e_naive:.4g} for the same mask without error feedback")
    print(f"{checks} checks passed")


# --------------------------------------------------------------------------- CLI

def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--self-test", action="store_true")
    p.add_argument("--weight", help=".npy [rows, cols]")
    p.add_argument("--hessian", help=".npy [cols, cols]")
    p.add_argument("--bits", type=int, default=4)
    p.add_argument("--group-size", type=int, default=128)
    p.add_argument("--sym", action="store_true")
    p.add_argument("--act-order", action="store_true")
    p.add_argument("--static-groups", action="store_true")
    p.add_argument("--damp", type=float, default=0.01)
    p.add_argument("--out", default="gptq")
    a = p.parse_args(argv)
    if a.self_test:
        self_test()
        return
    if not (a.weight and a.hessian):
        p.error("give --self-test, or --weight and --hessian")
    W, H = np.load(a.weight), np.load(a.hessian)
    r = gptq(W, H, a.bits, a.group_size, a.sym, a.act_order, a.static_groups, a.damp)
    for field in ("codes", "scales", "zeros", "g_idx", "Q"):
        np.save(f"{a.out}.{'dequantized' if field == 'Q' else field}.npy", getattr(r, field))
    print(f"loss {r.loss:.6g}; activation error GPTQ {activation_error(W, r.Q, H):.6g}, "
          f"RTN {activation_error(W, rtn(W, a.bits, a.group_size, a.sym).Q, H):.6g}")


if __name__ == "__main__":
    main(sys.argv[1:])
