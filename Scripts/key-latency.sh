#!/usr/bin/env bash
# Measures the demo as a person sees it, through tmux: key-to-screen and
# resize-to-screen times, and the client's memory, for a number of minutes.
#   Scripts/key-latency.sh [minutes] [--swarm] [-- extra demo arguments]
#     minutes:  how long to run (default 10)
#     --swarm:  run `scuttleboard swarm --in-process` beside the demo, as load
# The binary is .build/debug/scuttleboard unless SCUTTLEBOARD_BINARY names
# another (a release build, say). Once a second it types `c` (the next
# colour) and waits for the status bar to show it; once a minute it resizes
# the window and waits for the status bar to follow; every 10 s it reads the
# demo's resident memory. At the end it types q and checks that the terminal
# is given back. The client itself measures too (SCUTTLEBOARD_LATENCY_LOG):
# from reading each key to the end of drawing the frame that shows it, which
# leaves out tmux and this script (about 14 ms of the tmux figure on the
# 2-core development VM). Samples go to $TMPDIR/key-latency-<date>.txt.
set -euo pipefail
minutes=10
swarm=0
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
    --swarm) swarm=1 ;;
    --) shift; extra=("$@"); break ;;
    *[!0-9]* | "") echo "key-latency.sh: [minutes] [--swarm] [-- demo arguments]" >&2; exit 64 ;;
    *) minutes="$1" ;;
    esac
    shift
done
root="$(cd "$(dirname "$0")/.." && pwd)"
binary="${SCUTTLEBOARD_BINARY:-$root/.build/debug/scuttleboard}"
[ -x "$binary" ] || { echo "key-latency.sh: build first (swift build): no $binary" >&2; exit 1; }
command -v tmux >/dev/null || { echo "key-latency.sh: needs tmux" >&2; exit 1; }

socket="scuttleboard-latency-$$"
state=$(mktemp -d)
samples="${TMPDIR:-/tmp}/key-latency-$(date +%Y%m%d-%H%M%S).txt"
swarm_pid=""
cleanup() {
    tmux -L "$socket" kill-server 2>/dev/null || true
    [ -n "$swarm_pid" ] && kill "$swarm_pid" 2>/dev/null || true
    rm -rf "$state"
}
trap cleanup EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
status_bar() { tmux -L "$socket" capture-pane -p -t demo | grep "? help" | tail -1; }
colour() { status_bar | grep -o "■ [0-9]*"; }

tmux -L "$socket" -f /dev/null new-session -d -s demo -x 120 -y 40 -e TERM=xterm-256color \
    -e SCUTTLEBOARD_LATENCY_LOG="$state/client-latency" \
    "stty -g > $state/before; $binary demo ${extra[*]:-}; echo \"exit=\$?\" > $state/exit; stty -g > $state/after; sleep 600"
for _ in $(seq 1 300); do
    status_bar | grep -q "│ live" && break
    sleep 0.1
done
status_bar | grep -q "│ live" || { echo "key-latency.sh: the demo did not go live" >&2; exit 1; }
shell=$(tmux -L "$socket" display -p -t demo '#{pane_pid}')
parent=$(pgrep -P "$shell" | head -1)
client=$(pgrep -P "$parent" | head -1)
echo "demo live (client pid $client); measuring for $minutes min$([ "$swarm" = 1 ] && echo ', with a swarm beside it')"
if [ "$swarm" = 1 ]; then
    "$binary" swarm --in-process --bots 16 --rooms 2 --duration "$((minutes * 60 - 5))s" --pattern bursty \
        >"$state/swarm.txt" 2>&1 &
    swarm_pid=$!
fi

: >"$samples"
end=$(($(now_ms) + minutes * 60000))
next_resize=$(($(now_ms) + 60000))
next_memory=$(now_ms)
width=120
while [ "$(now_ms)" -lt "$end" ]; do
    before=$(colour)
    start=$(now_ms)
    tmux -L "$socket" send-keys -t demo c
    while [ "$(colour)" = "$before" ]; do
        [ $(($(now_ms) - start)) -gt 120000 ] && break
    done
    echo "key $(($(now_ms) - start))" >>"$samples"
    if [ "$(now_ms)" -ge "$next_resize" ]; then
        width=$((width == 120 ? 100 : 120))
        start=$(now_ms)
        tmux -L "$socket" resize-window -t demo -x "$width" -y 40
        until [ "$(status_bar | sed 's/ *$//' | wc -m)" -le $((width + 1)) ] && status_bar | grep -q "help"; do
            [ $(($(now_ms) - start)) -gt 120000 ] && break
        done
        echo "resize $(($(now_ms) - start))" >>"$samples"
        next_resize=$((next_resize + 60000))
    fi
    if [ "$(now_ms)" -ge "$next_memory" ]; then
        echo "rss $(($(now_ms) - end + minutes * 60000)) $(awk '/VmRSS/ {print $2}' /proc/"$client"/status)" >>"$samples"
        next_memory=$((next_memory + 10000))
    fi
    sleep "0.$((RANDOM % 5 + 5))"
done

start=$(now_ms)
tmux -L "$socket" send-keys -t demo q
for _ in $(seq 1 300); do
    [ -s "$state/exit" ] && break
    sleep 0.1
done
quit_ms=$(($(now_ms) - start))
sleep 0.5
modes=$(tmux -L "$socket" display -p -t demo '#{alternate_on}#{mouse_any_flag}#{cursor_flag}')

percentile() {
    grep . | sort -n | awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit } i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; print v[i] }'
}
keys=$(awk '$1 == "key" { print $2 }' "$samples")
resizes=$(awk '$1 == "resize" { print $2 }' "$samples")
rss=$(awk '$1 == "rss" { print $3 }' "$samples")
inside=$(awk '{ print int($1 / 1000) }' "$state/client-latency" 2>/dev/null || true)
echo "key-to-screen in the client, $(echo "$inside" | grep -c .) keys: p50 $(echo "$inside" | percentile 50) ms · p90 $(echo "$inside" | percentile 90) ms · p99 $(echo "$inside" | percentile 99) ms · max $(echo "$inside" | percentile 100) ms"
echo "key-to-screen through tmux, $(echo "$keys" | grep -c .) keys: p50 $(echo "$keys" | percentile 50) ms · p90 $(echo "$keys" | percentile 90) ms · p99 $(echo "$keys" | percentile 99) ms · max $(echo "$keys" | percentile 100) ms"
echo "resize-to-screen, $(echo "$resizes" | grep -c .) resizes: p50 $(echo "$resizes" | percentile 50) ms · max $(echo "$resizes" | percentile 100) ms"
echo "client RSS: first $(($(echo "$rss" | head -1) / 1024)) MB · last $(($(echo "$rss" | tail -1) / 1024)) MB · max $(($(echo "$rss" | sort -n | tail -1) / 1024)) MB"
echo "q to exit: ${quit_ms} ms, $(cat "$state/exit" 2>/dev/null || echo 'did not exit')"
if [ "$modes" = "001" ] && cmp -s "$state/before" "$state/after"; then
    echo "terminal restored: yes (stty -g equal; no alternate screen, no mouse reporting, cursor shown)"
else
    echo "terminal restored: NO (modes $modes)"
    exit 1
fi
if [ -n "$swarm_pid" ]; then
    wait "$swarm_pid" || true
    swarm_pid=""
    echo "the swarm beside it:"
    grep -E "^  (sent|delivered|latency)|converged|CONVERGE|CATCHING" "$state/swarm.txt" | sed 's/^/  /'
fi
echo "samples: $samples"
