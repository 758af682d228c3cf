#!/usr/bin/env bash
# Runs the test suite, a headless demo and an in-process swarm under a
# sanitizer, and fails on any report.
#   Scripts/sanitize.sh thread|address [seconds] [test filter]
#     seconds:     how long the demo and the swarm run (default 30)
#     test filter: a `swift test --filter` expression (default: every test);
#                  several separated by ";" run one after another
# Builds into .build-thread or .build-address. Reports are collected in
# .build-<sanitizer>/reports/, one file per process that reported.
set -euo pipefail
kind="${1:?usage: Scripts/sanitize.sh thread|address [seconds] [test filter]}"
seconds="${2:-30}"
filter="${3:-}"
case "$kind" in
thread | address) ;;
*)
    echo "sanitize.sh: the sanitizer is thread or address, not $kind" >&2
    exit 64
    ;;
esac
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scratch=".build-$kind"
reports="$root/$scratch/reports"
rm -rf "$reports"
mkdir -p "$reports"

# Every process of ours (tests, the clients they start, the demo) writes
# its reports to a file of its own; nothing stops at the first report.
export TSAN_OPTIONS="log_path=$reports/tsan halt_on_error=0 second_deadlock_stack=1"
# Leak checking is off: the Swift runtime's metadata caches and the
# cooperative pool's threads are alive at exit by design.
export ASAN_OPTIONS="log_path=$reports/asan detect_leaks=0 halt_on_error=0"
# Tests that need crash signals of their own skip themselves: the
# sanitizer's runtime handles those signals.
export SCUTTLEBOARD_SANITIZER="$kind"

echo "[${SECONDS} s] == build (--sanitize=$kind, into $scratch)"
swift build --build-tests --sanitize="$kind" --scratch-path "$scratch" 2>&1 |
    grep -v "Cannot export local symbol" | grep -E "error|warning:|Compiling|Build complete" | grep -v Compiling || true

# Filters separated by ";" run as passes of their own, one after another:
# suites that start processes or databases would starve the timing of the
# others if they all ran at once under the sanitizer.
test_status=0
pass=0
IFS=';' read -r -a passes <<< "${filter:-}"
[ "${#passes[@]}" -gt 0 ] || passes=("")
for part in "${passes[@]}"; do
    pass=$((pass + 1))
    echo "[${SECONDS} s] == swift test under the $kind sanitizer${part:+ (filter: $part)}"
    swift test --skip-build --sanitize="$kind" --scratch-path "$scratch" ${part:+--filter "$part"} \
        >"$reports/test-output-$pass.txt" 2>&1 || test_status=$?
    grep -E "^(✔|✘) Test run with" "$reports/test-output-$pass.txt" || tail -20 "$reports/test-output-$pass.txt"
done

binary="$scratch/debug/scuttleboard"
echo "[${SECONDS} s] == demo --headless for ${seconds}s under the $kind sanitizer"
demo_status=0
"$binary" demo --headless --bots 8 --duration "${seconds}s" >"$reports/demo-output.txt" 2>&1 || demo_status=$?
tail -1 "$reports/demo-output.txt"

echo "[${SECONDS} s] == swarm --in-process for ${seconds}s under the $kind sanitizer"
swarm_status=0
"$binary" swarm --in-process --bots 8 --rooms 2 --duration "${seconds}s" --pattern bursty \
    --disconnects-per-minute 6 >"$reports/swarm-output.txt" 2>&1 || swarm_status=$?
grep -E "converged|CONVERGE|CATCHING" "$reports/swarm-output.txt" || tail -5 "$reports/swarm-output.txt"

found=$(find "$reports" -name 'tsan*' -o -name 'asan*' | sort)
status=0
if [ -n "$found" ]; then
    echo "== sanitizer reports:"
    for file in $found; do
        echo "-- $file"
        grep -E "^(WARNING|ERROR|SUMMARY)" "$file" | sort | uniq -c | head -20
    done
    status=1
else
    echo "== no sanitizer reports"
fi
[ "$test_status" -eq 0 ] || { echo "the tests failed under the sanitizer (see $reports/test-output-*.txt)"; status=1; }
[ "$demo_status" -eq 0 ] || { echo "the demo exited $demo_status (see $reports/demo-output.txt)"; status=1; }
[ "$swarm_status" -eq 0 ] || { echo "the swarm exited $swarm_status (see $reports/swarm-output.txt)"; status=1; }
exit "$status"
