#!/usr/bin/env bash
# The failover budget, scripted: three nodes on one PostgreSQL database, a
# swarm spread over them, and kill -9 of the node holding the busiest room
# mid-run. Prints when the room was live again on another node (budget:
# 5 s after the kill) and when every bot was live again (budget: 10 s), and
# the swarm's verdict (every room must converge).
#
#   Scripts/failover.sh [bots] [seconds]      (defaults: 24 bots, 30 s)
#
# Uses the newer of .build/release/scuttleboard and .build/debug/scuttleboard. Starts PostgreSQL with Scripts/postgres.sh
# and works in a database of its own, dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bots="${1:-24}"
seconds="${2:-30}"
# The newer of the release and debug builds.
binary=""
for candidate in .build/release/scuttleboard .build/debug/scuttleboard; do
    [ -x "$candidate" ] || continue
    if [ -z "$binary" ] || [ "$candidate" -nt "$binary" ]; then binary=$candidate; fi
done
[ -n "$binary" ] || { echo "failover.sh: build first (swift build)" >&2; exit 1; }

server=$(Scripts/postgres.sh start)
database="scuttleboard_failover_$$"
psql "$server" -qc "CREATE DATABASE $database"
store="${server%/*}/$database"
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2> /dev/null || true; done
    wait 2> /dev/null || true
    psql "$server" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" || true
    rm -rf "$work"
}
trap cleanup EXIT

base=$((20000 + RANDOM % 20000))
for index in 0 1 2; do
    port=$((base + index))
    "$binary" serve --node "node-$index" --port "$port" --store "$store" --log-level notice \
        > "$work/node-$index.log" 2>&1 &
    pids+=($!)
    disown "$!"
done
servers="127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))"
for index in 0 1 2; do
    until grep -q "serving on" "$work/node-$index.log"; do
        if ! kill -0 "${pids[$index]}" 2> /dev/null; then
            echo "failover.sh: node-$index did not start:" >&2
            cat "$work/node-$index.log" >&2
            exit 1
        fi
        sleep 0.1
    done
done
echo "failover: 3 nodes on $store; swarm of $bots bots over them for $seconds s"

"$binary" swarm --server "$servers" --bots "$bots" --rooms 4 --duration "$seconds" --settle 30 \
    > "$work/swarm.out" 2> "$work/swarm.err" &
swarm=$!
pids+=($swarm)
sleep $((seconds / 3))
holder=$(psql "$store" -tAc "SELECT node FROM leases WHERE room = 'swarm-0'")
epoch=$(psql "$store" -tAc "SELECT epoch FROM leases WHERE room = 'swarm-0'")
victim=${holder#node-}
killed_at=$(date +%s.%N)
kill -9 "${pids[$victim]}"
echo "failover: killed $holder (holding swarm-0 at epoch $epoch)"
while true; do
    now=$(date +%s.%N)
    moved=$(psql "$store" -tAc "SELECT node FROM leases WHERE room = 'swarm-0' AND epoch > $epoch AND expires_at > clock_timestamp()")
    if [ -n "$moved" ]; then
        echo "failover: swarm-0 live again on $moved $(echo "$now - $killed_at" | bc) s after the kill (budget 5 s)"
        break
    fi
    if [ "$(echo "$now - $killed_at > 15" | bc)" = 1 ]; then echo "failover: swarm-0 never moved"; exit 1; fi
    sleep 0.05
done
# The swarm's progress lines (one a second) say how many bots are live.
kill_second=$(grep -c '^t=' "$work/swarm.err" || true)
status=0
wait "$swarm" || status=$?
back=$(awk -v after="$kill_second" -v all="$bots" '
    /^t=/ { n++; if (n > after && index($0, "live " all "/" all)) { print n - after; exit } }' "$work/swarm.err")
echo "failover: every bot live again within ${back:-?} s of the kill (progress lines are 1 s apart; budget 10 s)"
cat "$work/swarm.out"
"$binary" nodes --store "$store"
exit "$status"
