"""Fixtures for the kernel-regression tests: scikit-learn's KernelRidge
predictions and dual coefficients on a small seeded data set, for every
kernel, with and without sample weights, single and multi-output.

Run from the repository root (needs numpy and scikit-learn):
    python3 scripts/make_kernel_fixtures.py
Writes Tests/KernelRegressionTests/Fixtures/sklearn_kernel_ridge.json.
"""
import json
import os

import numpy as np
import sklearn
from sklearn.kernel_ridge import KernelRidge

rng = np.random.default_rng(20261123)
n, m, d = 40, 12, 5
x_train = rng.standard_normal((n, d))
x_test = rng.standard_normal((m, d))
y_train = np.stack([np.sin(x_train[:, 0]) + 0.5 * x_train[:, 1] ** 2, x_train @ rng.standard_normal(d)], axis=1)
y_train += 0.05 * rng.standard_normal(y_train.shape)
weights = rng.uniform(0.2, 2.0, n)

kernels = [
    ("linear", {}),
    ("poly", {}),
    ("poly", {"degree": 2, "gamma": 0.3, "coef0": 0.5}),
    ("rbf", {}),
    ("rbf", {"gamma": 0.7}),
    ("laplacian", {}),
    ("laplacian", {"gamma": 0.05}),
    ("sigmoid", {}),
    ("sigmoid", {"gamma": 0.01, "coef0": 0.2}),
]

cases = []
for kernel, params in kernels:
    for alpha in (0.1, 2.0):
        for weighted in (False, True):
            for multi in (False, True):
                y = y_train if multi else y_train[:, :1]
                model = KernelRidge(kernel=kernel, alpha=alpha, **params)
                model.fit(x_train, y if multi else y.ravel(), sample_weight=weights if weighted else None)
                prediction = model.predict(x_test).reshape(m, -1)
                dual = np.asarray(model.dual_coef_).reshape(n, -1)
                cases.append({
                    "kernel": kernel, "params": params, "alpha": alpha, "weighted": weighted, "multi": multi,
                    "prediction": prediction.tolist(), "dual": dual.tolist(),
                })

out = os.path.join("Tests", "KernelRegressionTests", "Fixtures", "sklearn_kernel_ridge.json")
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, "w") as f:
    json.dump({
        "generator": f"scripts/make_kernel_fixtures.py, scikit-learn {sklearn.__version__}, numpy {np.__version__}",
        "x_train": x_train.tolist(), "y_train": y_train.tolist(), "x_test": x_test.tolist(),
        "sample_weight": weights.tolist(), "cases": cases,
    }, f)
print(f"wrote {out}: {len(cases)} cases")
