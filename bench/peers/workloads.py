"""The workloads of the peer benchmark (issue 15), their sizes (full and --quick), the client
arguments of each, and the figures each cell reports. A figure is (key, label, unit, better),
better being "higher" or "lower"."""

FULL = {
    "throughput": {"n": 20000, "conc": 16},
    "latency": {"n": 2000},
    "latency_one_trip": {"n": 2000},
    "timed": {"n": 10000, "conc": 16},
    "cancel": {"n": 1000, "conc": 16},
    "batch": {"n": 100000, "batch": 1000, "conc": 4},
    "memory": {"n": 100000, "warmup": 1000, "conc": 16},
}

# --quick: the same workloads with a tenth of the jobs or less, enough to check the harness.
QUICK_COUNTS = {"throughput": 2000, "latency": 200, "latency_one_trip": 200, "timed": 1000,
                "cancel": 100, "batch": 5000, "memory": 5000}
QUICK = {w: {**p, "n": QUICK_COUNTS[w]} for w, p in FULL.items()}
QUICK["memory"]["warmup"] = 200

TITLES = {
    "throughput": "throughput: {n:,} trivial jobs, {conc} submitters, first submit -> last completion",
    "latency": "submit and wait, one client, {n:,} times (uasyncd: POST, then GET .../wait)",
    "latency_one_trip": "submit and wait in one round trip (uasyncd: POST /api/tasks?wait=S), {n:,} times",
    "timed": "timed jobs: {n:,} jobs each sleeping 1 s, {conc} submitters",
    "cancel": "cancel {n:,} running jobs ({conc} cancellers): first cancel request -> all observed cancelled",
    "batch": "batch submit: {n:,} trivial jobs in batches of {batch:,}, {conc} submitters (BullMQ: addBulk)",
    "memory": "memory per retained finished job: RSS delta over {n:,} jobs (uasyncd; redis-server)",
}

FIGURES = {
    "throughput": [("per_second", "jobs/s", "/s", "higher"), ("cpu_ms", "server CPU/job", "ms", "lower")],
    "latency": [("p50_ms", "p50", "ms", "lower"), ("p99_ms", "p99", "ms", "lower"),
                ("cpu_ms", "server CPU/job", "ms", "lower")],
    "latency_one_trip": [("p50_ms", "p50", "ms", "lower"), ("p99_ms", "p99", "ms", "lower")],
    "timed": [("seconds", "wall time", "s", "lower"), ("peak_rss_mib", "server peak RSS", "MiB", "lower"),
              ("cpu_ms", "server CPU/job", "ms", "lower")],
    "cancel": [("seconds", "time", "s", "lower"), ("cpu_ms", "server CPU/job, submit to cancelled", "ms", "lower")],
    "batch": [("per_second", "jobs/s acknowledged", "/s", "higher"), ("cpu_ms", "server CPU/job", "ms", "lower")],
    "memory": [("bytes_per_job", "RSS per retained job", "B", "lower")],
}


def client_args(workload, p):
    """The arguments after the workload name, the same for every system's client."""
    if workload in ("latency", "latency_one_trip"):
        return [p["n"]]
    if workload == "batch":
        return [p["n"], p["batch"], p["conc"]]
    return [p["n"], p["conc"]]
