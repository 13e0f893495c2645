"""Shared timing harness for the reference benchmarks (same protocol as
rankwise-bench: one warm-up run, then N repetitions, median and minimum)."""
import json
import os
import sys
import time


def parse_args(argv):
    args = {"quick": "--quick" in argv, "repetitions": None, "output": "bench-results", "threads": None}
    for name in ("--repetitions", "--output", "--threads"):
        if name in argv:
            args[name[2:]] = argv[argv.index(name) + 1]
    args["repetitions"] = int(args["repetitions"] or (3 if args["quick"] else 5))
    return args


def limit_threads(threads):
    """Must run before numpy is imported: OpenBLAS reads these at load time."""
    if threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)


class Harness:
    def __init__(self, repetitions, slow_run_seconds=30.0):
        self.repetitions = repetitions
        self.slow = slow_run_seconds
        self.records = []

    def measure(self, suite, operation, dtype, size, implementation, fn, flops=None):
        start = time.perf_counter()
        fn()
        warmup = time.perf_counter() - start
        times = [warmup]
        if warmup <= self.slow:
            times = []
            for _ in range(self.repetitions):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
        times.sort()
        record = dict(suite=suite, operation=operation, dtype=dtype, size=str(size), implementation=implementation,
                      median=times[len(times) // 2], min=times[0], repetitions=len(times), flops=flops)
        self.records.append(record)
        line = f"{suite}/{operation} {dtype} {size} [{implementation}]: median {record['median']:.4f} s"
        if flops:
            line += f"  {flops / record['median'] / 1e9:.1f} GFLOP/s"
        print(line, file=sys.stderr, flush=True)

    def write(self, output, name, meta):
        os.makedirs(output, exist_ok=True)
        with open(os.path.join(output, name), "w") as f:
            meta = dict(meta, glibc_tunables=os.environ.get("GLIBC_TUNABLES", "unset"))
            json.dump({"meta": meta, "records": self.records}, f, indent=2, sort_keys=True)
