"""The Dask side of bench:e2e: what Dask distributed takes for the same trivial work.

Starts a LocalCluster of 2 worker processes with 1 thread each (closed in `finally`, its
scratch directory removed),
warms it up, then measures:

  - the round trip of `client.submit(noop, i, pure=False).result()`, one at a time
    (--samples, default 300, after --warmup, default 50): p50/p90/p99/max in ms;
  - the wall time of `client.gather(client.map(noop, range(N), pure=False))`
    (--tasks, default 10000), after a warm-up map of 1,000 tasks: tasks/s.

Prints one JSON line on stdout (everything else goes to stderr). When `distributed`
cannot be imported it prints `{"skipped": "<why>"}` and exits 0, so the caller can say so
and carry on.

Run: /usr/bin/python3 packages/node/bench/dask_e2e.py [--samples N] [--tasks N]
"""

import argparse
import json
import logging
import math
import shutil
import sys
import tempfile
import time


def noop(x):
    return x


def quantile(sorted_values, q):
    """Nearest rank, as support.ts's quantile()."""
    if not sorted_values:
        return float("nan")
    rank = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[rank]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--scratch", help="the workers' scratch directory (default: a new one)")
    args = parser.parse_args()

    try:
        import dask
        import distributed
        from distributed import Client, LocalCluster
    except Exception as err:  # ImportError, or a broken install
        print(json.dumps({"skipped": f"cannot import distributed: {err!r}"}), flush=True)
        return 0

    # Worker and scheduler chatter (and the "dashboard needs bokeh" notice) would drown stderr.
    logging.getLogger("distributed").setLevel(logging.ERROR)
    result = {
        "dask": dask.__version__,
        "distributed": distributed.__version__,
        "python": sys.version.split()[0],
        "workers": 2,
        "threadsPerWorker": 1,
    }
    began = time.perf_counter()
    # The workers' scratch space (Dask's default is a shared /tmp/dask-worker-space): our own,
    # removed at the end.
    scratch = args.scratch or tempfile.mkdtemp(prefix="chorus-bench-dask-")
    cluster = None
    client = None
    try:
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
            local_directory=scratch,
        )
        client = Client(cluster)
        client.wait_for_workers(2, timeout=60)
        result["startupS"] = time.perf_counter() - began

        for i in range(args.warmup):
            client.submit(noop, i, pure=False).result()
        samples = []
        for i in range(args.samples):
            t0 = time.perf_counter()
            client.submit(noop, i, pure=False).result()
            samples.append((time.perf_counter() - t0) * 1000)
        samples.sort()
        result["submit"] = {
            "n": len(samples),
            "p50Ms": quantile(samples, 0.5),
            "p90Ms": quantile(samples, 0.9),
            "p99Ms": quantile(samples, 0.99),
            "maxMs": samples[-1],
        }

        client.gather(client.map(noop, range(1_000), pure=False))
        t0 = time.perf_counter()
        out = client.gather(client.map(noop, range(args.tasks), pure=False))
        wall = time.perf_counter() - t0
        if len(out) != args.tasks or out[-1] != args.tasks - 1:
            raise RuntimeError(f"map returned {len(out)} results")
        result["map"] = {"tasks": args.tasks, "wallS": wall, "perSecond": args.tasks / wall}
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    # Worker processes are started with `spawn` and import this file: main() only runs here.
    sys.exit(main())
