"""`sepc run`: runs a compiled model once on .npy files and saves its outputs (spec/cli.md)."""
from __future__ import annotations

import os

import numpy as np

import sepc_runtime
from sepc_runtime import emulator, x86_emulator
from sepc.errors import UserError

SVE_VL_RANGE = (128, 2048)
SVE_VL_STEP = 128


def run_manifest(manifest_path: str, inputs: dict[str, str], output_dir: str,
                 sve_vl: int | None) -> list[str]:
    """Runs the model of `manifest_path` on {input name: .npy path} and writes
    output_dir/<output name>.npy for every output; returns those paths in output order.

    sve_vl is the SVE vector length in bits to emulate for a library run under qemu; a
    library loaded natively runs at the machine's own vector length.
    """
    _check_sve_vl(sve_vl)
    manifest = _read_manifest(manifest_path)
    arrays = _load_inputs(manifest, inputs)
    if sepc_runtime.is_native(manifest):
        results = _run_native(manifest, arrays)
    else:
        results = _run_foreign(manifest, arrays, sve_vl)
    return _save_outputs(manifest, results, output_dir)


def _run_native(manifest: sepc_runtime.Manifest,
                arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    try:
        model = sepc_runtime.load(manifest.path)
    except sepc_runtime.LoadError as e:
        raise UserError(_located(manifest.path, e)) from None
    return model.run(arrays)


def _run_foreign(manifest: sepc_runtime.Manifest, arrays: dict[str, np.ndarray],
                 sve_vl: int | None) -> dict[str, np.ndarray]:
    """Runs a library built for another architecture, or for CPU flags this machine lacks,
    under an emulator."""
    if manifest.arch == sepc_runtime.host_arch() == "x86_64":
        return _run_x86_emulated(manifest, arrays)
    if manifest.arch != "aarch64":
        raise UserError(f"{manifest.path}: no emulator for {manifest.arch} libraries on "
                        f"{sepc_runtime.host_arch()}")
    try:
        outputs, _ = emulator.run_emulated(manifest, arrays, sve_vl)
    except emulator.EmulatorError as e:
        raise UserError(f"{manifest.path}: {e}") from None
    return outputs


def _run_x86_emulated(manifest: sepc_runtime.Manifest,
                      arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    missing = ", ".join(sepc_runtime.missing_cpu_flags(manifest))
    if not x86_emulator.bochscpu_available():
        raise UserError(f"{manifest.path}: the library needs the CPU flags {missing}, which "
                        f"this machine lacks, and the x86 emulator is not installed "
                        f"(pip install bochscpu-python==0.4.0)")
    try:
        return x86_emulator.run_manifest_x86_emulated(manifest, arrays)
    except x86_emulator.X86EmulatorError as e:
        raise UserError(f"{manifest.path}: {e}") from None


def _check_sve_vl(sve_vl: int | None) -> None:
    low, high = SVE_VL_RANGE
    if sve_vl is not None and not (low <= sve_vl <= high and sve_vl % SVE_VL_STEP == 0):
        raise UserError(f"--sve-vl: expected a multiple of {SVE_VL_STEP} from {low} to {high} "
                        f"bits, got {sve_vl}")


def _read_manifest(path: str) -> sepc_runtime.Manifest:
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such manifest file")
    try:
        manifest = sepc_runtime.read_manifest(path)
    except sepc_runtime.LoadError as e:
        raise UserError(_located(path, e)) from None
    for spec in manifest.outputs:
        # Each output becomes OUT/<name>.npy, so its name must not reach outside OUT.
        if any(sep and sep in spec.name for sep in (os.sep, os.altsep)):
            raise UserError(f"{path}: field 'outputs': the output name {spec.name!r} contains a "
                            f"path separator, so OUT/<name>.npy would lie outside OUT")
    return manifest


def _load_inputs(manifest: sepc_runtime.Manifest,
                 files: dict[str, str]) -> dict[str, np.ndarray]:
    expected = [spec.name for spec in manifest.inputs]
    for name in files:
        if name not in expected:
            raise UserError(f"--input {name}: model '{manifest.name}' ({manifest.path}) has no "
                            f"input '{name}'; its inputs are {', '.join(expected)}")
    missing = [name for name in expected if name not in files]
    if missing:
        raise UserError(f"{manifest.path}: no --input given for "
                        f"{', '.join(repr(n) for n in missing)} (expected --input NAME=FILE.npy "
                        f"for each of {', '.join(expected)})")
    return {spec.name: _load_input(spec, files[spec.name]) for spec in manifest.inputs}


def _load_input(spec: sepc_runtime.TensorSpec, path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such file (--input {spec.name})")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: not a readable .npy file (--input {spec.name}): {e}") from None
    if not isinstance(array, np.ndarray):  # an .npz archive, which holds its file open
        array.close()
        raise UserError(f"{path}: expected a .npy file holding one array (--input {spec.name}), "
                        f"got an .npz archive")
    if array.shape != spec.shape or array.dtype != np.dtype(spec.dtype):
        raise UserError(f"{path}: input '{spec.name}' must be {spec.dtype} of shape "
                        f"{spec.shape}, the file holds {array.dtype} of shape {array.shape}")
    # The file's memory order is a storage detail, not something the user chose to pass.
    return np.ascontiguousarray(array)


def _save_outputs(manifest: sepc_runtime.Manifest, results: dict[str, np.ndarray],
                  output_dir: str) -> list[str]:
    paths = []
    try:
        os.makedirs(output_dir, exist_ok=True)
        for spec in manifest.outputs:
            path = os.path.join(output_dir, f"{spec.name}.npy")
            np.save(path, results[spec.name])
            paths.append(path)
    except OSError as e:
        raise UserError(f"{e.filename or output_dir}: cannot write the outputs: "
                        f"{e.strerror or e}") from None
    return paths


def _located(path: str, error: sepc_runtime.LoadError) -> str:
    """The LoadError's message, prefixed with the manifest unless it already starts with it."""
    message = str(error)
    return message if message.startswith(f"{path}:") else f"{path}: {message}"
