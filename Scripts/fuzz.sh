#!/usr/bin/env bash
# Fuzzes a decoder with libFuzzer (shipped with the Swift toolchain) under
# AddressSanitizer:
#   wire   the protocol v1 decoder (Fuzz/Sources/WireFuzzer)
#   board  the board's action and snapshot codecs (Fuzz/Sources/BoardCodecFuzzer)
#   Scripts/fuzz.sh wire|board [seconds] [runs]
#     seconds: how long to fuzz (default 60); runs: stop after this many
#     executions instead (e.g. 10000000)
# Findings land in Fuzz/findings-<target>/; the corpus grows in Fuzz/corpus-<target>/.
set -euo pipefail
target="${1:?usage: Scripts/fuzz.sh wire|board [seconds] [runs]}"
seconds="${2:-60}"
runs="${3:--1}"
case "$target" in
wire) product=WireFuzzer ;;
board) product=BoardCodecFuzzer ;;
*)
    echo "fuzz.sh: the target is wire or board, not $target" >&2
    exit 64
    ;;
esac
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/Fuzz"

# Debug: the release build of this toolchain loses the coverage
# instrumentation (libFuzzer then reports no coverage and fuzzes blind).
# The driver passes -sanitize=fuzzer on but drops its coverage
# instrumentation from per-file compile jobs, so coverage is asked for
# explicitly for every module; without it libFuzzer fuzzes blind.
echo "building $product (debug, --sanitize=fuzzer --sanitize=address, edge coverage)…"
swift build --scratch-path .build-fuzz --sanitize=fuzzer --sanitize=address \
    -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp --product "$product" 2>&1 |
    grep -v "Cannot export local symbol"

corpus="corpus-$target"
findings="findings-$target"
mkdir -p "$corpus" "$findings"
index=0
if [ "$target" = wire ]; then
    # Every golden frame, one file each.
    while read -r line; do
        [ -n "$line" ] || continue
        printf '%s' "$line" | xxd -r -p > "$corpus/golden-$index"
        index=$((index + 1))
    done < "$root/Fixtures/wire/v1-every-message.hex"
else
    # A context (selector 0, seq 5, origin 7), then one action of each tag;
    # and an empty board's snapshot (selector 1).
    context="00000000000000000507"
    for action in 000203 0104020203 0104 03000203040502 0402030a0568656c6c6f 050406 06040a00 0704 0800000101 09 0a 0b 0c0400000202; do
        printf "%s%s" "$context" "$action" | xxd -r -p > "$corpus/seed-$index"
        index=$((index + 1))
    done
    printf '01010000' | xxd -r -p > "$corpus/seed-$index"
    index=$((index + 1))
fi
echo "seeded $index inputs; fuzzing…"

fuzzer="$root/Fuzz/.build-fuzz/debug/$product"
# Refuse to fuzz blind: the decoders' modules must carry coverage counters.
counters=$( { "$fuzzer" -runs=0 "$corpus" 2>&1 || true; } | sed -n 's/.*(\([0-9]*\) inline 8-bit counters).*/\1/p' | sed -n 1p)
if [ "${counters:-0}" -lt 10000 ]; then
    echo "error: the fuzzer has only ${counters:-0} coverage counters; the decoder is not instrumented" >&2
    exit 1
fi
echo "$counters coverage counters"
"$fuzzer" "$corpus" -max_total_time="$seconds" -runs="$runs" -max_len=4096 -artifact_prefix="$findings/" \
    -print_final_stats=1
