"""The peer benchmark of issue 15: the same workloads against uasyncd (durable and ephemeral),
BullMQ on Redis (defaults, and fsync at every write) and Celery on Redis, interleaved (every
system once per workload, then the next workload, then the next round), each cell on freshly
started servers. Run it through bench/peers/run.sh, which installs and builds what it needs."""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

import cell
import fsync_probe
import report
import servers
from workloads import FULL, QUICK, TITLES, client_args

SYSTEM_KEYS = ["durable", "ephemeral", "bullmq", "bullmq-fsync", "celery"]


def make_systems(keys, build):
    binary = os.path.join(build, "server", "uasyncd")
    client = os.path.join(build, "bench", "peer_uasyncd_client")
    made = {
        "durable": lambda: servers.Uasyncd(binary, client, durable=True),
        "ephemeral": lambda: servers.Uasyncd(binary, client, durable=False),
        "bullmq": lambda: servers.Bullmq(fsync_always=False),
        "bullmq-fsync": lambda: servers.Bullmq(fsync_always=True),
        "celery": lambda: servers.Celery(),
    }
    return [made[k]() for k in keys]


def output_of(argv, **kw):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, **kw).stdout.strip()
    except OSError:
        return "?"


def machine_lines(build):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 2**20
    here = servers.HERE
    with open(os.path.join(here, "node_modules", "bullmq", "package.json")) as f:
        bullmq = json.load(f)["version"]
    celery = output_of([servers.PYTHON, "-c", "import celery, kombu, redis, eventlet; "
                        "print(celery.__version__, kombu.__version__, redis.__version__, eventlet.__version__)"])
    celery = celery.split() + ["?"] * 4
    return [
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Linux {platform.release()}",
        f"uasyncd {output_of([os.path.join(build, 'server', 'uasyncd'), '--version'])} ({build})",
        f"{output_of(['redis-server', '--version'])}",
        f"BullMQ {bullmq}, Node {output_of(['node', '--version'])}",
        f"Celery {celery[0]}, kombu {celery[1]}, redis-py {celery[2]}, eventlet {celery[3]} (Debian, {servers.PYTHON})",
    ]


def fsync_lines(directory, count, when):
    probe = fsync_probe.measure(directory, count)
    o, a = probe["overwrite"], probe["append"]
    line = (f"fsync latency {when} ({count} x 4 KiB write + fdatasync, {fsync_probe.filesystem_of(directory)}): "
            f"overwrite p50 {o['p50_ms']:.3f} ms p99 {o['p99_ms']:.3f} ms; "
            f"append p50 {a['p50_ms']:.3f} ms p99 {a['p99_ms']:.3f} ms; "
            f"bound 16 / overwrite p50 = {16000 / o['p50_ms']:,.0f} jobs/s")
    return line, o["samples_ms"]


def describe(result, workload):
    if "unsupported" in result:
        return "not measured: " + result["unsupported"]
    if "error" in result:
        return "FAILED: " + result["error"] + (f" (logs in {result['work']})" if "work" in result else "")
    if workload == "memory":
        return (f"{result['bytes_per_job']:,.0f} B/job (RSS {result['rss_before_mib']:.1f} -> "
                f"{result['rss_after_mib']:.1f} MiB)")
    parts = []
    if "per_second" in result and workload != "timed":
        parts.append(f"{result['per_second']:,.0f} jobs/s in {result['seconds']:.2f} s")
    if "p50_ms" in result:
        parts.append(f"p50 {result['p50_ms']:.3f} ms p99 {result['p99_ms']:.3f} ms")
    if workload in ("timed", "cancel"):
        parts.append(f"{result['seconds']:.2f} s")
    if workload == "timed":
        parts.append(f"peak RSS {result['peak_rss_mib']:.0f} MiB")
    if "cpu_ms" in result:
        parts.append(f"server CPU {result['cpu_ms']:.3f} ms/job")
    return ", ".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", required=True, help="build dir with server/uasyncd and bench/peer_uasyncd_client")
    ap.add_argument("--rounds", type=int, default=None, help="rounds (default 3; 1 with --quick)")
    ap.add_argument("--quick", action="store_true", help="small counts, one round: checks the harness")
    ap.add_argument("--workloads", default=",".join(FULL), help="comma-separated, of: " + ",".join(FULL))
    ap.add_argument("--systems", default=",".join(SYSTEM_KEYS), help="comma-separated, of: " + ",".join(SYSTEM_KEYS))
    ap.add_argument("--work-dir", default=None, help="where data directories go (default: a new one in $TMPDIR)")
    ap.add_argument("--keep-logs", action="store_true", help="keep each cell's logs and data")
    ap.add_argument("--markdown", default=None, help="also write the summary as Markdown to this file")
    a = ap.parse_args()
    rounds = a.rounds or (1 if a.quick else 3)
    params = QUICK if a.quick else FULL
    workloads = [w for w in a.workloads.split(",") if w]
    for w in workloads:
        if w not in FULL:
            ap.error(f"unknown workload {w}")
    keys = [k for k in a.systems.split(",") if k]
    for k in keys:
        if k not in SYSTEM_KEYS:
            ap.error(f"unknown system {k}")
    systems = make_systems(keys, a.build)
    work_root = a.work_dir or tempfile.mkdtemp(prefix="uasyncd-peers-")
    os.makedirs(work_root, exist_ok=True)
    probes = 200 if a.quick else 1000

    header = machine_lines(a.build)
    line, fsync_before = fsync_lines(work_root, probes, "before")
    header.append(line)
    header.append(f"rounds: {rounds}{' (--quick)' if a.quick else ''}; load = 1-minute load average at each cell's start")
    for s in systems:
        header.append(f"{s.name}: {s.setup}")
    for line in header:
        print(line, flush=True)

    results = {(w, s.name): [] for w in workloads for s in systems}
    for r in range(1, rounds + 1):
        for w in workloads:
            print(f"\n[round {r}/{rounds}] {TITLES[w].format(**params[w])}", flush=True)
            for s in systems:
                result = cell.measure(s, w, params[w], client_args(w, params[w]), work_root, a.keep_logs)
                results[(w, s.name)].append(result)
                fsync = f"   fsync {result['fsync_ms']:.3f} ms" if "fsync_ms" in result else ""
                print(f"  {s.name:28} {describe(result, w)}   load {result['load']:.2f}{fsync}", flush=True)

    line, fsync_after = fsync_lines(work_root, probes, "after")
    print("\n" + line)
    header.append(line)
    # The disk's latency drifts in a run: the targets use the fsync probes of uasyncd durable's
    # own cells (the median of their p50s), else both probes' samples.
    cell_fsync = [c["fsync_ms"] for (w, name), cells in results.items() if name == report.DURABLE
                  for c in cells if "fsync_ms" in c]
    fsync_ms = statistics.median(cell_fsync or (fsync_before + fsync_after))
    line = (f"fsync latency for the targets: p50 {fsync_ms:.3f} ms "
            f"({'median of the uasyncd durable cells' if cell_fsync else 'both probes'}), "
            f"bound 16 / fsync = {16000 / fsync_ms:,.0f} jobs/s")
    print(line)
    header.append(line)
    report.print_summary(results, systems, workloads, params)
    report.print_targets(results, fsync_ms)
    report.print_notes()
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(report.markdown(results, systems, workloads, params, header))
        print(f"\nMarkdown written to {a.markdown}")
    if not a.work_dir and not a.keep_logs:
        try:
            os.rmdir(work_root)  # empty unless a cell failed and kept its logs
        except OSError:
            print(f"logs of failed cells kept in {work_root}")
    failed = any("error" in c for cells in results.values() for c in cells)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
