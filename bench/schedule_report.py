#!/usr/bin/env python3
"""Prints bench/schedule_bench's figures next to Python's croniter on the same cases.

    schedule_report.py OURS.json

OURS.json is schedule_bench's --benchmark_format=json output. For each "next_fire|seq|..." case
croniter (Debian's python3-croniter) steps from fire to fire the same way, with the same zone,
for about SECONDS_PER_CASE of CPU time (default 0.5 s), and the table shows CPU ns per next
fire (stepping from fire to fire, and from instants spread over 2026-2036), croniter's, the ratio
and the target (1 us: a fire must cost the loop far less than the 5 ms p99 of issue 16).
"""
import json
import os
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter

TARGET_NS = 1000.0


def croniter_ns(zone, expression, seconds):
    fields = expression.split()
    if len(fields) == 6:  # croniter puts the seconds field last
        fields = fields[1:] + fields[:1]
    start = datetime(2026, 1, 1, tzinfo=ZoneInfo(zone))
    end = datetime(2036, 1, 1, tzinfo=ZoneInfo(zone))
    it = croniter(" ".join(fields), start)
    calls = 0
    began = time.process_time()
    while time.process_time() - began < seconds:
        for _ in range(100):
            if it.get_next(datetime) >= end:
                it = croniter(" ".join(fields), start)
        calls += 100
    return (time.process_time() - began) / calls * 1e9


def main():
    with open(sys.argv[1]) as f:
        ours = json.load(f)
    seconds = float(os.environ.get("SECONDS_PER_CASE", "0.5"))
    # CPU time, on both sides: the machine is shared, and wall time counts other jobs' turns.
    ns = {b["name"]: b["cpu_time"] for b in ours["benchmarks"] if b.get("time_unit") == "ns"}
    print(f"{'case':<44} {'seq ns':>8} {'any ns':>8} {'croniter ns':>12} {'ratio':>7}  target")
    for name, seq in ns.items():
        parts = name.split("|")
        if parts[0] != "next_fire" or parts[1] != "seq":
            continue
        zone, text = parts[2], parts[3]
        other = ns.get("|".join(["next_fire", "any", zone, text]))
        case = f"{text} ({zone})" if zone != "every" else f"every {text} s"
        if zone == "every":
            peer, ratio = "-", "-"
        else:
            peer_ns = croniter_ns(zone, text, seconds)
            peer, ratio = f"{peer_ns:,.0f}", f"{peer_ns / seq:,.0f}x"
        verdict = "met" if max(seq, other or 0) <= TARGET_NS else "MISSED"
        print(f"{case:<44} {seq:>8.0f} {other or 0:>8.0f} {peer:>12} {ratio:>7}  <= 1000 ns: {verdict}")
    for name in ("parse_cron", "find_time_zone"):
        if name in ns:
            print(f"{name:<44} {ns[name]:>8.0f} ns")


if __name__ == "__main__":
    main()
