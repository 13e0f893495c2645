#!/usr/bin/env python3
"""Fits the coefficients of the vectorised erf in Sources/GEMMKernels/TokenKernels.swift
and prints them as Swift literals, with the Float-arithmetic error of the result.

Two ranges, each a least-squares fit on Chebyshev nodes (close to minimax):
  |x| <= 0.875 : erf(x)  = x * P(x^2),           P of degree 5
  |x| >  0.875 : erfc(x) = exp(-x^2) * Q(t),     t = 1 / (1 + x/2), Q of degree 8 (fitted on [0.875, 10])
Run: python3 scripts/fit_erf.py (numpy, scipy)."""
import numpy as np
import scipy.special as sp

SPLIT, UPPER = 0.875, 10.0


def nodes(a, b, n):
    k = np.arange(n)
    return (a + b) / 2 + (b - a) / 2 * np.cos(np.pi * (k + 0.5) / n)


def horner32(coefficients, x):
    p = np.float32(coefficients[-1])
    for c in coefficients[-2::-1]:
        p = (p * x + np.float32(c)).astype(np.float32)
    return p


def main():
    s = nodes(0, SPLIT * SPLIT, 400)
    small = np.polynomial.polynomial.polyfit(s, sp.erf(np.sqrt(s)) / np.sqrt(s), 5)
    x = nodes(SPLIT, UPPER, 800)
    large = np.polynomial.polynomial.polyfit(1 / (1 + 0.5 * x), sp.erfcx(x), 8)

    xs = np.linspace(1e-6, SPLIT, 200001).astype(np.float32)
    erf = xs * horner32(small, (xs * xs).astype(np.float32))
    print(f"// erf on [0, {SPLIT}]: max relative error {np.max(np.abs(erf - sp.erf(xs.astype(np.float64))) / sp.erf(xs.astype(np.float64))):.2e}")
    xl = np.linspace(SPLIT, 9.0, 400001).astype(np.float32)
    t = (np.float32(1) / (np.float32(1) + np.float32(0.5) * xl)).astype(np.float32)
    erfc = np.exp(-(xl * xl).astype(np.float32).astype(np.float64)).astype(np.float32) * horner32(large, t)
    exact = sp.erfc(xl.astype(np.float64)) * np.exp(xl.astype(np.float64) ** 2 - (xl * xl).astype(np.float32).astype(np.float64))
    print(f"// erfc on [{SPLIT}, 9]: max relative error {np.max(np.abs(erfc - exact) / exact):.2e} (x² rounded to Float)")
    print("static let erfSmall: [Float] = [" + ", ".join(f"{c:.9e}" for c in small) + "]")
    print("static let erfcLarge: [Float] = [" + ", ".join(f"{c:.9e}" for c in large) + "]")


if __name__ == "__main__":
    main()
