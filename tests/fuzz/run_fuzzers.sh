#!/bin/bash
# Builds the libFuzzer harnesses with clang (ASan + UBSan) and runs each for a bounded time.
#
#   tests/fuzz/run_fuzzers.sh BUILD_DIR SECONDS_PER_TARGET [TARGET ...]
#
# The fuzz project (tests/fuzz/CMakeLists.txt) is configured and built in BUILD_DIR/fuzz
# (incrementally: a second run only rebuilds what changed). Seed corpora are made in a scratch
# folder from ../shared/data, Debian's pydicom test files, tests/core/hostile and the product's
# own writers. Each target then runs for SECONDS_PER_TARGET seconds; inputs that found new
# coverage are kept in BUILD_DIR/fuzz/corpus/TARGET for the next run, crashes are written to
# BUILD_DIR/fuzz/artifacts/TARGET/ and the log of each run to BUILD_DIR/fuzz/logs/TARGET.log.
#
# Exit status: 0 when no target found anything; 1 when one crashed, leaked, hung (-timeout),
# ran out of memory (-rss_limit_mb) or did not build (the inputs are named on stderr); 77
# (ctest's SKIP_RETURN_CODE) when clang or its libFuzzer runtime is not installed.
#
# Environment: RADIOLENS_DATA_DIR (default: ../shared/data beside the repository),
# RADIOLENS_PYDICOM_FILES, RADIOLENS_FUZZ_JOBS (build jobs, default 2), RADIOLENS_FUZZ_GDCM=1
# (also fuzz JPEG 2000 through GDCM, off by default: GDCM crashes on damaged data),
# RADIOLENS_FUZZ_ARGS (more libFuzzer options, e.g. -jobs=2).
set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS_PER_TARGET [TARGET ...]" >&2
    exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$(mkdir -p "$1" && cd "$1" && pwd)
SECONDS_PER_TARGET=$2
shift 2
case $SECONDS_PER_TARGET in
'' | *[!0-9]* | 0)
    echo "$0: SECONDS_PER_TARGET must be a positive number of seconds" >&2
    exit 2
    ;;
esac
ALL_TARGETS="dicom dicomdir physionet long_csv fhir model_card forecast_card npz"
TARGETS=${*:-$ALL_TARGETS}
FUZZ=$BUILD/fuzz
DATA=${RADIOLENS_DATA_DIR:-$ROOT/../shared/data}
PYDICOM=${RADIOLENS_PYDICOM_FILES:-/usr/lib/python3/dist-packages/pydicom/data/test_files}
PYTHON=${RADIOLENS_PYTHON:-/usr/bin/python3}
JOBS=${RADIOLENS_FUZZ_JOBS:-2}

skip() {
    echo "SKIP fuzz: $* (Debian packages: clang libclang-rt-14-dev; issue 9)"
    exit 77
}

# ---- clang and libFuzzer present? ------------------------------------------------------------
command -v clang >/dev/null 2>&1 || skip "clang is not installed"
command -v clang++ >/dev/null 2>&1 || skip "clang++ is not installed"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/radiolens-fuzz-run.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
    >"$SCRATCH/probe.cpp"
if ! clang++ -fsanitize=fuzzer,address,undefined "$SCRATCH/probe.cpp" -o "$SCRATCH/probe" \
    >"$SCRATCH/probe.log" 2>&1; then
    cat "$SCRATCH/probe.log"
    skip "clang cannot link a fuzzer with ASan and UBSan (libFuzzer runtime missing)"
fi

# ---- build -------------------------------------------------------------------------------------
start=$(date +%s)
generator=()
if command -v ninja >/dev/null 2>&1; then
    generator=(-G Ninja)
fi
if [ ! -f "$FUZZ/CMakeCache.txt" ]; then
    if ! CC=clang CXX=clang++ nice -n 10 cmake -S "$HERE" -B "$FUZZ" "${generator[@]}" \
        >"$SCRATCH/configure.log" 2>&1; then
        cat "$SCRATCH/configure.log"
        echo "FAIL fuzz: the fuzz project does not configure (log above)" >&2
        exit 1
    fi
fi
if ! nice -n 10 cmake --build "$FUZZ" -j "$JOBS" >"$SCRATCH/build.log" 2>&1; then
    tail -n 60 "$SCRATCH/build.log"
    echo "FAIL fuzz: the harnesses do not build (log above)" >&2
    exit 1
fi
echo "fuzz: harnesses built in $(($(date +%s) - start)) s ($FUZZ)"

# ---- seeds -------------------------------------------------------------------------------------
if [ ! -d "$DATA" ]; then
    echo "fuzz: $DATA is absent: seeds from the repository and pydicom only"
fi
if ! "$PYTHON" "$HERE/make_seeds.py" --out "$SCRATCH/seeds" --data "$DATA" --pydicom "$PYDICOM" \
    --hostile "$ROOT/tests/core/hostile" --fuzz-seeds "$FUZZ/bin/fuzz_seeds"; then
    echo "FAIL fuzz: the seed corpora could not be made" >&2
    exit 1
fi

# ---- run ---------------------------------------------------------------------------------------
# DCMTK allocates an element's declared length (up to 4 GiB) before it finds that a deflated
# stream ends first, then refuses the file; the allocation is never touched and is freed at
# once. The DICOM targets allow such single allocations; the RSS limit still catches memory
# that is really used.
mallocLimit() {
    case $1 in
    dicom | dicomdir) echo "-malloc_limit_mb=4200" ;;
    esac
}

dictionary() {
    case $1 in
    dicom | dicomdir) echo "-dict=$HERE/dicom.dict" ;;
    model_card | forecast_card | fhir) echo "-dict=$HERE/json.dict" ;;
    physionet | long_csv) echo "-dict=$HERE/text.dict" ;;
    esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$HERE/lsan.supp:print_suppressions=0}
failed=()
printf '%-14s %8s %10s %9s %8s  %s\n' target seconds runs "execs/s" corpus result
for target in $TARGETS; do
    binary=$FUZZ/bin/fuzz_$target
    if [ ! -x "$binary" ]; then
        echo "FAIL fuzz: no harness fuzz_$target (targets: $ALL_TARGETS)" >&2
        failed+=("$target")
        continue
    fi
    corpus=$FUZZ/corpus/$target
    artifacts=$FUZZ/artifacts/$target
    log=$FUZZ/logs/$target.log
    mkdir -p "$corpus" "$artifacts" "$FUZZ/logs"
    # Each harness writes its inputs into a private folder under TMPDIR.
    mkdir -p "$SCRATCH/tmp-$target"
    began=$(date +%s)
    # shellcheck disable=SC2046,SC2086
    TMPDIR=$SCRATCH/tmp-$target nice -n 10 "$binary" \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 \
        -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" $(dictionary "$target") $(mallocLimit "$target") \
        ${RADIOLENS_FUZZ_ARGS:-} \
        "$corpus" "$SCRATCH/seeds/$target" >"$log" 2>&1
    status=$?
    took=$(($(date +%s) - began))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    size=$(find "$corpus" -type f | wc -l)
    if [ "$status" -eq 0 ]; then
        result=ok
    else
        result=FAILED
        failed+=("$target")
    fi
    printf '%-14s %8s %10s %9s %8s  %s\n' "$target" "$took" "${runs:-?}" "${speed:-?}" "$size" \
        "$result"
    if [ "$status" -ne 0 ]; then
        {
            echo "---- fuzz_$target failed (exit $status); the end of $log:"
            grep -E '^(==[0-9]+==|SUMMARY|.*runtime error|==radiolens fuzz==)' "$log" | head -n 5
            tail -n 40 "$log"
            unit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
            if [ -n "$unit" ]; then
                echo "CRASHING INPUT: $unit"
                echo "reproduce: $binary $unit"
            fi
            echo "----"
        } >&2
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "FAIL fuzz: ${failed[*]} (inputs in $FUZZ/artifacts/)" >&2
    exit 1
fi
echo "fuzz: no crash, leak, hang or undefined behaviour in $TARGETS"
exit 0
