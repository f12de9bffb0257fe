"""The peer benchmark's summary: per workload, each system's median and range over the rounds,
the ratio against uasyncd, the load at its cells; then issue 15's targets, met or missed; and
optionally the same figures as a Markdown table (one column per system) for bench/RESULTS.md."""
import statistics

from workloads import FIGURES, TITLES

DURABLE, EPHEMERAL = "uasyncd durable", "uasyncd ephemeral"


def fmt(value, unit):
    if value is None:
        return "-"
    if unit == "/s":
        return f"{value:,.0f}"
    if unit == "B":
        return f"{value:,.0f} B"
    if unit == "MiB":
        return f"{value:,.0f} MiB"
    if unit == "s":
        return f"{value:.2f} s"
    if value >= 100:
        return f"{value:,.0f} ms"
    return f"{value:.3g} ms"


def values(cells, key):
    """The figure `key` of the cells that measured it (fsync_ms of every cell that ran)."""
    if key == "fsync_ms":
        return [c[key] for c in cells if key in c]
    return [c[key] for c in cells if key in c and "error" not in c and "unsupported" not in c]


def median(cells, key):
    v = values(cells, key)
    return statistics.median(v) if v else None


def spread(cells, key, unit):
    v = values(cells, key)
    if not v:
        return "-"
    text = fmt(statistics.median(v), unit)
    if len(v) > 1:
        text += f" [{fmt(min(v), unit)} - {fmt(max(v), unit)}]"
    return text


def advantage(ours, theirs, better):
    """How many times better uasyncd's figure is than the peer's (> 1: uasyncd is better)."""
    if ours is None or theirs is None or ours == 0 or theirs == 0:
        return None
    return ours / theirs if better == "higher" else theirs / ours


def _range(numbers, form):
    low, high = form.format(min(numbers)), form.format(max(numbers))
    return low if low == high else f"{low}-{high}"


def load_range(cells):
    return _range([c["load"] for c in cells], "{:.2f}")


def _status(cells):
    """None when some cell has figures; else the reason none has."""
    if values(cells, "jobs") or values(cells, "bytes_per_job"):
        return None
    for c in cells:
        if "unsupported" in c:
            return "not measured: " + c["unsupported"]
    errors = [c["error"] for c in cells if "error" in c]
    return "failed: " + (errors[0] if errors else "no figures")


def print_summary(results, systems, workloads, params, out=print):
    out("\n== Summary: median [min - max] over the rounds; \"uasyncd better by D / E\": how many "
        "times better uasyncd durable / ephemeral is on the first figure (< 1: the peer is better)")
    for w in workloads:
        out(f"\n-- {TITLES[w].format(**params[w])}")
        figures = FIGURES[w]
        key, _, unit, better = figures[0]
        for s in systems:
            cells = results[(w, s.name)]
            errors = [c["error"] for c in cells if "error" in c]
            status = _status(cells)
            if status:
                out(f"  {s.name:28} {status}")
                continue
            parts = [f"{label} {spread(cells, k, u)}" for k, label, u, _ in figures]
            if not s.name.startswith("uasyncd"):
                ours = [advantage(median(results[(w, u)], key), median(cells, key), better)
                        for u in (DURABLE, EPHEMERAL) if (w, u) in results]
                if any(r is not None for r in ours):
                    parts.append("uasyncd better by " + " / ".join("-" if r is None else f"{r:.2f}x" for r in ours))
            parts.append(f"load {load_range(cells)}")
            fsync = values(cells, "fsync_ms")
            if fsync:
                parts.append(f"fsync p50 {_range(fsync, '{:.3f}')} ms")
            if errors:
                parts.append(f"{len(errors)} failed cell(s): {errors[0]}")
            out(f"  {s.name:28} " + "   ".join(parts))


NOT_LIKE_FOR_LIKE = [
    "submit and wait: uasyncd's latency row takes two round trips (POST, then GET .../wait), its "
    "one-round-trip row one (POST /api/tasks?wait=S); BullMQ's add + waitUntilFinished is a Lua script then an event-stream read; Celery's "
    "delay().get() a publish then a pub/sub result.",
    "cancel: BullMQ cancels a running job only inside the worker running it (worker.cancelJob), so "
    "the client publishes each id on a Redis channel the worker subscribes to; Celery uses "
    "app.control.revoke(id, terminate=True), one broadcast per job, under eventlet (the only pool "
    "of Celery 5.2 that ends a running job without killing a process).",
    "memory: Redis keeps each BullMQ job's hash (data, options, return value, times); Celery's "
    "Redis keeps only each result (the message is gone once acknowledged); uasyncd keeps the "
    "spec, times, result and step tree.",
    "timed jobs, Celery: the gevent pool measured the same as eventlet here (~170 jobs/s of 1-s "
    "sleeps); the worker's consumer is the limit, not the pool's 10,000 slots.",
    "batch: the BullMQ worker runs while addBulk submits, as uasyncd runs what it accepts.",
    "the clients (C++ threads; one Node process; one CPython process with threads) share the two "
    "cores with the servers; their CPU is not in \"server CPU\". Peak RSS of BullMQ and Celery is "
    "the sum of each server process's peak (redis-server, the worker's processes).",
]


def print_notes(out=print):
    out("\n== Not like for like")
    for note in NOT_LIKE_FOR_LIKE:
        out("  - " + note)


def _verdict(ok):
    return "met" if ok else "MISSED"


def print_targets(results, fallback_fsync_ms, out=print):
    """Issue 15's targets next to this run's figures. A target stated against the fsync latency
    uses the latency probed just before the uasyncd durable cells of that workload."""
    out("\n== Issue 15 targets (medians of this run)")
    get = lambda w, s, k: median(results.get((w, s), []), k)

    def fsync_of(workload):
        return get(workload, DURABLE, "fsync_ms") or fallback_fsync_ms

    fsync_ms = fsync_of("throughput")
    bound = 16 / (fsync_ms / 1000)
    d = get("throughput", DURABLE, "per_second")
    bull = get("throughput", "BullMQ, Redis defaults", "per_second")
    if d is not None:
        if bull is not None:
            out(f"  durable throughput {d:,.0f}/s >= BullMQ (Redis defaults) {bull:,.0f}/s: "
                f"{_verdict(d >= bull)} ({d / bull:.2f}x)")
        out(f"  durable throughput {d:,.0f}/s >= 80% of the fsync bound 16 / {fsync_ms:.3g} ms = "
            f"{bound:,.0f}/s: {_verdict(d >= 0.8 * bound)} ({100 * d / bound:.0f}%)")
    dc, ec = get("throughput", DURABLE, "cpu_ms"), get("throughput", EPHEMERAL, "cpu_ms")
    if dc is not None and ec:
        out(f"  durable CPU/job {dc:.3f} ms <= 1.2x ephemeral {ec:.3f} ms: {_verdict(dc <= 1.2 * ec)} "
            f"({dc / ec:.2f}x)")
    for w, how in (("latency", "POST + GET .../wait"), ("latency_one_trip", "POST ?wait=")):
        dl, el = get(w, DURABLE, "p50_ms"), get(w, EPHEMERAL, "p50_ms")
        fsync_ms = fsync_of(w)
        if dl is not None:
            out(f"  durable submit-and-wait p50 ({how}) {dl:.3g} ms <= 1.5 fsync = {1.5 * fsync_ms:.3g} ms: "
                f"{_verdict(dl <= 1.5 * fsync_ms)}")
        if el is not None:
            out(f"  ephemeral submit-and-wait p50 ({how}) {el:.3g} ms <= 0.3 ms: {_verdict(el <= 0.3)}")
    db = get("batch", DURABLE, "per_second")
    bulk = get("batch", "BullMQ, Redis defaults", "per_second")
    if db is None:
        if (("batch", DURABLE)) in results:
            out("  durable batch submit >= 100,000/s: not measured (no batch submit in this build)")
    else:
        out(f"  durable batch submit {db:,.0f}/s >= 100,000/s: {_verdict(db >= 100000)}")
        if bulk is not None:
            out(f"  durable batch submit {db:,.0f}/s >= BullMQ addBulk (Redis defaults) {bulk:,.0f}/s: "
                f"{_verdict(db >= bulk)}")


def _ratios(results, workload, system, key, better):
    if system.name.startswith("uasyncd"):
        return ""
    theirs = median(results[(workload, system.name)], key)
    ours = [advantage(median(results[(workload, u)], key), theirs, better)
            for u in (DURABLE, EPHEMERAL) if (workload, u) in results]
    if all(r is None for r in ours):
        return ""
    return " / ".join("-" if r is None else f"{r:.2f}x" for r in ours)


def markdown(results, systems, workloads, params, header_lines):
    """The figures as Markdown tables, one column per system."""
    lines = list(header_lines)
    lines.append("")
    lines.append("| workload | figure | " + " | ".join(s.name for s in systems) + " |")
    lines.append("|---|---|" + "---|" * len(systems))
    for w in workloads:
        title = TITLES[w].format(**params[w])
        for i, (key, label, unit, better) in enumerate(FIGURES[w]):
            row = []
            for s in systems:
                cells = results[(w, s.name)]
                status = _status(cells)
                row.append(("n/a: " + status.split(": ", 1)[1]) if status and i == 0 else
                           ("" if status else spread(cells, key, unit)))
            lines.append(f"| {title if i == 0 else ''} | {label} | " + " | ".join(row) + " |")
            if i == 0:
                lines.append(f"| | uasyncd durable / ephemeral better by | " + " | ".join(
                    _ratios(results, w, s, key, better) for s in systems) + " |")
        row = [load_range(results[(w, s.name)]) for s in systems]
        lines.append("| | load (1 min) at the cells | " + " | ".join(row) + " |")
        row = []
        for s in systems:
            fsync = values(results[(w, s.name)], "fsync_ms")
            row.append(f"{_range(fsync, '{:.2f}')} ms" if fsync else "")
        lines.append("| | fsync p50 at the cells | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
