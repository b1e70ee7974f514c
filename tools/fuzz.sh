#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (address sanitizer) and runs each for a bounded time.
#
# Usage: tools/fuzz.sh SECONDS [TARGET...]   default targets: all three
# Each run writes what it finds to a temporary corpus directory; the committed seeds in
# Fuzz/Corpus/<target>/ are read only. A crashing input is saved as
# .build-fuzz/artifacts/<target>-crash-<sha1>: add it to Fuzz/Corpus/<target>/ and a unit test
# once the bug is fixed. Exit status 1 when any target found a crash.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:?usage: $0 SECONDS [TARGET...]}"
shift
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(FuzzFrame FuzzRequestDecode FuzzRequestValidate)
swift="${SWIFT:-swift}"
cd "$root"

start=$SECONDS
for target in "${targets[@]}"; do
    # gold warns once per ASan runtime symbol it cannot export: hundreds of lines of noise.
    "$swift" build -c debug --package-path Fuzz --scratch-path .build-fuzz \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --product "$target" 2>&1 \
        | grep -v "warning: Cannot export local symbol"
done
echo "fuzz: build took $((SECONDS - start)) s"

bin="$("$swift" build -c debug --package-path Fuzz --scratch-path .build-fuzz --show-bin-path)"
mkdir -p .build-fuzz/artifacts
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Swift's runtime keeps caches for the life of the process: leak reports would be noise.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
failed=()
for target in "${targets[@]}"; do
    mkdir -p "$work/$target"
    echo "fuzz: $target for $seconds s"
    if ! "$bin/$target" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        -artifact_prefix=".build-fuzz/artifacts/$target-" "$work/$target" "Fuzz/Corpus/$target" \
        > "$work/$target.log" 2>&1; then
        failed+=("$target")
        tail -n 60 "$work/$target.log"
    else
        grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::new_units_added)' "$work/$target.log" || true
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: crashes in ${failed[*]} (inputs in .build-fuzz/artifacts/)" >&2
    exit 1
fi
