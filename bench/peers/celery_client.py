"""The Celery side of the peer benchmark (bench/peers/run.sh): one workload per run against the
worker of celery_app.py, printing one JSON line with the same fields as uasyncd_client.cpp.
  celery_client.py throughput N SUBMITTERS   N noop: first delay() -> all results stored
  celery_client.py latency N                 one client: delay().get(), N times
  celery_client.py timed N SUBMITTERS        N sleep(1): first delay() -> all results stored
  celery_client.py cancel N SUBMITTERS       N started sleeps: first revoke(terminate) -> all REVOKED
  celery_client.py fill N SUBMITTERS         N noop, until all results are stored
Completion is observed by polling the result backend (Redis db 1, one key per finished task)
every 2 ms. Submitters are threads of this process."""
import json
import os
import sys
import threading
import time

import redis

from celery_app import app, noop, sleep

now = time.perf_counter
backend = redis.Redis(host="127.0.0.1", port=int(os.environ["BENCH_REDIS_PORT"]), db=1)


def on_threads(n, count, body):
    """Runs body(i) for i in [0, n) on `count` threads, each a contiguous share."""
    threads = [
        threading.Thread(target=lambda b=n * t // count, e=n * (t + 1) // count: [body(i) for i in range(b, e)])
        for t in range(count)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def poll_until(what, count, target, limit=900):
    """Polls count() until it reaches target; after `limit` s, fails naming what it waited for."""
    start = now()
    seen = count()
    while seen < target:
        if now() - start > limit:
            raise RuntimeError(f"timed out waiting for {what}: {seen} of {target}")
        time.sleep(0.002)
        seen = count()


def run_to_completion(task, args, n, submitters):
    before = backend.dbsize()
    start = now()
    on_threads(n, submitters, lambda i: task.apply_async(args))
    submit_seconds = now() - start
    poll_until("stored results", backend.dbsize, before + n)
    seconds = now() - start
    return {"jobs": n, "errors": 0, "seconds": seconds, "submit_seconds": submit_seconds, "per_second": n / seconds}


def latency(n):
    ms = []
    for _ in range(n):
        start = now()
        noop.delay().get(timeout=30)
        ms.append((now() - start) * 1000)
    ms.sort()
    pct = lambda p: ms[min(len(ms) - 1, round(p * (len(ms) - 1)))]
    return {"jobs": n, "errors": 0, "p50_ms": pct(0.5), "p99_ms": pct(0.99)}


def states(ids):
    keys = [f"celery-task-meta-{i}" for i in ids]
    return [json.loads(v)["status"] if v else None for v in backend.mget(keys)]


def cancel(n, submitters):
    ids = [None] * n

    def submit(i):
        ids[i] = sleep.delay(3600).id

    on_threads(n, submitters, submit)
    poll_until("started tasks", lambda: states(ids).count("STARTED"), n)
    start = now()
    on_threads(n, submitters, lambda i: app.control.revoke(ids[i], terminate=True))
    poll_until("revoked tasks", lambda: states(ids).count("REVOKED"), n, limit=120)
    return {"jobs": n, "errors": 0, "seconds": now() - start}


def main():
    workload, n = sys.argv[1], int(sys.argv[2])
    arg = lambda i, fallback: int(sys.argv[i]) if len(sys.argv) > i else fallback
    try:
        if workload in ("throughput", "fill"):
            result = run_to_completion(noop, (), n, arg(3, 16))
        elif workload == "timed":
            result = run_to_completion(sleep, (1,), n, arg(3, 16))
        elif workload == "latency":
            result = latency(n)
        elif workload == "cancel":
            result = cancel(n, arg(3, 16))
        else:
            raise ValueError(f"unknown workload {workload}")
    except Exception as e:  # reported as the cell's error, not a traceback
        result = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(result), flush=True)
    sys.exit(1 if "error" in result else 0)


if __name__ == "__main__":
    main()
