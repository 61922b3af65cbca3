#!/usr/bin/env bash
# LOCK+RELEASE pairs per second and LOCK latency on a 3-member loopback
# cluster beside a single member, at 1 and 50 concurrent clients, printed
# side by side; then 50 clients contending for one key through the 3
# members (all must make progress). Everything runs on this machine.
# Usage: bench/cluster_compare.sh build/lockerd build/bench/lock_load
set -euo pipefail
LOCKERD="${1:?usage: $0 path/to/lockerd path/to/lock_load}"
LOAD="${2:?usage: $0 path/to/lockerd path/to/lock_load}"
SECONDS_EACH="${SECONDS_EACH:-3}"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_field() {  # port field value
  for _ in $(seq 200); do
    [ "$(redis-cli -p "$1" info cluster 2>/dev/null | tr -d '\r' | grep "^$2:" | cut -d: -f2)" = "$3" ] && return 0
    sleep 0.05
  done
  return 1
}

single=$(free_port)
mkdir -p "$work/single"
"$LOCKERD" --port "$single" --dir "$work/single" --loglevel warning 2>>"$work/log" &
pids+=($!)
ports=($(free_port) $(free_port) $(free_port))
list="127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
for port in "${ports[@]}"; do
  mkdir -p "$work/$port"
  "$LOCKERD" --port "$port" --dir "$work/$port" --cluster "$list" --cluster-secret bench \
    --loglevel warning 2>>"$work/log" &
  pids+=($!)
done
wait_field "$single" cluster_reachable_members 1
for port in "${ports[@]}"; do wait_field "$port" cluster_reachable_members 3; done

printf '%-34s %-70s\n' "load" "result"
for clients in 1 50; do
  printf '%-34s %s\n' "single member, $clients client(s)" \
    "$("$LOAD" --port "$single" --clients "$clients" --seconds "$SECONDS_EACH")"
  printf '%-34s %s\n' "3 members, $clients client(s)" \
    "$("$LOAD" --port "${ports[0]}" --port "${ports[1]}" --port "${ports[2]}" --clients "$clients" --seconds "$SECONDS_EACH")"
done
printf '%-34s %s\n' "3 members, 50 clients, one key" \
  "$("$LOAD" --port "${ports[0]}" --port "${ports[1]}" --port "${ports[2]}" --clients 50 --hot --seconds "$SECONDS_EACH")"
