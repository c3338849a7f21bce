#!/usr/bin/env bash
# Runs candor's whole test suite with the race detector: the SDK module, the
# collector module and the benchmark module's tests. It first installs what
# the tests need and this machine lacks: Debian's Chromium for the browser
# tests and Debian's ClickHouse for the ClickHouse store. So it works on a
# fresh machine, but installing needs root and apt-get. It starts a private ClickHouse
# server on 127.0.0.1:18123 for the run and stops it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v clickhouse-server >/dev/null 2>&1 || need_apt+=(clickhouse-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "missing ${need_apt[*]}: install them (apt-get install ${need_apt[*]}) or the browser tests skip" >&2
  fi
fi

# posthog-node, at the version its package-lock.json pins, for the collector's
# conformance test; the test skips without node and fails without the package.
if command -v npm >/dev/null 2>&1; then
  echo "installing posthog-node for internal/server's conformance test"
  (cd internal/server/testdata/posthog-node && npm ci --no-audit --no-fund --loglevel=error)
  # TypeScript, for the tests that compile the generated declarations and
  # the browser client's client.d.ts; they skip without it.
  echo "installing TypeScript for the declaration tests of sdk/catalog and sdk/webtelemetry"
  (cd sdk/catalog/testdata/typescript && npm ci --no-audit --no-fund --loglevel=error)
fi

if command -v clickhouse-server >/dev/null 2>&1; then
  clickhouse_dir=$(mktemp -d)
  trap 'scripts/clickhouse.sh stop "$clickhouse_dir"; rm -rf "$clickhouse_dir"' EXIT
  scripts/clickhouse.sh start "$clickhouse_dir" 18123
  export CANDOR_CLICKHOUSE_URL=http://127.0.0.1:18123
fi

export CANDOR_SCREENSHOTS="${CANDOR_SCREENSHOTS:-$PWD/screenshots}"
mkdir -p "$CANDOR_SCREENSHOTS"

status=0
for module in sdk . bench; do
  [ -f "$module/go.mod" ] || continue
  echo "== go test -race ./... in $module"
  (cd "$module" && go vet ./... && go test -race -count=1 -timeout 20m ./...) || status=1
done

# The ClickHouse store's tests once more, against a current ClickHouse
# engine: chDB 3.4.0 from npm (ClickHouse 26.7.2.1 as a library), at the
# versions scripts/chdb/package-lock.json pins, behind
# scripts/chdb_http.cjs, a test shim for ClickHouse's HTTP interface on
# 127.0.0.1:18125. On a 2-core machine the install took about 10 s and
# 550 MB in a temporary folder, and the tests 15 to 30 s.
if command -v npm >/dev/null 2>&1; then
  echo "== go test -race ./internal/store/clickhouse/ against chDB"
  (
    chdb_dir=$(mktemp -d)
    shim_pid=
    trap '[ -n "$shim_pid" ] && kill "$shim_pid" 2>/dev/null; wait; rm -rf "$chdb_dir"' EXIT
    # Commands in this subshell check their own errors, because bash
    # ignores set -e inside a command that is followed by ||.
    cp scripts/chdb/package.json scripts/chdb/package-lock.json "$chdb_dir/"
    # npm install, not npm ci: chdb lists optional engine packages for other
    # platforms that the registry does not serve, so npm ci rejects any lock
    # file. npm install still takes the versions the lock file names.
    if ! (cd "$chdb_dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null); then
      echo "npm install in a copy of scripts/chdb failed" >&2
      exit 1
    fi
    NODE_PATH="$chdb_dir/node_modules" node scripts/chdb_http.cjs 18125 "$chdb_dir/data" >"$chdb_dir/shim.log" 2>&1 &
    shim_pid=$!
    for _ in $(seq 1 300); do
      grep -q 'listening on' "$chdb_dir/shim.log" && break
      kill -0 "$shim_pid" 2>/dev/null || break
      sleep 0.1
    done
    if ! grep -q 'listening on' "$chdb_dir/shim.log"; then
      echo "scripts/chdb_http.cjs did not listen on 127.0.0.1:18125 within 30 s or exited; its log:" >&2
      cat "$chdb_dir/shim.log" >&2
      exit 1
    fi
    head -n 1 "$chdb_dir/shim.log"
    # chDB runs queries in the test's process and keeps no system.query_log,
    # so the tests that read it skip.
    if ! CANDOR_CLICKHOUSE_URL=http://127.0.0.1:18125 CANDOR_CLICKHOUSE_NO_QUERY_LOG=1 go test -race -count=1 -timeout 10m ./internal/store/clickhouse/; then
      echo "last lines of the shim's log:" >&2
      tail -n 20 "$chdb_dir/shim.log" >&2
      exit 1
    fi
  ) || status=1
else
  echo "npm not found: skipping the ClickHouse store's tests against chDB" >&2
fi

# Each fuzz target runs for CANDOR_FUZZTIME (10s by default) on top of its
# seed corpus in testdata/fuzz, which the tests above already ran. An input
# that fails is written to that folder and fails the run.
fuzztime="${CANDOR_FUZZTIME:-10s}"
for module in sdk . bench; do
  [ -f "$module/go.mod" ] || continue
  for dir in $(cd "$module" && grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r -n1 dirname | sort -u); do
    case "$dir" in ./sdk/* | ./bench/*) [ "$module" = . ] && continue ;; esac
    for target in $(cd "$module" && go test -list '^Fuzz' "$dir" | grep '^Fuzz'); do
      echo "== go test -fuzz $target -fuzztime $fuzztime $dir in $module"
      # Minimizing a new interesting input may outlast -fuzztime and end in
      # "context deadline exceeded" with no failing input; a short
      # -fuzzminimizetime keeps that rare. Go 1.26's fuzz coordinator also
      # reports that error now and then when -fuzztime ends while a worker
      # is busy. A failure that saved no input in testdata/fuzz gets one
      # more run.
      if ! (cd "$module" && go test -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" -fuzzminimizetime 2s "$dir"); then
        if [ -n "$(cd "$module" && git status --porcelain -- "$dir/testdata/fuzz")" ]; then
          status=1
        else
          echo "== again: $target stopped without saving a failing input"
          (cd "$module" && go test -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" -fuzzminimizetime 2s "$dir") || status=1
        fi
      fi
    done
  done
done
exit $status
