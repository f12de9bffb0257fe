"""The systems under test in the peer benchmark, each started fresh for one cell (one workload,
one round) and stopped after it: uasyncd (durable or ephemeral), BullMQ on Redis (its defaults,
or an appendonly file fsynced at every write) and Celery on Redis. A started system tells which
processes are its server side (their CPU and peak RSS are measured), which one holds retained
jobs (its RSS delta is "memory per retained job"), and how to run the workload's client."""
import os
import signal
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"  # Debian's, which has python3-celery (not a pyenv or venv one)


class NotReady(RuntimeError):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, what, proc, log, limit=30):
    start = time.monotonic()
    while time.monotonic() - start < limit:
        value = check()
        if value:
            return value
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    with open(log, errors="replace") as f:
        tail = f.read()[-2000:]
    raise NotReady(f"{what} did not start:\n{tail}")


def spawn(argv, log, env=None, cwd=None):
    """Starts a server process in its own session (so its workers can be ended as one group)."""
    out = open(log, "w")
    return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                            start_new_session=True)


def stop(proc, grace=10, how=signal.SIGTERM):
    """Signal `how`, then SIGKILL to the process group this benchmark started, if it lingers."""
    if proc.poll() is not None:
        return
    proc.send_signal(how)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class Started:
    """A running system: its processes, the client command of each workload, and stop()."""

    def __init__(self, processes, server_pids, memory_pid, client, stop_signals=None):
        self.processes = processes  # started in this order, stopped in the reverse one
        self.stop_signals = stop_signals or {}
        self.server_pids = server_pids
        self.memory_pid = memory_pid
        self.client = client  # workload, args -> (argv, env, cwd)

    def stop(self):
        for p in reversed(self.processes):
            stop(p, how=self.stop_signals.get(p.pid, signal.SIGTERM))


class Uasyncd:
    def __init__(self, binary, client, durable):
        self.binary, self.client_binary, self.durable = binary, client, durable
        self.name = "uasyncd durable" if durable else "uasyncd ephemeral"
        self.setup = ("--sync full (SQLite WAL, fsync at every group commit)" if durable
                      else "--ephemeral") + ", --log-level warn, --http-threads 32"

    def unsupported(self, workload):
        return None

    def start(self, workload, params, work):
        flags = ["--listen", "127.0.0.1:0", "--log-level", "warn", "--http-threads", "32"]
        flags += ["--data-dir", os.path.join(work, "data")] if self.durable else ["--ephemeral"]
        if workload == "memory":
            flags += ["--keep-finished", str(2 * (params["n"] + params["warmup"]))]
        log = os.path.join(work, "uasyncd.log")
        proc = spawn([self.binary, *flags], log)

        def port():
            with open(log) as f:
                for line in f:
                    if line.startswith("listening on "):
                        return int(line.rsplit(":", 1)[1])
            return None

        p = wait_for(port, "uasyncd", proc, log)
        client = lambda w, args: ([self.client_binary, str(p), w, *map(str, args)], None, None)
        return Started([proc], [proc.pid], proc.pid, client)


def start_redis(work, fsync_always):
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", work]
    if fsync_always:
        argv += ["--appendonly", "yes", "--appendfsync", "always"]
    log = os.path.join(work, "redis.log")
    proc = spawn(argv, log)

    def pong():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    wait_for(pong, "redis-server", proc, log)
    return proc, port


class Bullmq:
    # The worker's concurrency: high enough for the no-op jobs not to wait for a slot, and one
    # slot per job for the workloads whose jobs sleep.
    CONCURRENCY = {"timed": 10000, "cancel": 10000}

    def __init__(self, fsync_always):
        self.fsync_always = fsync_always
        self.name = "BullMQ, Redis fsync always" if fsync_always else "BullMQ, Redis defaults"
        self.setup = ("redis-server " + ("--appendonly yes --appendfsync always" if fsync_always
                                         else "with its defaults (no fsync before a reply)")
                      + "; one worker process, concurrency 100 (10,000 for timed and cancel)")

    def unsupported(self, workload):
        if workload == "latency_one_trip":
            return "one call already (add + waitUntilFinished): see the latency row"
        return None

    def start(self, workload, params, work):
        redis, port = start_redis(work, self.fsync_always)
        log = os.path.join(work, "bullmq-worker.log")
        concurrency = self.CONCURRENCY.get(workload, 100)
        worker = spawn(["node", os.path.join(HERE, "bullmq_worker.mjs"), str(port), str(concurrency)],
                       log, cwd=HERE)

        def ready():
            with open(log) as f:
                return "ready" in f.read()

        try:
            wait_for(ready, "the BullMQ worker", worker, log)
        except NotReady:
            stop(worker)
            stop(redis)
            raise
        client = lambda w, args: (["node", os.path.join(HERE, "bullmq_client.mjs"), str(port), w,
                                   *map(str, args)], None, HERE)
        return Started([redis, worker], [redis.pid, worker.pid], redis.pid, client)


class Celery:
    # No-op jobs: the prefork pool with one process per core was the fastest here (2-3x the
    # eventlet and gevent pools). Sleeping jobs: eventlet, one green thread per job, and the
    # only pool of Celery 5.2 whose revoke(terminate=True) can end a running job without
    # killing a process.
    def pool(self, workload):
        if workload in ("timed", "cancel"):
            return ["-P", "eventlet", "-c", "10000"]
        return ["-P", "prefork", "-c", "2"]

    name = "Celery + Redis"
    setup = ("Celery 5.2 (Debian), Redis broker and result backend with Redis defaults; "
             "prefork pool, 2 processes (eventlet, 10,000 green threads, for timed and cancel); "
             "--without-gossip --without-mingle --without-heartbeat, -l warning")

    def unsupported(self, workload):
        if workload == "batch":
            return "no batch submit (a group() publishes one message per task)"
        if workload == "latency_one_trip":
            return "one call already (delay().get()): see the latency row"
        return None

    def start(self, workload, params, work):
        redis, port = start_redis(work, False)
        ready_file = os.path.join(work, "celery.ready")
        env = dict(os.environ, BENCH_REDIS_PORT=str(port), BENCH_READY_FILE=ready_file,
                   BENCH_TRACK_STARTED="1" if workload == "cancel" else "0")
        log = os.path.join(work, "celery-worker.log")
        worker = spawn([PYTHON, "-m", "celery", "-A", "celery_app", "worker", *self.pool(workload),
                        "--without-gossip", "--without-mingle", "--without-heartbeat",
                        "-l", "warning"], log, env=env, cwd=HERE)
        try:
            wait_for(lambda: os.path.exists(ready_file), "the Celery worker", worker, log, limit=60)
        except NotReady:
            stop(worker)
            stop(redis)
            raise
        client = lambda w, args: ([PYTHON, os.path.join(HERE, "celery_client.py"), w,
                                   *map(str, args)], env, HERE)
        # SIGQUIT: a cold shutdown; the warm one (SIGTERM) would wait for the hour-long sleeps.
        return Started([redis, worker], [redis.pid, worker.pid], redis.pid, client,
                       {worker.pid: signal.SIGQUIT})
