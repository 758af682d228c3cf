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
# A scratch folder of its own, built from clean: modules left over from a
# build without the sanitizers would link in uninstrumented.
echo "building the fuzzer (debug, --sanitize=fuzzer --sanitize=address)…"
rm -rf .build-fuzz
swift build --scratch-path .build-fuzz --sanitize=fuzzer --sanitize=address --product WireFuzzer 2>&1 \
    | grep -v "Cannot export local symbol"

mkdir -p corpus findings
# Seed the corpus with every golden frame, one file each.
index=0
while read -r line; do
    [ -n "$line" ] || continue
    printf '%s' "$line" | xxd -r -p > "corpus/golden-$index"
    index=$((index + 1))
done < "$root/Fixtures/wire/v1-every-message.hex"
echo "seeded $index frames; fuzzing for ${seconds}s…"

"$root/Fuzz/.build-fuzz/debug/WireFuzzer" corpus \
    -max_total_time="$seconds" -max_len=4096 -artifact_prefix=findings/ -print_final_stats=1
