"""The fsync latency of the disk under a directory, which bounds a durable queue: with 16
submitters a group commit holds at most 16 jobs, so throughput stays below 16 / latency.
Two patterns, each a 4 KiB write followed by fdatasync, as many times as asked:
  overwrite: in place, in a file already written and synced (SQLite's WAL in steady state)
  append:    at the end of a growing file (Redis's appendonly file), which also syncs its size"""
import os
import statistics
import time

BLOCK = b"\x5a" * 4096


def _percentile(sorted_ms, p):
    return sorted_ms[min(len(sorted_ms) - 1, round(p * (len(sorted_ms) - 1)))]


def measure(directory, count, patterns=("overwrite", "append")):
    """{pattern: {"p50_ms", "p99_ms", "samples_ms"}} for count write+fdatasync pairs of each."""
    result = {}
    for pattern in patterns:
        path = os.path.join(directory, f"fsync-probe-{pattern}")
        fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        try:
            if pattern == "overwrite":
                os.pwrite(fd, BLOCK * 16, 0)
                os.fsync(fd)
            ms = []
            for i in range(count):
                offset = (i % 16) * len(BLOCK) if pattern == "overwrite" else i * len(BLOCK)
                start = time.perf_counter()
                os.pwrite(fd, BLOCK, offset)
                os.fdatasync(fd)
                ms.append((time.perf_counter() - start) * 1000)
        finally:
            os.close(fd)
            os.unlink(path)
        ms.sort()
        result[pattern] = {"p50_ms": statistics.median(ms), "p99_ms": _percentile(ms, 0.99),
                           "samples_ms": ms}
    return result


def filesystem_of(directory):
    """'TYPE DEVICE' of the mount that holds directory (the longest mount point prefix)."""
    best, path = ("?", "?", ""), os.path.realpath(directory)
    with open("/proc/mounts") as f:
        for line in f:
            device, mount, fstype = line.split()[:3]
            if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best[2]):
                best = (fstype, device, mount)
    return f"{best[0]} {best[1]}"
