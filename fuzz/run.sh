#!/usr/bin/env bash
# Coverage-guided fuzzing of the checkpoint loader (SafeTensorsFile.Parse, Checkpoint.Load, Checkpoint.LoadOptimizer)
# with SharpFuzz and AFL++, for a bounded time.
#
#   fuzz/run.sh [SECONDS]      (default 600)
#
# Environment: NICE (default "nice -n 19"), FUZZ_OUT (default fuzz/out), AFL_TIMEOUT_MS per input (default 2000).
# Installs afl++ with apt-get if afl-fuzz is missing and the SharpFuzz.CommandLine tool into fuzz/.tools.
set -euo pipefail

SECONDS_TO_RUN="${1:-600}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${FUZZ_OUT:-$HERE/out}"
NICE="${NICE-nice -n 19}"
TOOLS="$HERE/.tools"
BIN="$OUT/bin"      # instrumented: only runs under afl-fuzz (outside it the coverage writes fault)
PLAIN="$OUT/plain"  # the same build uninstrumented, for --make-corpus and replaying findings

# 1. Tools.
if ! command -v afl-fuzz >/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq afl++
fi
if [ ! -x "$TOOLS/sharpfuzz" ]; then
    dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$TOOLS"
fi

# 2. Build the harness (Release) into a fresh folder and instrument the library under test, and only it.
rm -rf "$BIN" "$PLAIN"
mkdir -p "$OUT"
$NICE dotnet publish "$HERE/RecurrentNets.Fuzz/RecurrentNets.Fuzz.csproj" -c Release -o "$PLAIN" --nologo -v quiet
cp -r "$PLAIN" "$BIN"
$NICE "$TOOLS/sharpfuzz" "$BIN/RecurrentNets.dll"

# 3. Seeds: the committed corpus (regenerate with: dotnet fuzz/out/plain/RecurrentNets.Fuzz.dll --make-corpus fuzz/corpus).
SEEDS="$HERE/corpus"
if [ -z "$(ls -A "$SEEDS" 2>/dev/null)" ]; then
    dotnet "$PLAIN/RecurrentNets.Fuzz.dll" --make-corpus "$SEEDS"
fi

# 4. Fuzz. SharpFuzz's Fuzzer.Run is the fork server, so dotnet itself needs no AFL instrumentation.
#    The GC heap limit turns a huge allocation driven by a lying header into an OutOfMemoryException, i.e. a crash.
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
export AFL_NO_UI=1 AFL_FORKSRV_INIT_TMOUT=60000
export DOTNET_GCHeapHardLimit=0x20000000 DOTNET_TieredPGO=0 DOTNET_CLI_TELEMETRY_OPTOUT=1
rm -rf "$OUT/findings"
echo "fuzzing for $SECONDS_TO_RUN s; findings in $OUT/findings"
set +e
$NICE afl-fuzz -i "$SEEDS" -o "$OUT/findings" -x "$HERE/safetensors.dict" -t "${AFL_TIMEOUT_MS:-2000}" -m none \
    -V "$SECONDS_TO_RUN" -- dotnet "$BIN/RecurrentNets.Fuzz.dll" >"$OUT/afl.log" 2>&1
status=$?
set -e
[ $status -ne 0 ] && { tail -40 "$OUT/afl.log"; echo "afl-fuzz exited with $status"; }

# 5. Summary.
STATS="$OUT/findings/default/fuzzer_stats"
if [ -f "$STATS" ]; then
    echo "== summary =="
    grep -E '^(start_time|last_update|run_time|execs_done|execs_per_sec|corpus_count|paths_total|corpus_found|bitmap_cvg|edges_found|total_edges|saved_crashes|unique_crashes|saved_hangs|unique_hangs|stability)\b' "$STATS"
    for kind in crashes hangs; do
        files=$(find "$OUT/findings/default/$kind" -type f -name 'id:*' 2>/dev/null | sort)
        echo "$kind: $(echo -n "$files" | grep -c . || true)"
        for f in $files; do
            echo "--- $f"
            DOTNET_GCHeapHardLimit=0x20000000 timeout 20 dotnet "$PLAIN/RecurrentNets.Fuzz.dll" --run "$f" 2>&1 | grep -E 'Unhandled|Exception|at RecurrentNets|: (parsed|rejected)' | head -4 || true
        done
    done
fi
exit $status
