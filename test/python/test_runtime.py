"""sepc_runtime and `sepc run` on real libraries compiled from tiny MLIR functions.

The libraries are built here with the installed MLIR/LLVM tools, not with the compiler, so
these tests pin the runtime's contract (shared/spec/runtime.md) on their own.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import sepc_runtime
from sepc.artifacts import write_artifacts
from sepc.errors import UserError
from sepc.run import run_manifest

HOST = sepc_runtime.host_arch()
FOREIGN = "aarch64" if HOST != "aarch64" else "x86_64"


# --- building tiny libraries ---------------------------------------------------------------

def tool(package: str, name: str) -> str:
    """A tool shipped in the bin/ folder of an installed Python package (mlir, llvm)."""
    spec = importlib.util.find_spec(package)
    for root in spec.submodule_search_locations if spec else []:
        path = Path(root) / "bin" / name
        if path.exists():
            return str(path)
    raise FileNotFoundError(f"{name} not found in the installed '{package}' package")


def llvm_env() -> dict[str, str]:
    lib = Path(tool("llvm", "llc")).parent.parent / "lib"
    return {**os.environ, "LD_LIBRARY_PATH": f"{lib}:{os.environ.get('LD_LIBRARY_PATH', '')}"}


def compile_mlir(source: str, so_path: Path) -> Path:
    """MLIR text (func/scf/arith/memref) -> a shared library taking bare float pointers."""
    stem = so_path.with_suffix("")
    mlir, lowered, ll, obj = (stem.with_suffix(s) for s in (".mlir", ".llvm.mlir", ".ll", ".o"))
    mlir.write_text(source)
    steps = [
        [tool("mlir", "mlir-opt"), str(mlir), "--convert-scf-to-cf", "--convert-cf-to-llvm",
         "--convert-arith-to-llvm", "--finalize-memref-to-llvm",
         "--convert-func-to-llvm=use-bare-ptr-memref-call-conv=true",
         "--reconcile-unrealized-casts", "-o", str(lowered)],
        [tool("mlir", "mlir-translate"), "--mlir-to-llvmir", str(lowered), "-o", str(ll)],
        [tool("llvm", "llc"), "-O2", "-relocation-model=pic", "-filetype=obj", str(ll),
         "-o", str(obj)],
        ["gcc", "-shared", str(obj), "-o", str(so_path)],
    ]
    for step in steps:
        subprocess.run(step, check=True, capture_output=True, env=llvm_env())
    return so_path


def tiny_source(scale: float) -> str:
    """@sepc_tiny(x: 2x3, y: 2x3): y = scale * x + 1."""
    return f"""
func.func @sepc_tiny(%x: memref<2x3xf32>, %y: memref<2x3xf32>) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %scale = arith.constant {scale:.1f} : f32
  %one = arith.constant 1.0 : f32
  scf.for %i = %c0 to %c2 step %c1 {{
    scf.for %j = %c0 to %c3 step %c1 {{
      %v = memref.load %x[%i, %j] : memref<2x3xf32>
      %m = arith.mulf %v, %scale : f32
      %r = arith.addf %m, %one : f32
      memref.store %r, %y[%i, %j] : memref<2x3xf32>
    }}
  }}
  return
}}
"""


# @sepc_pair(a: 2x3, b: 3) -> (total: 2x3 = a + b broadcast over rows, twice: 3 = 2 * b)
PAIR_SOURCE = """
func.func @sepc_pair(%a: memref<2x3xf32>, %b: memref<3xf32>,
                     %total: memref<2x3xf32>, %twice: memref<3xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %two = arith.constant 2.0 : f32
  scf.for %j = %c0 to %c3 step %c1 {
    %bj = memref.load %b[%j] : memref<3xf32>
    %t = arith.mulf %bj, %two : f32
    memref.store %t, %twice[%j] : memref<3xf32>
    scf.for %i = %c0 to %c2 step %c1 {
      %aij = memref.load %a[%i, %j] : memref<2x3xf32>
      %s = arith.addf %aij, %bj : f32
      memref.store %s, %total[%i, %j] : memref<2x3xf32>
    }
  }
  return
}
"""


@pytest.fixture(scope="session")
def libs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("libs")
    return {
        "tiny": compile_mlir(tiny_source(2.0), root / "tiny.so"),
        "tiny_x3": compile_mlir(tiny_source(3.0), root / "tiny_x3.so"),
        "pair": compile_mlir(PAIR_SOURCE, root / "pair.so"),
    }


def fields(threads: int = 1) -> dict:
    return {"target": "host", "resolved_target": "test", "triple": f"{HOST}-unknown-linux-gnu",
            "arch": HOST, "threads": threads}


def write_tiny(out_dir: Path, library: Path, threads: int = 1) -> str:
    return write_artifacts(str(out_dir), "tiny", str(library), fields(threads),
                           [("x", (2, 3))], [("y", (2, 3))])


@pytest.fixture
def tiny(tmp_path, libs) -> str:
    return write_tiny(tmp_path / "build", libs["tiny"])


@pytest.fixture
def pair(tmp_path, libs) -> str:
    return write_artifacts(str(tmp_path / "build"), "pair", str(libs["pair"]), fields(),
                           [("a", (2, 3)), ("b", (3,))], [("total", (2, 3)), ("twice", (3,))])


def edit_manifest(path: str, **changes) -> None:
    manifest = json.loads(Path(path).read_text())
    manifest.update(changes)
    Path(path).write_text(json.dumps(manifest))


def x_input(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((2, 3)).astype(np.float32)


# --- loading and calling -------------------------------------------------------------------

def test_load_describes_inputs_and_outputs(tiny, pair):
    model = sepc_runtime.load(tiny)
    assert model.inputs == [("x", (2, 3), "float32")]
    assert model.outputs == [("y", (2, 3), "float32")]
    assert model.threads == 1
    two = sepc_runtime.load(pair)
    assert two.inputs == [("a", (2, 3), "float32"), ("b", (3,), "float32")]
    assert two.outputs == [("total", (2, 3), "float32"), ("twice", (3,), "float32")]


def test_the_description_cannot_be_changed_through_the_lists(tiny):
    model = sepc_runtime.load(tiny)
    model.inputs.clear()
    assert model.inputs == [("x", (2, 3), "float32")]


def test_call_with_one_output_returns_an_array(tiny):
    x = x_input()
    y = sepc_runtime.load(tiny)(x)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32 and y.shape == (2, 3)
    np.testing.assert_allclose(y, 2 * x + 1, rtol=1e-6)


def test_call_with_several_outputs_returns_a_tuple_in_output_order(pair):
    a, b = x_input(1), np.array([1, 2, 3], np.float32)
    total, twice = sepc_runtime.load(pair)(a, b)
    np.testing.assert_allclose(total, a + b, rtol=1e-6)
    np.testing.assert_array_equal(twice, 2 * b)


def test_run_takes_and_returns_arrays_by_name(pair):
    a, b = x_input(1), np.array([1, 2, 3], np.float32)
    results = sepc_runtime.load(pair).run({"b": b, "a": a})
    assert list(results) == ["total", "twice"]
    np.testing.assert_allclose(results["total"], a + b, rtol=1e-6)
    np.testing.assert_array_equal(results["twice"], 2 * b)


def test_run_with_out_writes_into_the_callers_arrays_and_allocates_nothing(pair, monkeypatch):
    model = sepc_runtime.load(pair)
    a, b = x_input(1), np.array([1, 2, 3], np.float32)
    total, twice = np.zeros((2, 3), np.float32), np.zeros(3, np.float32)

    def no_allocation(*args, **kwargs):
        raise AssertionError("the runtime allocated an output array")
    monkeypatch.setattr(np, "empty", no_allocation)
    results = model.run({"a": a, "b": b}, out={"total": total, "twice": twice})
    assert results["total"] is total and results["twice"] is twice
    np.testing.assert_allclose(total, a + b, rtol=1e-6)
    np.testing.assert_array_equal(twice, 2 * b)


def test_read_only_inputs_are_accepted(tiny):
    x = x_input()
    x.flags.writeable = False
    np.testing.assert_allclose(sepc_runtime.load(tiny)(x), 2 * x + 1, rtol=1e-6)


def test_concurrent_calls_from_threads_are_all_correct(tiny):
    model = sepc_runtime.load(tiny)
    start = threading.Barrier(8)
    failures = []

    def worker(seed: int) -> None:
        x = x_input(seed)
        start.wait()
        for _ in range(2000):
            y = model(x)
            if not np.allclose(y, 2 * x + 1, rtol=1e-6):
                failures.append(seed)
                return

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_a_recompiled_library_at_the_same_path_is_loaded_afresh(tmp_path, libs):
    # dlopen() reuses a library it already loaded from the same path; the runtime must not.
    manifest = write_tiny(tmp_path / "build", libs["tiny"])
    x = x_input()
    np.testing.assert_allclose(sepc_runtime.load(manifest)(x), 2 * x + 1, rtol=1e-6)
    manifest = write_tiny(tmp_path / "build", libs["tiny_x3"])
    np.testing.assert_allclose(sepc_runtime.load(manifest)(x), 3 * x + 1, rtol=1e-6)


def test_is_native_reads_the_manifest_arch(tiny):
    assert sepc_runtime.is_native(tiny)
    manifest = json.loads(Path(tiny).read_text())
    assert sepc_runtime.is_native(manifest)
    assert not sepc_runtime.is_native({**manifest, "arch": FOREIGN})


# --- threads -------------------------------------------------------------------------------

def test_threads_default_to_the_manifest_and_accept_1_or_that(tmp_path, libs):
    manifest = write_tiny(tmp_path / "build", libs["tiny"], threads=4)
    assert sepc_runtime.load(manifest).threads == 4
    assert sepc_runtime.load(manifest, threads=4).threads == 4
    assert sepc_runtime.load(manifest, threads=1).threads == 1
    with pytest.raises(ValueError, match=r"threads=2.*1 or 4"):
        sepc_runtime.load(manifest, threads=2)


def test_threads_beyond_the_limit_of_a_serial_library_are_refused(tiny):
    with pytest.raises(ValueError, match=r"threads=2.*can use 1\b"):
        sepc_runtime.load(tiny, threads=2)


@pytest.mark.parametrize("threads", [0, -1])
def test_thread_counts_below_one_are_refused(tiny, threads):
    with pytest.raises(ValueError, match=rf"threads={threads}: expected at least 1"):
        sepc_runtime.load(tiny, threads=threads)


@pytest.mark.parametrize("threads", ["1", 1.0, True])
def test_threads_must_be_an_integer(tiny, threads):
    with pytest.raises(TypeError, match="threads"):
        sepc_runtime.load(tiny, threads=threads)


# --- argument checks -----------------------------------------------------------------------

def misaligned() -> np.ndarray:
    buffer = np.zeros(7 * 4 + 1, np.uint8)
    return buffer[1:25].view(np.float32).reshape(2, 3)


@pytest.mark.parametrize("array, error, pattern", [
    (np.zeros((3, 2), np.float32), ValueError,
     r"input 'x': expected float32 of shape \(2, 3\), got float32 of shape \(3, 2\)"),
    (np.zeros((2, 3), np.float64), ValueError,
     r"input 'x': expected float32 of shape \(2, 3\), got float64 of shape \(2, 3\)"),
    (np.zeros((2, 3), ">f4"), ValueError, r"input 'x': expected float32 .*got >f4"),
    (np.zeros((2, 3), np.float32).tolist(), TypeError,
     r"input 'x': expected a numpy.ndarray of float32 with shape \(2, 3\), got list"),
    (np.zeros((3, 2), np.float32).T, ValueError, r"input 'x': expected a C-contiguous array"),
    (np.zeros((2, 6), np.float32)[:, ::2], ValueError, r"input 'x': .*C-contiguous"),
    (misaligned(), ValueError, r"input 'x': .*not aligned"),
])
def test_bad_inputs_are_refused_naming_the_input(tiny, array, error, pattern):
    model = sepc_runtime.load(tiny)
    with pytest.raises(error, match=pattern):
        model(array)
    with pytest.raises(error, match=pattern):
        model.run({"x": array})


def test_positional_calls_need_exactly_one_array_per_input(pair):
    model = sepc_runtime.load(pair)
    with pytest.raises(TypeError, match=r"takes 2 input array\(s\) \(a, b\), got 1"):
        model(x_input())


@pytest.mark.parametrize("inputs, pattern", [
    ({"a": x_input()}, r"inputs: missing 'b'"),
    ({"a": x_input(), "b": np.zeros(3, np.float32), "c": 1}, r"inputs: unknown 'c'"),
])
def test_run_needs_exactly_the_input_names(pair, inputs, pattern):
    with pytest.raises(ValueError, match=pattern):
        sepc_runtime.load(pair).run(inputs)


def test_run_needs_a_dict(tiny):
    with pytest.raises(TypeError, match="inputs: expected a dict"):
        sepc_runtime.load(tiny).run([x_input()])


def read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@pytest.mark.parametrize("out, error, pattern", [
    ({"total": np.zeros((2, 3), np.float32)}, ValueError, r"out: missing 'twice'"),
    ({"total": np.zeros((3, 2), np.float32), "twice": np.zeros(3, np.float32)}, ValueError,
     r"output 'total' \(out=\): expected float32 of shape \(2, 3\)"),
    ({"total": np.zeros((2, 3), np.float32), "twice": np.zeros(3, np.float64)}, ValueError,
     r"output 'twice' \(out=\): .*got float64"),
    ({"total": np.zeros((3, 2), np.float32).T, "twice": np.zeros(3, np.float32)}, ValueError,
     r"output 'total' \(out=\): expected a C-contiguous array"),
    ({"total": read_only(np.zeros((2, 3), np.float32)), "twice": np.zeros(3, np.float32)},
     ValueError, r"output 'total' \(out=\): the array is read-only"),
    ({"total": np.zeros((2, 3), np.float32), "twice": [0, 0, 0]}, TypeError,
     r"output 'twice' \(out=\): expected a numpy.ndarray"),
])
def test_bad_out_arrays_are_refused(pair, out, error, pattern):
    model = sepc_runtime.load(pair)
    with pytest.raises(error, match=pattern):
        model.run({"a": x_input(), "b": np.zeros(3, np.float32)}, out=out)


def test_out_arrays_may_not_share_memory_with_inputs_or_each_other(pair):
    model = sepc_runtime.load(pair)
    a, b = x_input(), np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"output 'total' \(out=\): shares memory with input 'a'"):
        model.run({"a": a, "b": b}, out={"total": a, "twice": np.zeros(3, np.float32)})
    total = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"output 'twice' .*shares memory with output 'total'"):
        model.run({"a": a, "b": b}, out={"total": total, "twice": total[0]})


def test_out_arrays_overlapping_an_input_in_part_are_refused_and_neighbours_accepted(pair):
    model = sepc_runtime.load(pair)
    buffer = np.zeros(12, np.float32)
    a, b = buffer[:6].reshape(2, 3), np.ones(3, np.float32)
    with pytest.raises(ValueError, match=r"output 'twice' .*shares memory with input 'a'"):
        model.run({"a": a, "b": b},
                  out={"total": np.zeros((2, 3), np.float32), "twice": buffer[4:7]})
    twice = buffer[6:9]                         # right after a: no byte in common
    model.run({"a": a, "b": b}, out={"total": np.zeros((2, 3), np.float32), "twice": twice})
    np.testing.assert_array_equal(twice, 2 * b)


def test_bind_checks_once_and_runs_on_the_arrays_current_contents(pair):
    model = sepc_runtime.load(pair)
    a, b = x_input(1), np.array([1, 2, 3], np.float32)
    total, twice = np.zeros((2, 3), np.float32), np.zeros(3, np.float32)
    call = model.bind({"a": a, "b": b}, out={"total": total, "twice": twice})
    call()
    np.testing.assert_allclose(total, a + b, rtol=1e-6)
    b[:] = [4, 5, 6]          # new data in the same buffer
    call()
    np.testing.assert_array_equal(twice, [8, 10, 12])


def test_bind_refuses_what_run_refuses(pair):
    model = sepc_runtime.load(pair)
    a, b = x_input(), np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"output 'total' \(out=\): shares memory with input 'a'"):
        model.bind({"a": a, "b": b}, out={"total": a, "twice": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match=r"input 'b': expected float32 of shape \(3,\)"):
        model.bind({"a": a, "b": np.zeros(4, np.float32)},
                   out={"total": np.zeros((2, 3), np.float32), "twice": np.zeros(3, np.float32)})


# --- load errors ---------------------------------------------------------------------------

def test_a_missing_library_is_a_load_error(tiny):
    os.remove(Path(tiny).with_suffix(".so"))
    with pytest.raises(sepc_runtime.LoadError, match=r"tiny\.so is missing"):
        sepc_runtime.load(tiny)


def test_a_modified_library_is_a_load_error(tiny):
    library = Path(tiny).with_suffix(".so")
    image = bytearray(library.read_bytes())
    image[-1] ^= 0xFF
    library.write_bytes(bytes(image))
    with pytest.raises(sepc_runtime.LoadError, match="SHA-256 .* does not match"):
        sepc_runtime.load(tiny)


def test_a_manifest_for_another_arch_is_a_load_error(tiny):
    edit_manifest(tiny, arch=FOREIGN)
    with pytest.raises(sepc_runtime.LoadError,
                       match=f"built for {FOREIGN}.*this machine is {HOST}"):
        sepc_runtime.load(tiny)


def test_a_library_for_cpu_flags_this_machine_lacks_is_a_load_error_not_sigill(tiny):
    assert sepc_runtime.is_native(tiny)
    edit_manifest(tiny, required_cpu_flags=["sepc_no_such_flag"])
    assert not sepc_runtime.is_native(tiny)
    with pytest.raises(sepc_runtime.LoadError, match="needs the CPU flags sepc_no_such_flag"):
        sepc_runtime.load(tiny)


def test_required_cpu_flags_must_be_a_list_of_strings(tiny):
    edit_manifest(tiny, required_cpu_flags="avx2")
    with pytest.raises(sepc_runtime.LoadError, match="field 'required_cpu_flags'"):
        sepc_runtime.load(tiny)


def test_a_library_for_another_arch_is_a_load_error(tiny):
    library = Path(tiny).with_suffix(".so")
    image = bytearray(library.read_bytes())
    machine = {"x86_64": 62, "aarch64": 183}[FOREIGN]
    image[18:20] = machine.to_bytes(2, "little")  # e_machine of a little-endian ELF
    library.write_bytes(bytes(image))
    edit_manifest(tiny, library_sha256=hashlib.sha256(image).hexdigest())
    with pytest.raises(sepc_runtime.LoadError, match=f"tiny.so: built for {FOREIGN}"):
        sepc_runtime.load(tiny)


def test_a_missing_entry_point_is_a_load_error(tiny):
    edit_manifest(tiny, entry="sepc_other")
    with pytest.raises(sepc_runtime.LoadError, match="no entry point 'sepc_other'"):
        sepc_runtime.load(tiny)


def test_a_missing_manifest_is_a_load_error(tmp_path):
    with pytest.raises(sepc_runtime.LoadError, match="no such manifest"):
        sepc_runtime.load(tmp_path / "nothing.json")


@pytest.mark.parametrize("changes, pattern", [
    ({"format_version": 2}, r"'format_version': this runtime reads version 1, got 2"),
    ({"abi_version": "1"}, r"'abi_version': expected an integer"),
    ({"entry": None}, r"'entry': expected a non-empty string"),
    ({"library": "../elsewhere/tiny.so"}, r"'library': expected a file name"),
    ({"library_sha256": "abc"}, r"'library_sha256': expected 64 hex digits"),
    ({"threads": 0}, r"'threads': expected at least 1"),
    ({"inputs": []}, r"'inputs': expected a non-empty list"),
    ({"inputs": [{"name": "x", "shape": [2, 0], "dtype": "float32"}]},
     r"'inputs\[0\].shape': expected a non-empty list of positive integers"),
    ({"inputs": [{"name": "x", "shape": [2, 3], "dtype": "float64"}]},
     r"'inputs\[0\].dtype': expected 'float32'"),
    ({"outputs": [{"name": "y", "shape": [6], "dtype": "float32"}] * 2},
     r"'outputs': the name 'y' appears twice"),
])
def test_a_malformed_manifest_is_a_load_error(tiny, changes, pattern):
    edit_manifest(tiny, **changes)
    with pytest.raises(sepc_runtime.LoadError, match=pattern):
        sepc_runtime.load(tiny)


def test_a_manifest_that_is_not_json_is_a_load_error(tiny):
    Path(tiny).write_text("{not json")
    with pytest.raises(sepc_runtime.LoadError, match="not a valid JSON manifest"):
        sepc_runtime.load(tiny)


def test_a_manifest_missing_a_field_is_a_load_error(tiny):
    manifest = json.loads(Path(tiny).read_text())
    del manifest["arch"]
    Path(tiny).write_text(json.dumps(manifest))
    with pytest.raises(sepc_runtime.LoadError, match="missing field 'arch'"):
        sepc_runtime.load(tiny)


# --- sepc run ------------------------------------------------------------------------------

def save(path: Path, array: np.ndarray) -> str:
    np.save(path, array)
    return str(path)


def test_run_manifest_writes_every_output(pair, tmp_path):
    a, b = x_input(1), np.array([1, 2, 3], np.float32)
    inputs = {"a": save(tmp_path / "a.npy", a), "b": save(tmp_path / "b.npy", b)}
    out = tmp_path / "out" / "nested"
    paths = run_manifest(pair, inputs, str(out), None)
    assert paths == [str(out / "total.npy"), str(out / "twice.npy")]
    np.testing.assert_allclose(np.load(out / "total.npy"), a + b, rtol=1e-6)
    np.testing.assert_array_equal(np.load(out / "twice.npy"), 2 * b)


def test_run_manifest_accepts_any_memory_order_in_the_file(tiny, tmp_path):
    x = np.asfortranarray(x_input())
    run_manifest(tiny, {"x": save(tmp_path / "x.npy", x)}, str(tmp_path), 256)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), 2 * x + 1, rtol=1e-6)


@pytest.mark.parametrize("sve_vl", [128, 2048])
def test_run_manifest_accepts_sve_vector_lengths_in_range(tiny, tmp_path, sve_vl):
    run_manifest(tiny, {"x": save(tmp_path / "x.npy", x_input())}, str(tmp_path), sve_vl)


@pytest.mark.parametrize("sve_vl", [0, 64, 130, 2176, 4096, -128])
def test_run_manifest_refuses_bad_sve_vector_lengths(tiny, tmp_path, sve_vl):
    with pytest.raises(UserError, match=rf"--sve-vl: .*got {sve_vl}"):
        run_manifest(tiny, {"x": save(tmp_path / "x.npy", x_input())}, str(tmp_path), sve_vl)


def test_run_manifest_user_errors(tiny, tmp_path):
    good = save(tmp_path / "x.npy", x_input())
    cases = [
        (str(tmp_path / "none.json"), {"x": good}, r"none\.json: no such manifest file"),
        (tiny, {"x": str(tmp_path / "missing.npy")}, r"missing\.npy: no such file \(--input x\)"),
        (tiny, {"x": good, "z": good}, r"--input z: model 'tiny' .* has no input 'z'"),
        (tiny, {}, r"tiny\.json: no --input given for 'x'"),
        (tiny, {"x": save(tmp_path / "shape.npy", np.zeros((3, 2), np.float32))},
         r"shape\.npy: input 'x' must be float32 of shape \(2, 3\), the file holds float32 "
         r"of shape \(3, 2\)"),
        (tiny, {"x": save(tmp_path / "dtype.npy", np.zeros((2, 3)))},
         r"dtype\.npy: input 'x' must be float32 .* holds float64"),
    ]
    (tmp_path / "text.npy").write_text("not numpy")
    cases.append((tiny, {"x": str(tmp_path / "text.npy")}, r"text\.npy: not a readable \.npy"))
    for manifest, inputs, pattern in cases:
        with pytest.raises(UserError, match=pattern) as caught:
            run_manifest(manifest, inputs, str(tmp_path / "out"), None)
        assert caught.value.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_run_manifest_turns_load_errors_into_user_errors(tiny, tmp_path):
    os.remove(Path(tiny).with_suffix(".so"))
    with pytest.raises(UserError, match=rf"{tiny}: .*tiny\.so is missing"):
        run_manifest(tiny, {"x": save(tmp_path / "x.npy", x_input())}, str(tmp_path), None)
    edit_manifest(tiny, threads="many")
    with pytest.raises(UserError, match=rf"{tiny}: field 'threads'"):
        run_manifest(tiny, {"x": save(tmp_path / "x.npy", x_input())}, str(tmp_path), None)


def test_run_manifest_refuses_output_names_that_leave_the_output_folder(tiny, tmp_path):
    edit_manifest(tiny, outputs=[{"name": "../y", "shape": [2, 3], "dtype": "float32"}])
    with pytest.raises(UserError, match=r"output name '\.\./y' contains a path separator"):
        run_manifest(tiny, {"x": save(tmp_path / "x.npy", x_input())}, str(tmp_path), None)


def test_run_manifest_says_foreign_libraries_run_under_qemu(tiny, tmp_path):
    """A library built for another architecture runs under an emulator: qemu-aarch64 for
    aarch64 libraries, none for other architectures. This manifest only relabels the
    host's library, so the emulated run fails: the UserError names the manifest and says
    that the run under qemu failed, and why."""
    import re

    inputs = {"x": save(tmp_path / "x.npy", x_input())}
    out = tmp_path / "out"
    manifest, library = re.escape(tiny), re.escape(str(Path(tiny).with_suffix(".so")))

    # No emulator for this architecture on any host.
    edit_manifest(tiny, arch="riscv64")
    with pytest.raises(UserError, match=rf"^{manifest}: no emulator for riscv64 libraries "
                                        rf"on {HOST}$") as caught:
        run_manifest(tiny, inputs, str(out), 256)
    assert caught.value.exit_code == 2

    edit_manifest(tiny, arch=FOREIGN)
    if FOREIGN == "aarch64":
        # qemu-aarch64 starts the harness, which cannot load a host library.
        failure = (rf"^{manifest}: {library} under qemu-aarch64 failed "
                   rf"\(exit [1-9][0-9]*\): sepc_harness: dlopen: ")
        with pytest.raises(UserError, match=failure) as caught:
            run_manifest(tiny, inputs, str(out), 256)
        assert caught.value.exit_code == 2
        # A missing library is reported as such, before qemu runs.
        os.remove(Path(tiny).with_suffix(".so"))
        with pytest.raises(UserError, match=rf"^{manifest}: {library}: the manifest's library "
                                            rf"is missing$") as caught:
            run_manifest(tiny, inputs, str(out), 256)
        assert caught.value.exit_code == 2
    else:  # on an aarch64 machine the foreign libraries are x86_64 ones: no emulator
        with pytest.raises(UserError, match=rf"^{manifest}: no emulator for {FOREIGN} libraries "
                                            rf"on {HOST}$") as caught:
            run_manifest(tiny, inputs, str(out), 256)
        assert caught.value.exit_code == 2
    assert not out.exists()

