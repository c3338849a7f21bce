#!/usr/bin/env bash
# Starts or stops a private ClickHouse server for candor's tests and local
# development. The server listens on 127.0.0.1 only, on HTTP port PORT and
# native TCP port PORT+1, and keeps its config, data and logs under DIR.
#
#   scripts/clickhouse.sh start DIR PORT   # start in the background, wait for /ping
#   scripts/clickhouse.sh stop DIR [PORT]  # stop the server that start left in DIR
#
# It needs clickhouse-server (Debian: apt-get install clickhouse-server). The
# server runs as the user who runs this script, root included: it only
# refuses to start when its data folder belongs to another user, and this
# script creates DIR itself and checks that owner before starting.
set -euo pipefail

usage() {
  echo "usage: $0 start DIR PORT | stop DIR [PORT]" >&2
  exit 2
}

# find_server prints the command that runs the server: clickhouse-server
# (Debian's package and older releases) or "clickhouse server" (the single
# binary of current releases).
find_server() {
  local candidate
  for candidate in clickhouse-server /usr/sbin/clickhouse-server /usr/bin/clickhouse-server; do
    if command -v "$candidate" >/dev/null 2>&1; then
      command -v "$candidate"
      return
    fi
  done
  if command -v clickhouse >/dev/null 2>&1; then
    echo "$(command -v clickhouse) server"
    return
  fi
  echo "clickhouse-server not found: install it (apt-get install clickhouse-server)" >&2
  exit 1
}

# ping_server succeeds when the server responds 200 OK to GET /ping on port
# $1. It uses curl when the machine has it and bash's /dev/tcp otherwise.
ping_server() {
  local port=$1
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 1 "http://127.0.0.1:$port/ping" >/dev/null 2>&1
    return
  fi
  local reply
  reply=$(timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET /ping HTTP/1.0\r\n\r\n' >&3 && cat <&3" 2>/dev/null) || return 1
  [[ $reply == "HTTP/1."?" 200"* ]]
}

write_config() {
  local dir=$1 port=$2
  cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$dir/log/clickhouse-server.log</log>
        <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$port</http_port>
    <tcp_port>$((port + 1))</tcp_port>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
XML
  cat >"$dir/users.xml" <<'XML'
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
XML
}

start() {
  local dir=$1 port=$2
  [[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65535)) || {
    echo "invalid PORT $port: use a free port between 1 and 65534 (PORT+1 is used too)" >&2
    exit 2
  }
  local server
  server=$(find_server)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)

  if [[ -f $dir/clickhouse.pid ]] && kill -0 "$(cat "$dir/clickhouse.pid")" 2>/dev/null; then
    echo "clickhouse-server already running in $dir (pid $(cat "$dir/clickhouse.pid"))" >&2
    exit 1
  fi
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log"
  # Current releases refuse to start when the data folder's owner is not
  # the user the server runs as, which happens with a DIR made by another user.
  if [[ $(stat -c %u "$dir/data") != $(id -u) ]]; then
    echo "$dir/data belongs to uid $(stat -c %u "$dir/data"), not to $(id -un): use another DIR or chown -R $(id -un) $dir" >&2
    exit 1
  fi
  if ping_server "$port"; then
    echo "port $port already responds to /ping: stop that server or choose another PORT" >&2
    exit 1
  fi
  write_config "$dir" "$port"

  # The server runs in the foreground of a background job, so its pid is the
  # one recorded here, and its stdout and stderr go to the log folder.
  # $server is unquoted on purpose: it may be "clickhouse server".
  # shellcheck disable=SC2086
  (cd "$dir" && exec $server --config-file="$dir/config.xml" \
    >>"$dir/log/stdout.log" 2>>"$dir/log/stderr.log" </dev/null) &
  local pid=$!
  echo "$pid" >"$dir/clickhouse.pid"

  local deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    if ping_server "$port" && kill -0 "$pid" 2>/dev/null; then
      echo "clickhouse-server $pid listening on http://127.0.0.1:$port"
      return
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "clickhouse-server exited during startup; last lines of its logs:" >&2
      tail -n 20 "$dir/log/stderr.log" "$dir/log/clickhouse-server.err.log" >&2 2>/dev/null || true
      rm -f "$dir/clickhouse.pid"
      exit 1
    fi
    sleep 0.1
  done
  echo "clickhouse-server $pid did not respond to http://127.0.0.1:$port/ping within 30 s; stopping it" >&2
  stop "$dir"
  exit 1
}

stop() {
  local dir=$1
  [[ -d $dir ]] && dir=$(cd "$dir" && pwd)
  local pidfile=$dir/clickhouse.pid
  if [[ ! -f $pidfile ]]; then
    echo "no clickhouse.pid in $dir: nothing to stop" >&2
    return
  fi
  local pid
  pid=$(cat "$pidfile")
  # A pid from a server that died long ago may belong to another process now.
  if ! ps -p "$pid" -o args= 2>/dev/null | grep -q -- "--config-file=$dir/config.xml"; then
    echo "clickhouse-server $pid of $dir is not running" >&2
    rm -f "$pidfile"
    return
  fi
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "clickhouse-server $pid still running after 10 s; sending SIGKILL" >&2
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

case ${1:-} in
  start) [[ $# -eq 3 ]] || usage; start "$2" "$3" ;;
  stop) [[ $# -ge 2 ]] || usage; stop "$2" ;;
  *) usage ;;
esac
