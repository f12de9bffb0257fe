#!/usr/bin/python3
"""Prints the issue-2 core benchmark table from the raw results bench/run_core.sh leaves.

usage: core_report.py RESULTS_DIR COLD_RUNS
"""

import json
import os
import platform
import statistics
import sys

# workload: (label, unit of the figure, target, "lower" or "higher" is better, target on bytes/task)
WORKLOADS = {
    "a": ("1,000,000 create_task+await, in sequence", "ms", 25.0, "lower", None),
    "b": ("1,000,000 create_task, then one gather", "ms", 150.0, "lower", 120.0),
    "c": ("100,000 concurrent sleep_ms(10), gathered", "ms", 40.0, "lower", None),
    "d": ("sleep(0) switches/s between 2 tasks", "M/s", 20.0, "higher", None),
}
MIN_RATIO = 50.0


def load_cpp(results, key, runs):
    cold, warm = [], None
    first = None
    for i in range(1, runs + 1):
        with open(os.path.join(results, f"cpp_{key}_{i}.json")) as f:
            doc = json.load(f)
        bm = doc["benchmarks"][0]
        if i == 1:
            first, warm = bm, bm
        cold.append(bm)
    return first, warm, cold


def figure(key, seconds=None, per_s=None):
    """The workload's figure in its unit: ms for (a)-(c), million switches/s for (d)."""
    if key == "d":
        return per_s / 1e6
    return seconds * 1e3


def main():
    results, runs = sys.argv[1], int(sys.argv[2])
    py = {}
    with open(os.path.join(results, "cpython.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            py[r["workload"]] = r

    print()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} "
          f"(other processes share the CPUs: figures vary run to run); "
          f"CPython {platform.python_version()} asyncio")
    print("C++ cold = first run in a fresh process (pays the page faults of its memory), "
          f"median of {runs} processes; C++ warm = Google Benchmark mean over repeated runs "
          "in one process (memory already mapped).")
    print("RSS = VmHWM growth during the first run (peak reset via /proc/self/clear_refs); "
          "bytes/task = that growth / tasks (incl. the vector of task handles).")
    print()
    hdr = (f"{'workload':44} {'C++ cold':>10} {'(cpu)':>7} {'C++ warm':>10} {'target':>9} "
           f"{'CPython':>10} {'ratio':>7} {'B/task':>7} {'(CPy)':>7} {'peakRSS':>8} {'(CPy)':>8}")
    print(hdr)
    print("-" * len(hdr))
    verdicts = []
    for key, (label, unit, target, better, bytes_target) in WORKLOADS.items():
        first, warm, cold = load_cpp(results, key, runs)
        cold_fig = statistics.median(
            figure(key, seconds=b["cold_ms"] / 1e3, per_s=b["cold_per_s"]) for b in cold)
        if key == "d":
            warm_fig = warm["items_per_second"] / 1e6
        else:
            warm_fig = warm["real_time"]  # reported in ms (Unit(kMillisecond))
        p = py[key]
        py_fig = figure(key, seconds=p["seconds"], per_s=p["per_s"])
        ratio = py_fig / cold_fig if better == "lower" else cold_fig / py_fig
        cpu = statistics.median(b["cold_cpu_ms"] for b in cold)
        cpu_txt = "" if key == "d" else f"{cpu:5.1f}ms"
        bpt = statistics.median(b["bytes_per_task"] for b in cold)
        peak = statistics.median(b["peak_rss_MB"] for b in cold)
        sign = "<=" if better == "lower" else ">="
        print(f"({key}) {label:39} {cold_fig:8.1f}{unit:>2} {cpu_txt:>7} {warm_fig:8.1f}{unit:>2} "
              f"{sign}{target:5.0f}{unit:>2} {py_fig:8.1f}{unit:>2} {ratio:6.0f}x "
              f"{bpt:7.0f} {p['bytes_per_task']:7.0f} {peak:6.1f}MB "
              f"{p['peak_rss_bytes'] / 2**20:6.1f}MB")
        ok_time = cold_fig <= target if better == "lower" else cold_fig >= target
        ok_warm = warm_fig <= target if better == "lower" else warm_fig >= target
        verdicts.append(f"({key}) {'meets' if ok_time else 'MISSES'} its target cold"
                        f"{'' if ok_time == ok_warm else (' (warm: meets)' if ok_warm else ' (warm: MISSES)')}"
                        f"; {'>=' if ratio >= MIN_RATIO else 'UNDER '}{MIN_RATIO:.0f}x CPython ({ratio:.0f}x)"
                        + (f"; bytes/task {bpt:.0f} {'<=' if bpt <= bytes_target else '>'} "
                           f"{bytes_target:.0f}" if bytes_target else ""))
    print()
    print("ratio = CPython time / C++ cold time, or C++ cold rate / CPython rate for (d). "
          "(cpu) = CPU time of the cold run (wall time minus waiting; under load it shows what "
          "the code itself costs).")
    print("(c) includes its 10 ms sleep (real clock). (d) is a rate: the CPython run makes fewer "
          "switches (it is slow), the figure is per second.")
    print()
    for v in verdicts:
        print(v)


if __name__ == "__main__":
    main()
