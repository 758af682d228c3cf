#!/usr/bin/env bash
# Redis pub/sub and Scuttleboard (over TCP, then over WebSocket) side by side,
# in one run, on one topology:
# 4 rooms (channels), 28 publishers (7 a room), and every message reaching 7
# receivers that decode, count and stamp it (the swarm's light peers; on
# Scuttleboard one room member of the 8 is a full-replica viewer, the sample
# convergence is checked on). Each server is pinned to core 0 and its load
# to core 1 (when there are two cores), and its CPU is read from /proc.
#   Scripts/bench-fanout.sh [rate] [seconds]
#     rate:    messages per second each publisher sends (default 100)
#     seconds: how long each side runs (default 20)
# Installs redis-server from Debian's packages if it is missing (as root, or
# through sudo). Prints delivered/s, p99 and delivered per server
# CPU-second for each, Scuttleboard's ratio to Redis and WebSocket's server
# CPU per delivered update against TCP's; the reports go to .build/bench-fanout/.
set -euo pipefail
rate="${1:-100}"
seconds="${2:-20}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out="$root/.build/bench-fanout"
mkdir -p "$out"

if ! command -v redis-server > /dev/null; then
    echo "installing redis-server from Debian's packages…" >&2
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server > /dev/null ||
        { $sudo apt-get update > /dev/null && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server > /dev/null; }
fi

echo "building scuttleboard (release)…" >&2
swift build -c release --product scuttleboard 2>&1 | tail -1 >&2
bin="$root/.build/release/scuttleboard"

server_core="" load_core=""
if [ "$(nproc)" -ge 2 ] && command -v taskset > /dev/null; then
    server_core="taskset -c 0"
    load_core="taskset -c 1"
fi

pids=()
scratch="$(mktemp -d)"
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
    rm -rf "$scratch"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "Redis pub/sub: 4 channels × 7 publishers at $rate/s, 7 subscribers each, ${seconds}s…" >&2
redis_port="$(free_port)"
$server_core redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --daemonize no \
    > "$scratch/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 50); do redis-cli -p "$redis_port" ping > /dev/null 2>&1 && break || sleep 0.1; done
$load_core "$bin" redis-baseline --redis "127.0.0.1:$redis_port" --redis-pid "$redis_pid" \
    --channels 4 --publishers 7 --subscribers 7 --rate "$rate" --duration "$seconds" --json > "$out/redis.json"
kill "$redis_pid"
wait "$redis_pid" 2> /dev/null || true

# Scuttleboard, once with the light peers on the protocol's TCP port and once
# over WebSocket (GET /ws on the HTTP port); the full-replica viewers stay on
# TCP both times.
status=0
run_scuttleboard() {
    local name="$1"
    echo "Scuttleboard ($name): 4 rooms × 7 light peers drawing at $rate/s, plus a full-replica viewer each, ${seconds}s…" >&2
    local port http
    port="$(free_port)"
    http="$(free_port)"
    rm -f "$scratch/rooms.sqlite"*
    $server_core "$bin" serve --port "$port" --db "$scratch/rooms.sqlite" --rate-limit 1000000 --http-port "$http" \
        > "$scratch/serve-$name.log" 2>&1 &
    local server_pid=$!
    pids+=("$server_pid")
    for _ in $(seq 100); do grep -q "serving on" "$scratch/serve-$name.log" && break || sleep 0.1; done
    local websocket=()
    [ "$name" = websocket ] && websocket=(--websocket-port "$http")
    $load_core "$bin" swarm --server "127.0.0.1:$port" "${websocket[@]}" --metrics "http://127.0.0.1:$http/metrics" \
        --server-pid "$server_pid" --bots 32 --rooms 4 --receivers light --behaviors lurker --rate "$rate" \
        --duration "${seconds}s" --json > "$out/scuttleboard-$name.json" 2> "$scratch/swarm-$name.log" || status=$?
    kill -INT "$server_pid"
    wait "$server_pid" 2> /dev/null || true
    [ "$status" = 0 ] || echo "the swarm exited $status (2: a room diverged, 3: still catching up)" >&2
}
run_scuttleboard tcp
run_scuttleboard websocket

python3 - "$out/redis.json" "$out/scuttleboard-tcp.json" "$out/scuttleboard-websocket.json" << 'EOF'
import json, sys
redis, tcp, websocket = (json.load(open(path)) for path in sys.argv[1:4])
def row(name, report):
    delivered = report["delivered"]
    cpu = report.get("serverCPUSeconds") or 0
    per_cpu = delivered / cpu if cpu > 0 else float("nan")
    print(f"{name:<24} {report['throughput']:>12,.0f} {report['latency']['p99']:>8} ms {per_cpu:>16,.0f} "
          f"{1e6 / per_cpu:>10.1f} µs {cpu:>8.1f} s")
    return per_cpu
print(f"{'':<24} {'delivered/s':>12} {'p99':>11} {'per server CPU-s':>16} {'CPU/update':>13} {'CPU':>10}")
theirs = row("Redis pub/sub", redis)
mine = row("Scuttleboard, TCP", tcp)
web = row("Scuttleboard, WebSocket", websocket)
converged = all(v["outcome"] == "converged" for report in (tcp, websocket) for v in report["convergence"])
print(f"Scuttleboard delivers {mine / theirs:.2f}× Redis's updates per server CPU-second (budget ≥ 1.0×)")
print(f"WebSocket costs {mine / web:.2f}× TCP's server CPU per delivered update (budget ≤ 1.5×); "
      f"every room converged: {converged}")
EOF
exit "$status"
