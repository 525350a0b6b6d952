#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs (tools/setup.sh), then
# runs the lit tests, the shared conformance cases on every target (ARM under qemu, SVE at
# two vector lengths), and pytest (last, so its summary closes the output; it includes the
# CMake builds of the embedding example for x86 and aarch64, test_embedding.py). Exits
# non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh

echo "== lit"
lit -sv -j2 test/lit

echo "== conformance"
shared="${SEPC_SHARED:-../shared}"
for target in host x86-avx2 x86-avx512 arm-neon; do
  python "$shared/conformance/check.py" --target "$target"
done
for vl in 128 512; do
  python "$shared/conformance/check.py" --target arm-sve --sve-vl "$vl"
done

echo "== pytest (ARM: property tests on a smaller sample, SVE at 256 bits)"
SEPC_TEST_TARGETS=arm-neon,arm-sve SEPC_TEST_SVE_VL=256 SEPC_HYPOTHESIS_EXAMPLES=4 \
  python -m pytest -q -p no:cacheprovider test/python/test_properties.py

echo "== pytest"
python -m pytest -q -p no:cacheprovider test/python
