"""Python side of the taskq-celery tests: a Celery app on the broker in CELERY_BROKER_URL.

Tasks named `tasks.*` here run on Python workers; the tests' Rust workers serve others
(`tasks.add`, `tasks.describe`, `tasks.fail`, ...) by name only.
"""
import os
import time

import redis
from celery import Celery

URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
VT = float(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600"))

app = Celery("celery_tasks", broker=URL, backend=URL)
app.conf.update(
    broker_transport_options={"visibility_timeout": VT, "unacked_restore_interval": 1,
                              "unacked_restore_throttle": 1},
    # The tests take one message at a time; the benchmark passes Celery's default, 4.
    worker_prefetch_multiplier=int(os.environ.get("CELERY_PREFETCH", "1")),
    task_acks_late=False,
    broker_connection_retry_on_startup=True,
    result_expires=86400,
)


@app.task(name="tasks.mul")
def mul(a, b):
    return a * b


@app.task(name="tasks.concat")
def concat(words, sep=" "):
    return sep.join(words)


@app.task(name="tasks.py_fail")
def py_fail(message):
    raise ValueError(message)


@app.task(name="tasks.record")
def record(n):
    redis.Redis.from_url(URL).rpush("done", f"py:{n}")
    return n


@app.task(name="tasks.noop")
def noop(n):
    return n


@app.task(name="tasks.slow_square")
def slow_square(x):
    return x * x
