#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs (tools/setup.sh), then
# runs ruff and mypy (pyproject.toml says what they check), the lit tests, the repository's
# golden cases (test/golden) on every target (ARM under qemu, SVE at two vector lengths),
# the shared conformance cases the same way when a checkout of them sits beside the
# repository (${SEPC_SHARED:-../shared}), and pytest (last, so its summary closes the output;
# it includes the CMake builds of the embedding example for x86 and aarch64,
# test_embedding.py). Nothing outside the clone is needed. Exits non-zero after
# the first step that fails; a step of golden checks runs all its targets before it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh

echo "== ruff, mypy"
ruff check
mypy

echo "== lit"
lit -sv -j2 test/lit

CONFIGS=("host" "x86-avx2" "x86-avx512" "arm-neon" "arm-sve --sve-vl 128" "arm-sve --sve-vl 512")
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

# check_all CHECKER: CHECKER on every target configuration, two at a time: a check is one
# compile or qemu process after another, so two share the two cores and halve the wall time.
# Each log is printed whole once its check ends, so the lines of two targets never mix.
check_all() {
  local checker=$1 failed=() i
  for ((i = 0; i < ${#CONFIGS[@]}; i += 2)); do
    local pids=() names=() config
    for config in "${CONFIGS[@]:i:2}"; do
      local name=${config// /_}
      names+=("$name")
      # shellcheck disable=SC2086  # the configuration is a target and its flags
      ( start=$SECONDS
        if python "$checker" --target $config; then status=0; else status=$?; fi
        echo "-- $config: exit $status, $((SECONDS - start)) s"
        exit "$status" ) >"$logs/$name.log" 2>&1 &
      pids+=($!)
    done
    local j
    for j in "${!pids[@]}"; do
      if ! wait "${pids[j]}"; then failed+=("[${CONFIGS[i + j]}]"); fi
      cat "$logs/${names[j]}.log"
    done
  done
  if ((${#failed[@]})); then
    echo "FAILED: $checker on ${failed[*]}" >&2
    return 1
  fi
}

echo "== golden cases (test/golden)"
check_all test/golden/check.py

shared="${SEPC_SHARED:-../shared}"
if [[ -f "$shared/conformance/check.py" ]]; then
  echo "== shared conformance cases ($shared)"
  check_all "$shared/conformance/check.py"
fi

echo "== pytest (ARM: property tests on a smaller sample, SVE at 256 bits)"
SEPC_TEST_TARGETS=arm-neon,arm-sve SEPC_TEST_SVE_VL=256 SEPC_HYPOTHESIS_EXAMPLES=4 \
  python -m pytest -q -p no:cacheprovider test/python/test_properties.py

echo "== pytest"
python -m pytest -q -p no:cacheprovider test/python
