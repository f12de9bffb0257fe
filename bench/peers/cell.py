"""One cell of the peer benchmark: one system, one workload, one round, on freshly started
servers. Returns the client's figures plus what /proc says about the server side."""
import json
import os
import shutil
import subprocess
import tempfile

import fsync_probe
import procfs
from servers import NotReady

CLIENT_TIME_LIMIT = 1800  # seconds; a client that takes longer is reported as an error
FSYNC_PROBES = 100


def _run_client(started, workload, args, log):
    argv, env, cwd = started.client(workload, args)
    try:
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True,
                              timeout=CLIENT_TIME_LIMIT)
    except subprocess.TimeoutExpired:
        return {"error": f"the client took over {CLIENT_TIME_LIMIT} s"}
    with open(log, "a") as f:
        f.write(f"$ {' '.join(argv)}\n{done.stdout}{done.stderr}\n")
    lines = [l for l in done.stdout.splitlines() if l.startswith("{")]
    if not lines:
        return {"error": f"the client exited {done.returncode} without figures: "
                         f"{(done.stderr or done.stdout).strip()[-300:]}"}
    result = json.loads(lines[-1])
    if done.returncode != 0 and "error" not in result:
        result["error"] = f"the client exited {done.returncode} ({result.get('errors', '?')} errors)"
    return result


def measure(system, workload, params, args, work_root, keep_logs):
    """{figure: value}, or {"unsupported": why} or {"error": what}; "load" (the 1-minute load
    average at the start) is always there, "fsync_ms" (the p50 of 4 KiB write + fdatasync in the
    cell's directory, just before it) is there for every cell that ran."""
    load = procfs.load_average()
    why = system.unsupported(workload)
    if why:
        return {"unsupported": why, "load": load}
    work = tempfile.mkdtemp(prefix=f"{workload}-", dir=work_root)
    log = os.path.join(work, "client.log")
    # The disk's fsync latency drifts with what else the machine writes: each cell has its own.
    fsync_ms = fsync_probe.measure(work, FSYNC_PROBES, ("overwrite",))["overwrite"]["p50_ms"]
    try:
        started = system.start(workload, params, work)
    except NotReady as e:
        return {"error": str(e).splitlines()[0], "load": load, "fsync_ms": fsync_ms, "work": work}
    try:
        if workload == "memory":
            result = _memory(started, params, log)
        else:
            before = procfs.cpu_ticks(started.server_pids)
            result = _run_client(started, workload, args, log)
            after = procfs.cpu_ticks(started.server_pids)
            result["peak_rss_mib"] = procfs.peak_rss_bytes(started.server_pids) / 2**20
            if "jobs" in result and result["jobs"]:
                result["cpu_ms"] = procfs.cpu_seconds_between(before, after) * 1000 / result["jobs"]
    finally:
        started.stop()
    result["load"] = load
    result["fsync_ms"] = fsync_ms
    if "error" in result or keep_logs:
        result["work"] = work
    else:
        shutil.rmtree(work, ignore_errors=True)
    return result


def _memory(started, params, log):
    """RSS of the process that keeps the finished jobs, before and after params["n"] more; a
    warm-up batch first, so that one-time costs are not charged to the jobs."""
    warm = _run_client(started, "fill", [params["warmup"], params["conc"]], log)
    if "error" in warm:
        return warm
    before = procfs.rss_bytes(started.memory_pid)
    result = _run_client(started, "fill", [params["n"], params["conc"]], log)
    if "error" in result:
        return result
    after = procfs.rss_bytes(started.memory_pid)
    return {"jobs": params["n"], "rss_before_mib": before / 2**20, "rss_after_mib": after / 2**20,
            "bytes_per_job": (after - before) / params["n"]}
