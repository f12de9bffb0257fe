"""What the peer benchmark reads from /proc about the server processes: CPU time of a process
and its descendants, resident set (now and peak), and the machine's load average."""
import os

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (which may hold spaces), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def descendants(pid):
    """pid and every live process below it."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(entry)
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def cpu_ticks(pids):
    """{pid: ticks} of user+system time of each process of the trees under pids, children that
    were already reaped included (cutime+cstime: Redis's snapshot forks, for one)."""
    ticks = {}
    for root in pids:
        for p in descendants(root):
            fields = _stat_fields(p)
            if fields:  # utime stime cutime cstime are fields 14-17 of stat, 12-15 here
                ticks[p] = sum(int(x) for x in fields[11:15])
    return ticks


def cpu_seconds_between(before, after):
    """CPU seconds spent between two cpu_ticks() snapshots; a process that appeared in between
    counts from zero."""
    return sum(t - before.get(p, 0) for p, t in after.items()) / TICKS_PER_SECOND


def _status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_bytes(pid):
    return _status_kib(pid, "VmRSS") * 1024


def peak_rss_bytes(pids):
    """The sum of the peak resident sets (VmHWM) of the trees under pids: an upper bound of the
    peak of their sum, exact for a single process."""
    return sum(_status_kib(p, "VmHWM") * 1024 for root in pids for p in descendants(root))


def load_average():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])
