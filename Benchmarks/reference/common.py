"""Shared timing harness for the reference benchmarks (the protocol of
rankwise-bench; see Harness)."""
import json
import os
import subprocess
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


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# Runs argv[1:] as a grandchild and prints its peak RSS in KiB. Linux carries
# ru_maxrss across exec, so a command started straight from this (large)
# Python process would report at least this process's peak; the launcher is a
# fresh small interpreter whose fork starts from its own few MB.
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, flush=True)
sys.exit(os.waitstatus_to_exitcode(status) if status else 0)
"""


def run_child(command, who):
    """Runs `command` (its stdout discarded) and returns its peak RSS in MB;
    exits naming `who` if it fails."""
    result = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit(f"{who}: {' '.join(command)} failed with status {result.returncode}")
    return int(result.stdout.split()[-1]) / 1024


class Harness:
    """rankwise-bench's protocol (Benchmarks/rankwise-bench/Harness.swift): no
    pause before a row; each implementation warmed up for at least
    `warm_up_seconds`; timed runs alternating A B B A …; min/median/max and the
    load average recorded, the row flagged busy when the load exceeds the
    threads used plus one."""

    def __init__(self, repetitions, slow_run_seconds=30.0, warm_up_seconds=0.3, threads=None):
        self.repetitions = repetitions
        self.slow = slow_run_seconds
        self.warm_up = warm_up_seconds
        self.threads = int(threads) if threads else (os.cpu_count() or 1)
        self.records = []

    @staticmethod
    def _time(fn):
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    def measure(self, suite, operation, dtype, size, implementation, fn, flops=None):
        self.compare(suite, operation, dtype, size, {implementation: fn}, flops)

    def compare(self, suite, operation, dtype, size, implementations, flops=None):
        """`implementations`: name -> callable, timed interleaved."""
        load = load_average()
        names = list(implementations)
        times = {name: [] for name in names}
        slow = set()
        for name in names:
            start = time.perf_counter()
            while True:
                last = self._time(implementations[name])
                if last > self.slow or time.perf_counter() - start >= self.warm_up:
                    break
            if last > self.slow:
                times[name] = [last]
                slow.add(name)
        for round in range(self.repetitions):
            for name in (names if round % 2 == 0 else reversed(names)):
                if name not in slow:
                    times[name].append(self._time(implementations[name]))
        for name in names:
            t = sorted(times[name])
            record = dict(suite=suite, operation=operation, dtype=dtype, size=str(size), implementation=name,
                          median=t[len(t) // 2], min=t[0], max=t[-1], repetitions=len(t), flops=flops,
                          load=load, busy=load is not None and load > self.threads + 1)
            self.records.append(record)
            line = (f"{suite}/{operation} {dtype} {size} [{name}]: min {record['min']:.4f} s, "
                    f"median {record['median']:.4f}, max {record['max']:.4f}")
            if flops:
                line += f"  {flops / record['median'] / 1e9:.1f} GFLOP/s"
            if record["busy"]:
                line += f"  (busy machine: load {load})"
            print(line, file=sys.stderr, flush=True)

    def write(self, output, name, meta):
        os.makedirs(output, exist_ok=True)
        with open(os.path.join(output, name), "w") as f:
            meta = dict(meta, glibc_tunables=os.environ.get("GLIBC_TUNABLES", "unset"))
            json.dump({"meta": meta, "records": self.records}, f, indent=2, sort_keys=True)
