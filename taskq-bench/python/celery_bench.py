"""Celery side of `taskq-bench --compare`.

The module is both the Celery app the worker loads (`celery -A celery_bench worker ...`) and the
driver the Rust harness runs (`python celery_bench.py SCENARIO --pool P --concurrency C --n N`).
The driver uses Celery's own API (`apply_async`/`delay`, `AsyncResult.get`,
`ResultSet.join_native`), starts the worker as a subprocess in its own session, and prints
`key: value` lines; on a failure it prints `error: ...` and exits 1.

Settings, from Celery's "Optimizing" guide and worker docs: Redis broker and Redis result
backend, JSON, `worker_prefetch_multiplier` 64 (the guide: raise it for many short tasks),
`task_acks_late` off (default), `worker_disable_rate_limits`, and the worker started with
`--without-gossip --without-mingle --without-heartbeat`.
"""

import argparse
import os
import signal
import subprocess
import sys
import time

from celery import Celery
from celery.result import ResultSet

URL = os.environ.get("CELERY_BENCH_URL", "redis://127.0.0.1:6379/0")
QUEUE = "cmp-celery"
PREFETCH_MULTIPLIER = 64

app = Celery("celery_bench", broker=URL, backend=URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_default_queue=QUEUE,
    worker_prefetch_multiplier=PREFETCH_MULTIPLIER,
    task_acks_late=False,
    worker_disable_rate_limits=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="cmp.noop")
def noop(n):
    return n


@app.task(name="cmp.stamp")
def stamp(sent_ns):
    return time.time_ns() - sent_ns


def descendants(pid):
    """pid and every process below it, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def vm_hwm_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


class WorkerProcess:
    def __init__(self, pool, concurrency):
        here = os.path.dirname(os.path.abspath(__file__))
        self.log = open(f"/tmp/celery_bench_worker_{os.getpid()}.log", "w")
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "celery_bench", "worker",
                "-P", pool, "-c", str(concurrency), "-Q", QUEUE,
                "--prefetch-multiplier", str(PREFETCH_MULTIPLIER),
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "-l", "WARNING",
            ],
            cwd=here,
            env=dict(os.environ, CELERY_BENCH_URL=URL),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def check(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {self.proc.returncode}")

    def peak_rss_mb(self):
        """Sum of VmHWM over the worker and its pool processes (prefork children share
        copy-on-write pages, so the sum over-counts them somewhat)."""
        return sum(vm_hwm_mb(p) for p in descendants(self.proc.pid))

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.log.close()


def check_values(values, start):
    for i, v in enumerate(values):
        if v != start + i:
            raise RuntimeError(f"task {start + i} returned {v!r}")


def scenario_enqueue(a):
    started = time.perf_counter()
    for i in range(a.n):
        noop.apply_async((i,), queue="cmp-celery-enqueue", ignore_result=True)
    print(f"tasks_per_s: {a.n / (time.perf_counter() - started):.1f}")


def scenario_enqueue_batch(a):
    # Celery has no batch publish; its docs ("Calling Tasks", "Connections") teach sending
    # many tasks through one acquired producer.
    started = time.perf_counter()
    with app.producer_or_acquire() as producer:
        for i in range(a.n):
            noop.apply_async((i,), queue="cmp-celery-enqueue", ignore_result=True,
                             producer=producer)
    print(f"tasks_per_s: {a.n / (time.perf_counter() - started):.1f}")


def scenario_process(a):
    results = [noop.delay(i) for i in range(a.n)]
    worker = WorkerProcess(a.pool, a.concurrency)
    try:
        first = results[0].get(timeout=a.timeout)
        t0 = time.perf_counter()
        check_values([first], 0)
        rest = ResultSet(results[1:]).join_native(timeout=a.timeout)
        t1 = time.perf_counter()
        check_values(rest, 1)
        worker.check()
        print(f"tasks_per_s: {(a.n - 1) / (t1 - t0):.1f}")
        print(f"worker_peak_rss_mb: {worker.peak_rss_mb():.1f}")
    finally:
        worker.stop()


def scenario_e2e(a):
    worker = WorkerProcess(a.pool, a.concurrency)
    try:
        noop.delay(7).get(timeout=a.timeout)
        started = time.perf_counter()
        results = [noop.delay(i) for i in range(a.n)]
        values = ResultSet(results).join_native(timeout=a.timeout)
        elapsed = time.perf_counter() - started
        check_values(values, 0)
        print(f"tasks_per_s: {a.n / elapsed:.1f}")
    finally:
        worker.stop()


def scenario_latency(a):
    worker = WorkerProcess(a.pool, a.concurrency)
    try:
        stamp.delay(time.time_ns()).get(timeout=a.timeout)
        samples = []
        for _ in range(a.samples):
            samples.append(stamp.delay(time.time_ns()).get(timeout=a.timeout))
            time.sleep(0.002)
        samples.sort()

        def at(p):
            return samples[min(len(samples) - 1, round((len(samples) - 1) * p))] / 1000.0

        print(f"p50_us: {at(0.50):.1f}")
        print(f"p99_us: {at(0.99):.1f}")
    finally:
        worker.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scenario", choices=["enqueue", "enqueue_batch", "process", "e2e", "latency"])
    p.add_argument("--pool", default="prefork")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--timeout", type=float, default=600)
    a = p.parse_args()
    import celery, kombu, redis

    print(f"celery_version: {celery.__version__}")
    print(f"kombu_version: {kombu.__version__}")
    print(f"redis_py_version: {redis.__version__}")
    print(f"python_version: {sys.version.split()[0]}")
    try:
        {"enqueue": scenario_enqueue, "enqueue_batch": scenario_enqueue_batch,
         "process": scenario_process,
         "e2e": scenario_e2e, "latency": scenario_latency}[a.scenario](a)
    except Exception as e:  # reported, never hidden
        kind = "timeout" if "timed out" in str(e).lower() or "Timeout" in type(e).__name__ else "failed"
        print(f"error: {kind}: {type(e).__name__}: {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()
