#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, then runs the lit
# tests, the shared conformance cases on every x86 target, and pytest (last, so its summary
# closes the output). Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -e '.[test]'

echo "== lit"
lit -sv -j2 test/lit

echo "== conformance"
shared="${SEPC_SHARED:-../shared}"
for target in host x86-avx2 x86-avx512; do
  python "$shared/conformance/check.py" --target "$target"
done

echo "== pytest"
python -m pytest -q -p no:cacheprovider test/python
