#!/usr/bin/env bash
# Redis pub/sub and Scuttleboard side by side, in one run, on one topology:
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
# CPU-second for both, and their ratio; the reports go to .build/bench-fanout/.
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

echo "Scuttleboard: 4 rooms × 7 light peers drawing at $rate/s, plus a full-replica viewer each, ${seconds}s…" >&2
port="$(free_port)"
metrics="$(free_port)"
$server_core "$bin" serve --port "$port" --db "$scratch/rooms.sqlite" --rate-limit 1000000 --http-port "$metrics" \
    > "$scratch/serve.log" 2>&1 &
server_pid=$!
pids+=("$server_pid")
for _ in $(seq 100); do grep -q "serving on" "$scratch/serve.log" && break || sleep 0.1; done
status=0
$load_core "$bin" swarm --server "127.0.0.1:$port" --metrics "http://127.0.0.1:$metrics/metrics" \
    --server-pid "$server_pid" --bots 32 --rooms 4 --receivers light --behaviors lurker --rate "$rate" \
    --duration "${seconds}s" --json > "$out/scuttleboard.json" 2> "$scratch/swarm.log" || status=$?
kill -INT "$server_pid"
wait "$server_pid" 2> /dev/null || true
[ "$status" = 0 ] || echo "the swarm exited $status (2: a room diverged, 3: still catching up)" >&2

python3 - "$out/redis.json" "$out/scuttleboard.json" << 'EOF'
import json, sys
redis, ours = (json.load(open(path)) for path in sys.argv[1:3])
def row(name, report):
    delivered = report["delivered"]
    cpu = report.get("serverCPUSeconds") or 0
    per_cpu = delivered / cpu if cpu > 0 else float("nan")
    print(f"{name:<13} {report['throughput']:>12,.0f} {report['latency']['p99']:>8} ms {per_cpu:>16,.0f} {cpu:>8.1f} s")
    return per_cpu
print(f"{'':<13} {'delivered/s':>12} {'p99':>11} {'per server CPU-s':>16} {'CPU':>10}")
theirs = row("Redis pub/sub", redis)
mine = row("Scuttleboard", ours)
print(f"Scuttleboard delivers {mine / theirs:.2f}× Redis's updates per server CPU-second "
      f"(budget ≥ 1.0×); every room converged: {all(v['outcome'] == 'converged' for v in ours['convergence'])}")
EOF
exit "$status"
