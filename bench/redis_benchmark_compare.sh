#!/usr/bin/env bash
# Runs the same redis-benchmark loads against lockerd and redis-server, one
# after the other on this machine, and prints ops/s and the ratio for each.
# Usage: bench/redis_benchmark_compare.sh path/to/lockerd
set -euo pipefail
LOCKERD="${1:?usage: $0 path/to/lockerd}"
REQUESTS="${REQUESTS:-200000}"
CLIENTS="${CLIENTS:-50}"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_ready() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }

lockerd_port=$(free_port)
"$LOCKERD" --port "$lockerd_port" --dir "$work" --loglevel warning 2>"$work/lockerd.log" &
pids+=($!)
redis_port=$(free_port)
redis-server --port "$redis_port" --save '' --appendonly no --dir "$work" --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
wait_ready "$lockerd_port"
wait_ready "$redis_port"

# Prints the requests per second of one redis-benchmark run (-q -t test).
rps() {
  local port=$1; shift
  redis-benchmark -p "$port" -n "$REQUESTS" -c "$CLIENTS" -q "$@" 2>/dev/null |
    grep -oE '[0-9.]+ requests per second' | head -1 | cut -d' ' -f1
}

printf '%-44s %12s %12s %7s\n' "load (-n $REQUESTS -c $CLIENTS)" "lockerd/s" "redis/s" "ratio"
compare() {
  local label=$1 lockerd_args=$2 redis_args=$3
  # shellcheck disable=SC2086
  local ours theirs
  ours=$(rps "$lockerd_port" $lockerd_args)
  theirs=$(rps "$redis_port" $redis_args)
  printf '%-44s %12s %12s %7s\n' "$label" "$ours" "$theirs" \
    "$(python3 -c "print(f'{$ours/$theirs:.2f}x')")"
}
compare "PING P=16 (-t ping)" "-P 16 -t ping_mbulk" "-P 16 -t ping_mbulk"
compare "PING inline P=16" "-P 16 -t ping_inline" "-P 16 -t ping_inline"
compare "LOCK vs SET NX PX, P=1, -r 100000" \
  "-r 100000 -P 1 LOCK key:__rand_int__ owner 5000" \
  "-r 100000 -P 1 SET key:__rand_int__ owner NX PX 5000"
compare "LOCK vs SET NX PX, P=16, -r 100000" \
  "-r 100000 -P 16 LOCK key:__rand_int__ owner 5000" \
  "-r 100000 -P 16 SET key:__rand_int__ owner NX PX 5000"
