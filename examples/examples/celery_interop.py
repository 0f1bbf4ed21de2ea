"""The Python half of the `celery_interop` example: a Celery app sharing Redis with Rust.

    # a Python worker for the Python task (queue "py"):
    cd examples/examples && ../../.venv/bin/celery -A celery_interop worker -Q py --pool=solo
    # the Rust worker for tasks.add (queue "rs") and a Rust client:
    cargo run -p taskq-examples --example celery_interop
    # Python calling Rust, and a chain through both:
    cd examples/examples && ../../.venv/bin/python celery_interop.py
"""
import os

from celery import Celery, chain

URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
app = Celery("celery_interop", broker=URL, backend=URL)


@app.task(name="tasks.mul")
def mul(a, b):
    return a * b


if __name__ == "__main__":
    # tasks.add exists only in Rust: call it by name.
    add = app.signature("tasks.add", queue="rs")
    print("Rust add(2, 3) =", add.clone(args=(2, 3)).delay().get(timeout=10))
    print("Rust add(a=2, b=40) =", add.clone(kwargs={"a": 2, "b": 40}).delay().get(timeout=10))
    flow = chain(add.clone(args=(1, 2)), mul.s(10).set(queue="py"), add.clone(args=(5,)))
    print("chain add(1, 2) | mul(10) | add(5) =", flow.apply_async().get(timeout=10))
