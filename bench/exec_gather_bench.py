#!/usr/bin/env python3
"""Issue 10: a gather of N {"exec": ["true"]} steps (default 9,999) through the exec supervisor.

Prints, each next to its target:
  * the time from submit to the task's end                       (target < 30 s)
  * GET /healthz latency, max and p99, probed every 20 ms          (target < 100 ms)
  * GET /api/stats latency (answered by the loop thread), max/p99  (the loop stays responsive)
  * answers other than 200 to either probe                         (target 0)
  * the most zombie processes seen at once below the daemon        (target: a few at most)
and a ratio against the machine's floor, measured in the same run: `xargs -P 8` starting the
same N `true` processes directly (no daemon, no pipes, no supervision).

Usage: bench/exec_gather_bench.py [uasyncd binary] [N]
"""
import http.client
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build", "release", "server",
                                                         "uasyncd")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 9999


def start_daemon(log_path):
    log = open(log_path, "w")
    proc = subprocess.Popen([BIN, "--listen", "127.0.0.1:0", "--ephemeral", "--allow-exec",
                             "--log-level", "warn"], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(400):
        with open(log_path) as f:
            m = re.search(r"^listening on [^\n]*:(\d+)$", f.read(), re.M)
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.025)
    sys.exit("the daemon did not start: " + open(log_path).read())


def descendants(root):
    """pid -> (ppid, state) for every process below root."""
    procs = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2:].split()
        procs[int(name)] = (int(rest[1]), rest[0])
    below, frontier = {}, {root}
    while frontier:
        frontier = {p for p, (pp, _) in procs.items() if pp in frontier and p not in below}
        below.update({p: procs[p] for p in frontier})
    return below


def probe(port, path, stop, out):
    """GETs `path` every 20 ms on one keep-alive connection until `stop` is set; sends the
    latencies and the count of answers other than 200. A process of its own, so that neither
    the GIL nor the /proc scans of the main process delay it."""
    latencies, bad = [], 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            ok = r.status == 200
        except (OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            ok = False
        latencies.append(time.perf_counter() - t0)
        if os.environ.get("SLOW_PROBES") and latencies[-1] > 0.1:
            print(f"    slow {path}: {latencies[-1] * 1e3:.0f} ms at {time.time():.2f}")
        bad += 0 if ok else 1
        time.sleep(0.02)
    out.send((latencies, bad))


def count_zombies(root, stop, out):
    """Samples the processes below `root` every 100 ms; sends the most zombies and the most
    processes seen at once."""
    zombies_max = procs_max = 0
    while not stop.is_set():
        below = descendants(root)
        zombies_max = max(zombies_max, sum(1 for _, s in below.values() if s == "Z"))
        procs_max = max(procs_max, len(below))
        time.sleep(0.1)
    out.send((zombies_max, procs_max))


class Background:
    def __init__(self, target, *args):
        self.stop = multiprocessing.Event()
        self.recv, send = multiprocessing.Pipe(duplex=False)
        self.proc = multiprocessing.Process(target=target, args=(*args, self.stop, send))
        self.proc.start()

    def result(self):
        self.stop.set()
        value = self.recv.recv()
        self.proc.join()
        return value


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def main():
    work = tempfile.mkdtemp()
    daemon, port = start_daemon(os.path.join(work, "daemon.log"))
    try:
        spec = json.dumps({"gather": [{"exec": ["true"]}] * N})
        health = Background(probe, port, "/healthz")
        stats = Background(probe, port, "/api/stats")
        zombies = Background(count_zombies, daemon.pid)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        t0 = time.perf_counter()
        if os.environ.get("SLOW_PROBES"):
            print(f"    submit at {time.time():.2f}")
        conn.request("POST", "/api/tasks", spec, {"Content-Type": "application/json"})
        r = conn.getresponse()
        created = json.loads(r.read())
        if r.status != 201:
            sys.exit(f"submit: {r.status} {created}")
        task_id = created["id"]
        # One long poll at a time (a waiter is the daemon's cost, not the gather's).
        body = {}
        while time.perf_counter() - t0 < 600:
            conn.request("GET", f"/api/tasks/{task_id}/wait?timeout=30")
            r = conn.getresponse()
            body = json.loads(r.read())
            if r.status == 200 and body.get("state") not in ("pending", "running"):
                break
        elapsed = time.perf_counter() - t0
        if os.environ.get("SLOW_PROBES"):
            print(f"    end seen at {time.time():.2f}")
        health_latencies, health_bad = health.result()
        stats_latencies, stats_bad = stats.result()
        zombies_max, procs_max = zombies.result()
        state = body.get("state")
        steps = body.get("result") or []
        ok_steps = sum(1 for s in steps if isinstance(s, dict) and s.get("exit_code") == 0)
    finally:
        daemon.terminate()
        daemon.wait()

    t0 = time.perf_counter()
    subprocess.run(f"seq {N} | xargs -P 8 -I{{}} true", shell=True, check=True)
    floor = time.perf_counter() - t0

    bad = health_bad + stats_bad
    print(f"uasyncd exec gather | {os.cpu_count()} cores | load {os.getloadavg()[0]:.1f} | N={N}")
    print(f"  task state: {state}, steps exited 0: {ok_steps}/{N}")
    print(f"  submit -> end:                 {elapsed:8.2f} s   target < 30 s    "
          f"{'ok' if elapsed < 30 and ok_steps == N else 'MISSED'}")
    print(f"  /healthz max / p99:            {max(health_latencies) * 1e3:8.1f} / "
          f"{pct(health_latencies, 0.99) * 1e3:.1f} ms   target < 100 ms   "
          f"{'ok' if max(health_latencies) < 0.1 else 'MISSED'}  ({len(health_latencies)} probes)")
    print(f"  /api/stats (loop) max / p99:   {max(stats_latencies) * 1e3:8.1f} / "
          f"{pct(stats_latencies, 0.99) * 1e3:.1f} ms   "
          f"(median {statistics.median(stats_latencies) * 1e3:.1f} ms, {len(stats_latencies)} probes)")
    print(f"  probe answers other than 200:  {bad}   target 0   {'ok' if bad == 0 else 'MISSED'}")
    print(f"  zombies below the daemon, most at once: {zombies_max}   "
          f"(processes below it, most at once: {procs_max})")
    print(f"  peer: xargs -P 8 starting {N} true directly: {floor:.2f} s -> ratio "
          f"{elapsed / floor:.2f}x")


if __name__ == "__main__":
    main()
