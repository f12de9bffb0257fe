"""The Celery application of the peer benchmark (bench/peers/run.sh): Redis as broker (db 0) and
result backend (db 1), on 127.0.0.1:$BENCH_REDIS_PORT. Task "noop" returns at once; "sleep" sleeps
(under the eventlet or gevent pool, time.sleep is patched to yield). BENCH_TRACK_STARTED=1 records
the STARTED state, which the cancel workload waits for. The worker writes $BENCH_READY_FILE
once it consumes."""
import os
import time

from celery import Celery, signals

port = os.environ["BENCH_REDIS_PORT"]
app = Celery("bench", broker=f"redis://127.0.0.1:{port}/0", backend=f"redis://127.0.0.1:{port}/1")
app.conf.update(
    task_track_started=os.environ.get("BENCH_TRACK_STARTED") == "1",
    broker_connection_retry_on_startup=True,
    # The clients submit from 16 threads: one pooled broker connection each.
    broker_pool_limit=32,
)


@app.task(name="noop")
def noop():
    return None


@app.task(name="sleep")
def sleep(seconds):
    time.sleep(seconds)


@signals.worker_ready.connect
def _ready(**_):
    path = os.environ.get("BENCH_READY_FILE")
    if path:
        with open(path, "w") as f:
            f.write("ready\n")
