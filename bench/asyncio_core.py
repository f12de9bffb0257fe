#!/usr/bin/python3
"""The scheduler-core workloads of issue 2 in CPython asyncio (the reference for core_bench).

  (a) 1,000,000 create_task + await, in sequence
  (b) 1,000,000 create_task, then one gather over them
  (c) 100,000 tasks each sleep(0.010) concurrently, gathered (real clock)
  (d) sleep(0) switches between 2 tasks

Each workload runs once, in a fresh interpreter (this script re-runs itself with --one), so its
peak RSS is its own: the peak is reset (/proc/self/clear_refs) just before the workload starts,
and bytes per task is the RSS growth up to that peak divided by the number of tasks. Times are
taken inside the running loop (loop start-up is not counted). Prints one JSON object per line.

  /usr/bin/python3 bench/asyncio_core.py [--only a,b,c,d] [--switches N]
"""

import argparse
import asyncio
import json
import subprocess
import sys
import time

TASKS = 1_000_000
SLEEPERS = 100_000
SLEEP_S = 0.010


def status_bytes(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


async def nop():
    pass


async def sleeper(s):
    await asyncio.sleep(s)


async def yielder(n):
    for _ in range(n):
        await asyncio.sleep(0)


async def create_and_await_in_sequence(n):
    for _ in range(n):
        await asyncio.create_task(nop())


async def create_then_gather(n):
    tasks = [asyncio.create_task(nop()) for _ in range(n)]
    await asyncio.gather(*tasks)


async def concurrent_sleeps(n, s):
    tasks = [asyncio.create_task(sleeper(s)) for _ in range(n)]
    await asyncio.gather(*tasks)


async def ping_pong(yields_per_task):
    a = asyncio.create_task(yielder(yields_per_task))
    b = asyncio.create_task(yielder(yields_per_task))
    await a
    await b


def workloads(switches):
    per_task = switches // 2
    return {
        "a": ("create_task+await in sequence", TASKS, TASKS,
              lambda: create_and_await_in_sequence(TASKS)),
        "b": ("create_task, then one gather", TASKS, TASKS, lambda: create_then_gather(TASKS)),
        "c": ("concurrent sleep(0.010), gathered", SLEEPERS, SLEEPERS,
              lambda: concurrent_sleeps(SLEEPERS, SLEEP_S)),
        "d": ("sleep(0) switches between 2 tasks", 2, 2 * per_task,
              lambda: ping_pong(per_task)),
    }


def run_one(key, switches):
    name, tasks, units, make = workloads(switches)[key]

    async def timed():
        peak_reset = reset_peak_rss()
        rss_before = status_bytes("VmRSS")
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        await make()
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        peak = status_bytes("VmHWM")
        return seconds, cpu, peak, peak - rss_before, peak_reset

    seconds, cpu, peak, growth, peak_reset = asyncio.run(timed())
    return {
        "workload": key,
        "name": name,
        "impl": "cpython-asyncio",
        "python": sys.version.split()[0],
        "seconds": seconds,
        "cpu_seconds": cpu,
        "units": units,
        "per_s": units / seconds,
        "peak_rss_bytes": peak,
        "rss_growth_bytes": growth,
        "bytes_per_task": growth / tasks,
        "peak_was_reset": peak_reset,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="a,b,c,d", help="comma-separated workloads")
    ap.add_argument("--switches", type=int, default=400_000, help="total sleep(0) switches in (d)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.switches)), flush=True)
        return
    for key in args.only.split(","):
        subprocess.run([sys.executable, __file__, "--one", key, "--switches", str(args.switches)],
                       check=True)


if __name__ == "__main__":
    main()
