"""scikit-learn timings for the kernel rows of rankwise-bench: exact
KernelRidge (rbf) on 20,000 samples, and Nystroem (m = 2,000) + ridge on
1,000,000 samples x 20 features (--quick: 4,000 and 100,000 / m = 500), each
with its test RMSE.

scikit-learn's Nystroem.fit_transform would hold Phi (n x m float64, 16 GB)
and K_nm at once, more than this 24 GB machine has; so the Nystroem row
transforms in blocks and accumulates Phi^T Phi, the same streaming as ours.
"""
import os
import signal
import subprocess
import sys

from common import Harness, limit_threads, parse_args

# The rows run in a child. scipy's bundled OpenBLAS (0.3.30 with scikit-learn 1.9) crashed with SIGSEGV in
# scipy.linalg.solve(assume_a="pos") at n = 20,000 on the SkylakeX core it picks for an AVX-512 EPYC
# (2026-11-30); then the rows are run again with OPENBLAS_CORETYPE=Haswell, and the results say so.
if "--child" not in sys.argv:
    status = subprocess.call([sys.executable, __file__, *sys.argv[1:], "--child"])
    if status == -signal.SIGSEGV and "OPENBLAS_CORETYPE" not in os.environ:
        print("kernel.py: the peer crashed (SIGSEGV) on its OpenBLAS's own choice of core; "
              "running the rows again with OPENBLAS_CORETYPE=Haswell", file=sys.stderr, flush=True)
        status = subprocess.call([sys.executable, __file__, *sys.argv[1:], "--child"],
                                 env=dict(os.environ, OPENBLAS_CORETYPE="Haswell", RANKWISE_PEER_CRASHED="SIGSEGV"))
    sys.exit(0 if status == 0 else 1)

args = parse_args(sys.argv[1:])
limit_threads(args["threads"])

import numpy as np  # noqa: E402
from sklearn.kernel_approximation import Nystroem  # noqa: E402
from sklearn.kernel_ridge import KernelRidge  # noqa: E402

quick = args["quick"]
d = 20
exact_n, nys_n, m = (4000, 100_000, 500) if quick else (20_000, 1_000_000, 2000)


def data(rows, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, d))
    y = np.sin(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2] + 0.1 * rng.standard_normal(rows)
    return x, y


x_test, y_test = data(2000, 99)
h = Harness(args["repetitions"], slow_run_seconds=20, threads=args["threads"])

x, y = data(exact_n, 1)
out = {}


def exact():
    model = KernelRidge(kernel="rbf", gamma=0.05, alpha=0.1).fit(x, y)
    out["rmse"] = float(np.sqrt(np.mean((model.predict(x_test) - y_test) ** 2)))


h.measure("kernel", "krr rbf fit+predict", "float64", f"n={exact_n} d={d}", "scikit-learn", exact)
h.records[-1].update(metric=out["rmse"], metricName="test RMSE")

xb, yb = data(nys_n, 2)


def nystroem():
    feature_map = Nystroem(kernel="rbf", gamma=0.05, n_components=m, random_state=0).fit(xb)
    gram = np.zeros((m, m))
    rhs = np.zeros(m)
    for start in range(0, nys_n, 8192):
        phi = feature_map.transform(xb[start:start + 8192])
        gram += phi.T @ phi
        rhs += phi.T @ yb[start:start + 8192]
    coef = np.linalg.solve(gram + 0.1 * np.eye(m), rhs)
    out["rmse"] = float(np.sqrt(np.mean((feature_map.transform(x_test) @ coef - y_test) ** 2)))


h.measure("kernel", f"nystroem m={m} fit+predict", "float64", f"n={nys_n} d={d}", "scikit-learn", nystroem)
h.records[-1].update(metric=out["rmse"], metricName="test RMSE")
import sklearn  # noqa: E402

meta = {"scikit-learn": sklearn.__version__, "numpy": np.__version__,
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "unset")}
if os.environ.get("RANKWISE_PEER_CRASHED"):
    meta["note"] = "measured with OPENBLAS_CORETYPE=Haswell: on its own core choice the peer crashed (SIGSEGV)"
h.write(args["output"], "reference-kernel.json", meta)
