#!/usr/bin/env bash
# Installs everything sepc needs on a fresh Debian machine: the Python package with its
# pinned MLIR/LLVM wheels (and the test tools), LLVM's OpenMP runtime for parallel x86
# libraries, and, for the ARM targets, a cross linker,
# the aarch64 C library and qemu-user to run aarch64 code; CMake and make for embedding
# compiled models in C applications (CMakeLists.txt). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# The importers' frameworks (Keras on PyTorch, ONNX) are optional for users; the tests
# check every importer, so they are installed here. torch==2.13.0 is the CPU build.
python -m pip install --quiet --disable-pip-version-check -e '.[test,keras,onnx,x86emu]'

packages="libomp-dev qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross cmake make"
if ! command -v qemu-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null \
    || ! command -v cmake >/dev/null || ! command -v make >/dev/null \
    || [ ! -e /usr/lib/x86_64-linux-gnu/libomp.so.5 ] \
    || [ ! -d /usr/aarch64-linux-gnu/lib ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $packages >/dev/null
fi
