#!/usr/bin/env bash
# Fuzzes the protocol v1 decoder with libFuzzer (shipped with the Swift
# toolchain) under AddressSanitizer.
#   Scripts/fuzz-wire.sh [seconds]     default: 60
# Findings land in Fuzz/findings/; the corpus grows in Fuzz/corpus/.
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/Fuzz"

# Debug: the release build of this toolchain loses the coverage
# instrumentation (libFuzzer then reports no coverage and fuzzes blind).
# The driver passes -sanitize=fuzzer on but drops its coverage
# instrumentation from per-file compile jobs, so coverage is asked for
# explicitly for every module; without it libFuzzer fuzzes blind.
echo "building the fuzzer (debug, --sanitize=fuzzer --sanitize=address, edge coverage)…"
rm -rf .build-fuzz
swift build --scratch-path .build-fuzz --sanitize=fuzzer --sanitize=address \
    -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp --product WireFuzzer 2>&1 | grep -v "Cannot export local symbol"

mkdir -p corpus findings
# Seed the corpus with every golden frame, one file each.
index=0
while read -r line; do
    [ -n "$line" ] || continue
    printf '%s' "$line" | xxd -r -p > "corpus/golden-$index"
    index=$((index + 1))
done < "$root/Fixtures/wire/v1-every-message.hex"
echo "seeded $index frames; fuzzing for ${seconds}s…"

fuzzer="$root/Fuzz/.build-fuzz/debug/WireFuzzer"
# Refuse to fuzz blind: the decoder's modules must carry coverage counters.
counters=$( { "$fuzzer" -runs=0 corpus 2>&1 || true; } | sed -n 's/.*(\([0-9]*\) inline 8-bit counters).*/\1/p' | sed -n 1p)
if [ "${counters:-0}" -lt 10000 ]; then
    echo "error: the fuzzer has only ${counters:-0} coverage counters; the decoder is not instrumented" >&2
    exit 1
fi
echo "$counters coverage counters"
"$fuzzer" corpus -max_total_time="$seconds" -max_len=4096 -artifact_prefix=findings/ -print_final_stats=1
