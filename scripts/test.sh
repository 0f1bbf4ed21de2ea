#!/usr/bin/env bash
# Sets up what the test suite needs on a fresh Debian machine, then runs the whole suite.
#
#   ./scripts/test.sh            # everything
#   ./scripts/test.sh -p taskq   # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; exit 1; fi
}

# The Redis tests start their own private redis-server on a free port.
if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing redis-server (the Redis tests start private servers)..."
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi

# The taskq-web browser test drives Debian's headless Chromium through chromedriver.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "installing chromium and chromium-driver (the dashboard's browser test)..."
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# The taskq-celery tests run real Python Celery (pinned versions), and taskq-web's contract test
# runs schemathesis, from one virtual environment.
# Debian's own python3 when there is one: under the pyenv CPython 3.11.7 found first on PATH
# here, Hypothesis (which schemathesis runs on) fails about one run in three with CPython's
# "AST constructor recursion depth mismatch"; under Debian's 3.11.2 it does not.
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
reqs=(taskq-celery/python/requirements.txt taskq-web/tests/requirements.txt)
stamp="$py $(cat "${reqs[@]}")"
if [ "$stamp" != "$(cat .venv/.taskq-requirements 2>/dev/null)" ]; then
  if ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "installing python3-venv (the Celery tests create a virtual environment)..."
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
  fi
  echo "installing the pinned Celery and schemathesis into .venv..."
  rm -rf .venv
  "$py" -m venv .venv
  for r in "${reqs[@]}"; do .venv/bin/pip install -q --disable-pip-version-check -r "$r"; done
  printf '%s' "$stamp" > .venv/.taskq-requirements
fi

cargo test --workspace --all-targets --no-fail-fast "$@"
cargo test --workspace --doc "$@"
if [ $# -eq 0 ]; then
  # Link-time registration through `linkme` instead of `inventory`: the registry, duplicate-name,
  # worker, workflow and hook tests again, with taskq built with its feature `linkme`.
  cargo test -p taskq-tests --features linkme --no-fail-fast --test link_registration \
    --test duplicate_names --test worker_memory --test workflow_memory --test hooks_memory
fi
