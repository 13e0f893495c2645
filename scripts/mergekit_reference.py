#!/usr/bin/env python3
"""A small numpy re-implementation of mergekit's per-tensor merge math.

Written from the research note shared/research/mergekit-methods.md (section 4,
mergekit at a6e4028), in float64, one tensor at a time, as the reference for
Sources/Merging. Not mergekit's code: where mergekit draws random masks from torch's
global generator, these functions take the uniform numbers as an input instead,
produced by `drop_uniforms` (SplitMix64 keyed by seed, tensor name and model; the
same stream as Merging's DropRandomness), and keep element i when u[i] < p[i].

Conventions shared with the Swift code (where mergekit leaves them open):
* ties in a ranking are broken by position (stable sorts);
* breadcrumbs keeps sorted positions [n_bot, n - n_top) unless
  `empty_when_no_outliers` (mergekit's slice [n_bot:-n_top] is empty when n_top == 0);
* DELLA on a fibre of one value uses p = density (mergekit divides 0 by 0);
* rescale is "none", "l1" (current mergekit) or "inverse_keep_probability" (the
  papers': 1/density, or 1/p per element for DELLA).

Used by scripts/make_merge_fixtures.py; run this file to self-check a few properties.
"""
import math

import numpy as np

MASK64 = (1 << 64) - 1

# mergekit's method table: (sparsification, consensus, default normalize, default rescale)
GTA_METHODS = {
    "task_arithmetic": (None, None, False, False),
    "ties": ("magnitude", "sum", True, False),
    "dare_ties": ("random", "sum", False, True),
    "dare_linear": ("random", None, False, True),
    "breadcrumbs": ("magnitude_outliers", None, False, False),
    "breadcrumbs_ties": ("magnitude_outliers", "sum", False, False),
    "della": ("della_magprune", "sum", True, True),
    "della_linear": ("della_magprune", None, False, True),
}


# ---------------------------------------------------------------------------
# The reproducible uniform stream (replaces torch's Bernoulli draws)

def mix64(z):
    z &= MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001B3) & MASK64
    return h


def stream_key(seed, tensor, model):
    return mix64(mix64(seed ^ fnv1a64(tensor)) ^ model)


def drop_uniforms(count, seed, tensor, model):
    """u_i = (mix(key + (i+1)*golden) >> 11) * 2**-53 for i < count."""
    state = stream_key(seed, tensor, model)
    out = np.empty(count, dtype=np.float64)
    for i in range(count):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        out[i] = (mix64(state) >> 11) * 2.0 ** -53
    return out


# ---------------------------------------------------------------------------
# Sparsifiers: each returns (keep mask, keep probability per element)

def magnitude_keep(delta, density):
    n = delta.size
    k = int(density * n)
    assert k > 0, "int(density * n) must be >= 1"
    order = np.argsort(-np.abs(delta), kind="stable")
    keep = np.zeros(n, dtype=bool)
    keep[order[:k]] = True
    return keep, np.full(n, density)


def outlier_keep(delta, density, gamma, empty_when_no_outliers=False):
    n = delta.size
    target = int(density * n)
    n_top = int(gamma * n)
    n_bot = n - target - n_top
    if n_bot < 0:
        n_top += n_bot
        n_bot = 0
    keep = np.zeros(n, dtype=bool)
    if not (empty_when_no_outliers and n_top == 0):
        order = np.argsort(np.abs(delta), kind="stable")
        keep[order[n_bot:n - n_top]] = True
    return keep, np.full(n, density)


def random_keep(uniforms, density):
    return uniforms < density, np.full(uniforms.size, density)


def della_probabilities(delta, shape, density, epsilon):
    if len(shape) < 2:
        cube = delta.reshape(1, -1, 1)
    else:
        cube = delta.reshape(shape[0], shape[1], -1)
    m = cube.shape[1]
    if m <= 1:
        return np.full(delta.size, density)
    order = np.argsort(np.abs(cube), axis=1, kind="stable")
    ranks = np.empty_like(cube)
    np.put_along_axis(ranks, order, np.arange(1, m + 1, dtype=np.float64).reshape(1, m, 1) * np.ones_like(cube), axis=1)
    low, high = ranks.min(axis=1, keepdims=True), ranks.max(axis=1, keepdims=True)
    r = np.clip((ranks - low) / (high - low), 0, 1)
    return ((density - epsilon) + r * 2 * epsilon).reshape(-1)


def rescaled(delta, keep, prob, rule):
    masked = np.where(keep, delta, 0.0)
    if rule == "none":
        return masked
    if rule == "l1":
        before, after = np.abs(delta).sum(), np.abs(masked).sum()
        if before < 1e-7 or after < 1e-7:
            return masked
        return masked * (before / after)
    if rule == "inverse_keep_probability":
        out = masked.copy()
        out[keep] = masked[keep] / prob[keep]
        return out
    raise ValueError(rule)


# ---------------------------------------------------------------------------
# Methods

def gta(method, base, models, shape, weight, density=1.0, gamma=0.01, epsilon=0.15, normalize=None, rescale=None,
        lam=1.0, uniforms=None, consensus=None, empty_when_no_outliers=False):
    """Generalized task arithmetic. Per-model parameters are lists (or one value);
    uniforms[m] are model m's uniforms (random and della only).
    Returns (merged, keep masks or None per model)."""
    sparsification, default_consensus, default_normalize, default_rescale = GTA_METHODS[method]
    consensus = consensus if consensus is not None else default_consensus
    normalize = default_normalize if normalize is None else normalize
    rescale = rescale if rescale is not None else ("l1" if default_rescale else "none")
    n_models = len(models)
    per = lambda v: list(v) if isinstance(v, (list, tuple)) else [v] * n_models  # noqa: E731
    weight, density, gamma, epsilon = per(weight), per(density), per(gamma), per(epsilon)
    if n_models == 0:
        return base.copy(), []
    deltas, masks = [], []
    for m, model in enumerate(models):
        delta = model - base
        keep = None
        d = density[m]
        if sparsification is not None and d < 1:
            if sparsification == "magnitude":
                keep, prob = magnitude_keep(delta, d)
            elif sparsification == "magnitude_outliers":
                keep, prob = outlier_keep(delta, d, gamma[m], empty_when_no_outliers)
            elif sparsification == "random":
                keep, prob = random_keep(uniforms[m], d)
            elif sparsification == "della_magprune":
                if d <= 0:
                    keep, prob = np.zeros(delta.size, dtype=bool), np.zeros(delta.size)
                else:
                    assert d - epsilon[m] > 0 and d + epsilon[m] < 1
                    prob = della_probabilities(delta, shape, d, epsilon[m])
                    keep = uniforms[m] < prob
            rule = "none" if (sparsification == "della_magprune" and d <= 0) else rescale
            delta = rescaled(delta, keep, prob, rule)
        deltas.append(delta)
        masks.append(keep)

    weighted = [weight[m] * deltas[m] for m in range(n_models)]
    if consensus is not None:
        if consensus == "sum":
            vote = np.zeros_like(base)
            for d in weighted:
                vote = vote + d
        else:
            vote = np.zeros_like(base)
            for d in weighted:
                vote = vote + np.sign(d)
        majority = np.where(vote >= 0, 1.0, -1.0)
        merged = np.zeros_like(base)
        divisor = np.zeros_like(base)
        for m, d in enumerate(weighted):
            agree = np.sign(d) == majority
            merged = merged + np.where(agree, d, 0.0)
            divisor = divisor + np.where(agree, weight[m], 0.0)
        divisor[divisor == 0] = 1
    else:
        merged = np.zeros_like(base)
        for d in weighted:
            merged = merged + d
        divisor = sum(weight)
        if abs(divisor) < 1e-8:
            divisor = 1
    if normalize:
        merged = merged / divisor
    if lam != 1:
        merged = merged * lam
    return base + merged, masks


def slerp(t, base, other):
    a, b = base, other
    na, nb = np.sqrt(np.sum(a * a)), np.sqrt(np.sum(b * b))
    ua = a / na if na > 1e-8 else a
    ub = b / nb if nb > 1e-8 else b
    dot = np.sum(ua * ub)
    if abs(dot) > 0.9995:
        return (1 - t) * a + t * b
    omega = math.acos(dot)
    s = math.sin(omega)
    omega_t = omega * t
    return (math.sin(omega - omega_t) / s) * a + (math.sin(omega_t) / s) * b


def _nuslerp_vectors(t, v0, v1):
    """Rows of v0, v1 (2-D arrays, one vector per row)."""
    n0 = np.maximum(np.sqrt(np.sum(v0 * v0, axis=-1, keepdims=True)), 1e-7)
    n1 = np.maximum(np.sqrt(np.sum(v1 * v1, axis=-1, keepdims=True)), 1e-7)
    cos = np.clip(np.sum((v0 / n0) * (v1 / n1), axis=-1, keepdims=True), -1, 1)
    theta = np.arccos(cos)
    s = np.sin(theta)
    colinear = np.abs(s) < 1e-8
    safe = np.where(colinear, 1.0, s)
    res = (np.sin((1 - t) * theta) * v0 + np.sin(t * theta) * v1) / safe
    return np.where(colinear, (1 - t) * v0 + t * v1, res)


def nuslerp(weights, first, second, shape, base=None, flatten=True, row_wise=False):
    w1, w2 = weights
    t = 0.5 if abs(w1 + w2) < 1e-6 else w2 / (w1 + w2)
    v0, v1 = (first, second) if base is None else (first - base, second - base)
    if flatten or len(shape) < 2:
        res = _nuslerp_vectors(t, v0.reshape(1, -1), v1.reshape(1, -1)).reshape(-1)
    else:
        a, b = v0.reshape(shape), v1.reshape(shape)
        if row_wise:
            a, b = np.swapaxes(a, 0, -1), np.swapaxes(b, 0, -1)
        res = _nuslerp_vectors(t, a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])).reshape(a.shape)
        if row_wise:
            res = np.swapaxes(res, 0, -1)
        res = res.reshape(-1)
    return res if base is None else base + res


def model_stock(base, models, shape, filter_wise=False):
    n_models = len(models)
    if filter_wise and len(shape) >= 2:
        rows = lambda x: x.reshape(-1, shape[-1])  # noqa: E731
    else:
        rows = lambda x: x.reshape(1, -1)  # noqa: E731
    b = rows(base)
    offsets = [rows(m) - b for m in models]
    cosines = []
    for i in range(n_models):
        for j in range(i + 1, n_models):
            norm = np.sqrt(np.sum(offsets[i] ** 2, axis=-1)) * np.sqrt(np.sum(offsets[j] ** 2, axis=-1))
            cosines.append(np.clip(np.sum(offsets[i] * offsets[j], axis=-1) / np.maximum(norm, 1e-6), -1, 1))
    c = (sum(cosines) / len(cosines))[:, None]
    t = n_models * c / (1 + (n_models - 1) * c)
    average = sum(rows(m) for m in models) / n_models
    return (t * average + (1 - t) * b).reshape(-1)


def karcher(models, max_iter=10, tol=1e-5):
    if len(models) == 1:
        return models[0].copy()
    alpha = 1.0 / len(models)
    norms = [float(np.sqrt(np.sum(x * x))) for x in models]
    units = [x / nm if nm != 0 else np.zeros_like(x) for x, nm in zip(models, norms)]
    valid = [i for i, nm in enumerate(norms) if nm > tol]
    if not valid:
        return np.zeros_like(models[0])
    weights = [alpha / (alpha * len(valid))] * len(valid)
    mean = np.zeros_like(models[0])
    for w, i in zip(weights, valid):
        mean = mean + w * units[i]
    mean_norm = np.sqrt(np.sum(mean * mean))
    mean = units[valid[0]].copy() if mean_norm < tol else mean / mean_norm
    for _ in range(max_iter):
        tangent = np.zeros_like(mean)
        for w, i in zip(weights, valid):
            c = min(max(float(np.dot(mean, units[i])), -1.0), 1.0)
            phi = math.acos(c)
            if phi < tol:
                continue
            tangent = tangent + w * (phi / math.sin(phi)) * (units[i] - c * mean)
        step = float(np.sqrt(np.sum(tangent * tangent)))
        if step < tol:
            break
        mean = math.cos(step) * mean + math.sin(step) * (tangent / step)
        length = float(np.sqrt(np.sum(mean * mean)))
        if length > tol:
            mean = mean / length
    scale = sum(alpha * nm for nm in norms)
    return scale * mean


def sce(base, models, select_topk=1.0):
    if not models:
        return base.copy()
    n_models = len(models)
    tau = [m - base for m in models]
    if select_topk < 1:
        selected = np.zeros(base.size, dtype=bool)
        if select_topk > 0:
            mean = sum(tau) / n_models
            var = sum((t - mean) ** 2 for t in tau) / n_models
            k = int(select_topk * np.count_nonzero(var))
            order = np.argsort(-var, kind="stable")
            selected[order[:k]] = True
        tau = [np.where(selected, t, 0.0) for t in tau]
    energies = [np.mean(t * t) for t in tau]
    total = sum(energies)
    energies = [1.0 / n_models] * n_models if abs(total) < 1e-6 else [e / total for e in energies]
    vote = sum(tau)
    majority = np.where(vote >= 0, 1.0, -1.0)
    merged = np.zeros_like(base)
    divisor = np.zeros_like(base)
    for e, t in zip(energies, tau):
        agree = np.sign(t) == majority
        merged = merged + np.where(agree, e * t, 0.0)
        divisor = divisor + np.where(agree, e, 0.0)
    return base + merged / np.maximum(divisor, 1e-6)


def nearswap(t, base, other):
    w = np.clip(t / np.maximum(np.abs(base - other), 1e-6), 0, 1)
    return w * other + (1 - w) * base


def passthrough(tensor, scale=None):
    return tensor.copy() if scale is None else scale * tensor


# ---------------------------------------------------------------------------

def _self_check():
    rng = np.random.default_rng(0)
    base = rng.standard_normal(50)
    models = [base + 0.1 * rng.standard_normal(50) for _ in range(3)]
    # density 1 without consensus is task arithmetic
    ta, _ = gta("task_arithmetic", base, models, [50], [1, 0.5, 2])
    dl, _ = gta("dare_linear", base, models, [50], [1, 0.5, 2], density=1.0,
                uniforms=[drop_uniforms(50, 1, "x", m) for m in range(3)])
    assert np.allclose(ta, dl)
    # slerp endpoints
    assert np.allclose(slerp(0, base, models[0]), base) and np.allclose(slerp(1, base, models[0]), models[0])
    # karcher of identical tensors
    assert np.allclose(karcher([base, base, base]), base)
    u = drop_uniforms(4, 42, "w", 0)
    assert ((0 <= u) & (u < 1)).all()
    print("mergekit_reference self-check passed")


if __name__ == "__main__":
    _self_check()
