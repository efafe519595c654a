#!/usr/bin/env bash
# Counts the instructions the engine spends on the first sync of the engine benchmark
# (`--quick` size by default), with callgrind: repeatable for the same binary and data,
# whatever the machine is doing. Generation and the rerun are not counted; the emulator
# runs as its own process and is not counted either. See BENCHMARKS.md ("tenth stop").
#
#   benches/tools/first-sync-instructions.sh [OUT_PREFIX] [-- BENCH_ARGS...]
#
# Prints the total; OUT_PREFIX.<pid>.1 is the profile (callgrind_annotate reads it).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-target/first-sync}
shift || true
[ "${1:-}" = "--" ] && shift
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--quick)
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
cargo bench --bench engine_sync --no-run >/dev/null 2>&1
bin=$(ls -t target/release/deps/engine_sync-* | grep -v '\.d$' | head -1)
rm -f "$out".*
RUST_LOG=warn valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out.%p" \
    "$bin" "${args[@]}" >"$out.log" 2>&1 &
pid=$!
wait_for() {
    until grep -q "$1" "$out.log" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || { cat "$out.log" >&2; exit 1; }
        sleep 0.5
    done
}
wait_for '^generated'
callgrind_control -i on "$pid" >/dev/null 2>&1
wait_for 'end to end'
callgrind_control -d "$pid" >/dev/null 2>&1
callgrind_control -i off "$pid" >/dev/null 2>&1
wait "$pid"
grep -E 'end to end|bench engine_sync' "$out.log"
grep -h '^totals:' "$out".*.1 | sed 's/^totals:/first-sync instructions:/'
