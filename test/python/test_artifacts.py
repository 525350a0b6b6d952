"""write_artifacts: the library, header and manifest of docs/abi.md, written atomically.

The libraries here are small C files built with gcc: these tests are about the files, and a
C definition compiled against the generated header is the strictest check of its prototype.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import sepc
import sepc_runtime
from sepc import artifacts
from sepc.artifacts import c_parameter_names, write_artifacts
from sepc.errors import InternalError, UserError

HOST = sepc_runtime.host_arch()
FIELDS = {"target": "host", "resolved_target": "x86-avx2", "triple": f"{HOST}-unknown-linux-gnu",
          "arch": HOST, "threads": 1, "compiler": {"mlir": "22.1.8"}}
INPUTS = [("x", (2, 3))]
OUTPUTS = [("y", (2, 3))]

TINY_C = """
void sepc_tiny(const float *x, float *y) {
    for (int i = 0; i < 6; i++) y[i] = %s * x[i] + 1.0f;
}
"""


def build_c_library(source: str, so_path: Path, *flags: str) -> Path:
    c_file = so_path.with_suffix(".c")
    c_file.write_text(source)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", *flags, str(c_file), "-o", str(so_path)],
                   check=True, capture_output=True, text=True)
    return so_path


@pytest.fixture(scope="session")
def libs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("libs")
    return {"x2": build_c_library(TINY_C % "2.0f", root / "tiny_x2.so"),
            "x3": build_c_library(TINY_C % "3.0f", root / "tiny_x3.so")}


def write_tiny(out_dir: Path, library: Path) -> str:
    return write_artifacts(str(out_dir), "tiny", str(library), FIELDS, INPUTS, OUTPUTS)


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- what is written -----------------------------------------------------------------------

def test_writes_the_three_files_and_returns_the_manifest_path(tmp_path, libs):
    out = tmp_path / "a" / "b"
    manifest_path = write_tiny(out, libs["x2"])
    assert manifest_path == str(out / "tiny.json")
    assert sorted(files_in(out)) == ["tiny.h", "tiny.json", "tiny.so"]
    assert (out / "tiny.so").read_bytes() == libs["x2"].read_bytes()
    assert libs["x2"].exists(), "the compiler's temporary library belongs to the caller"


def test_the_manifest_follows_the_abi(tmp_path, libs):
    manifest = json.loads(Path(write_tiny(tmp_path, libs["x2"])).read_text())
    assert manifest == {
        "format_version": 1,
        "abi_version": 1,
        "name": "tiny",
        "target": "host",
        "resolved_target": "x86-avx2",
        "triple": f"{HOST}-unknown-linux-gnu",
        "arch": HOST,
        "threads": 1,
        "library": "tiny.so",
        "header": "tiny.h",
        "entry": "sepc_tiny",
        "inputs": [{"name": "x", "shape": [2, 3], "dtype": "float32"}],
        "outputs": [{"name": "y", "shape": [2, 3], "dtype": "float32"}],
        "compiler": {"name": "sepc", "version": sepc.__version__, "mlir": "22.1.8"},
        "library_sha256": hashlib.sha256(libs["x2"].read_bytes()).hexdigest(),
    }


def test_the_runtime_loads_what_was_written(tmp_path, libs):
    model = sepc_runtime.load(write_tiny(tmp_path, libs["x2"]))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(model(x), 2 * x + 1)


def test_file_modes_follow_the_umask(tmp_path, libs):
    write_tiny(tmp_path, libs["x2"])
    mask = current_umask()
    assert (tmp_path / "tiny.so").stat().st_mode & 0o777 == 0o777 & ~mask
    assert (tmp_path / "tiny.json").stat().st_mode & 0o777 == 0o666 & ~mask
    assert (tmp_path / "tiny.h").stat().st_mode & 0o777 == 0o666 & ~mask


def test_the_header_declares_the_entry_point_and_the_shapes(tmp_path, libs):
    write_artifacts(str(tmp_path), "tiny", str(libs["x2"]), FIELDS,
                    [("x", (1, 56, 56, 128)), ("skip", (7,))], [("pw1", (1, 56, 56, 128))])
    header = (tmp_path / "tiny.h").read_text()
    for line in [
        "#ifndef SEPC_TINY_H", "#define SEPC_TINY_H", "#define SEPC_TINY_ABI_VERSION 1",
        "#define SEPC_TINY_IN_0_RANK 4", "#define SEPC_TINY_IN_0_SHAPE {1,56,56,128}",
        "#define SEPC_TINY_IN_0_SIZE 401408",
        "#define SEPC_TINY_IN_1_RANK 1", "#define SEPC_TINY_IN_1_SHAPE {7}",
        "#define SEPC_TINY_IN_1_SIZE 7",
        "#define SEPC_TINY_OUT_0_RANK 4", "#define SEPC_TINY_OUT_0_SIZE 401408",
        '#ifdef __cplusplus\nextern "C" {\n#endif',
        "void sepc_tiny(const float *x, const float *skip, float *pw1);",
    ]:
        assert line in header


def test_a_c_program_built_against_the_header_runs_the_library(tmp_path, libs):
    out = tmp_path / "build"
    write_tiny(out, libs["x2"])
    program = tmp_path / "main.c"
    program.write_text("""
        #include <stdio.h>
        #include "tiny.h"
        #include "tiny.h"   /* the include guard makes a second inclusion harmless */
        _Static_assert(SEPC_TINY_ABI_VERSION == 1, "ABI version");
        int main(void) {
            static const int shape[SEPC_TINY_IN_0_RANK] = SEPC_TINY_IN_0_SHAPE;
            float x[SEPC_TINY_IN_0_SIZE], y[SEPC_TINY_OUT_0_SIZE];
            for (int i = 0; i < SEPC_TINY_IN_0_SIZE; i++) x[i] = (float)i;
            sepc_tiny(x, y);
            printf("%d %d:", shape[0], shape[1]);
            for (int i = 0; i < SEPC_TINY_OUT_0_SIZE; i++) printf(" %g", y[i]);
            printf("\\n");
            return 0;
        }
    """)
    exe = tmp_path / "main"
    subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic",
                    f"-I{out}", str(program), str(out / "tiny.so"), f"-Wl,-rpath,{out}",
                    "-o", str(exe)], check=True, capture_output=True, text=True)
    result = subprocess.run([str(exe)], check=True, capture_output=True, text=True)
    assert result.stdout == "2 3: 1 3 5 7 9 11\n"


def test_the_header_matches_a_definition_compiled_against_it(tmp_path, libs):
    # gcc refuses a definition whose parameter types differ from the header's declaration.
    write_tiny(tmp_path, libs["x2"])
    build_c_library('#include "tiny.h"\n' + TINY_C % "2.0f", tmp_path / "check.so",
                    f"-I{tmp_path}", "-Werror")


@pytest.mark.parametrize("compiler, standard", [("gcc", "-std=c99"), ("g++", "-std=c++17")])
def test_the_header_compiles_as_c_and_cpp_whatever_the_tensor_names(tmp_path, libs,
                                                                    compiler, standard):
    # An output may carry an input's name (model-json.md: outputs name inputs or layers).
    inputs = ["x", "int", "class", "errno", "1st", "a.b"]
    outputs = ["x", "a_b", "__", "conv/0", "y"]
    write_artifacts(str(tmp_path), "tiny", str(libs["x2"]), FIELDS,
                    [(n, (2,)) for n in inputs], [(n, (2,)) for n in outputs])
    suffix = ".cpp" if compiler == "g++" else ".c"
    user = tmp_path / f"user{suffix}"
    user.write_text('#include <errno.h>\n#include <stdio.h>\n#include "tiny.h"\n'
                    "int main(void) { return SEPC_TINY_IN_5_SIZE == 2 ? 0 : 1; }\n")
    subprocess.run([compiler, standard, "-Wall", "-Wextra", "-Werror", "-pedantic",
                    "-fsyntax-only", f"-I{tmp_path}", str(user)],
                   check=True, capture_output=True, text=True)


def test_parameter_names_are_distinct_c_identifiers():
    assert c_parameter_names(
        ["x", "x", "int", "class", "errno", "1st", "a.b", "a_b", "__", "conv/0", "y", "_y_"]
    ) == ["x", "x_2", "int_", "class_", "errno_", "t_1st", "a_b", "a_b_2", "tensor", "conv_0",
          "y", "y_2"]


# --- atomicity -----------------------------------------------------------------------------

def test_a_failure_before_the_files_are_complete_keeps_the_previous_compile(tmp_path, libs,
                                                                           monkeypatch):
    write_tiny(tmp_path, libs["x2"])
    previous = files_in(tmp_path)

    def broken_header(*args, **kwargs):
        raise RuntimeError("simulated failure while rendering the header")
    monkeypatch.setattr(artifacts, "render_header", broken_header)
    with pytest.raises(RuntimeError, match="simulated"):
        write_tiny(tmp_path, libs["x3"])
    assert files_in(tmp_path) == previous


def test_an_interrupt_while_writing_leaves_nothing_in_a_new_folder(tmp_path, libs, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(json, "dumps", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_tiny(tmp_path / "build", libs["x2"])
    assert files_in(tmp_path / "build") == {}


@pytest.mark.parametrize("failing_rename", [1, 2, 3])
def test_a_failure_while_renaming_leaves_no_mix_of_two_compiles(tmp_path, libs, monkeypatch,
                                                                failing_rename):
    write_tiny(tmp_path, libs["x2"])
    previous = files_in(tmp_path)
    real_replace = os.replace
    calls = []

    def replace_failing(src, dst):
        calls.append(dst)
        if len(calls) == failing_rename:
            raise OSError(5, "Input/output error")
        real_replace(src, dst)
    monkeypatch.setattr(os, "replace", replace_failing)
    with pytest.raises(UserError, match=rf"{tmp_path}: cannot write the artifacts of model "
                                        r"'tiny': Input/output error"):
        write_tiny(tmp_path, libs["x3"])
    # Nothing replaced yet: the previous compile stays whole; else none of it may stay.
    assert files_in(tmp_path) == (previous if failing_rename == 1 else {})


def test_an_unreadable_compiled_library_is_an_internal_error(tmp_path):
    with pytest.raises(InternalError, match="cannot read the compiled library"):
        write_tiny(tmp_path / "build", tmp_path / "missing.so")
    assert files_in(tmp_path / "build") == {}


def test_an_unusable_output_folder_is_a_user_error(tmp_path, libs):
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="cannot create the output folder"):
        write_tiny(tmp_path / "file", libs["x2"])


# --- refused inputs ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["mobilenet-v2", "1model", "", "a/b"])
def test_a_name_that_is_not_a_c_identifier_is_an_internal_error(tmp_path, libs, name):
    with pytest.raises(InternalError, match="not a C identifier"):
        write_artifacts(str(tmp_path), name, str(libs["x2"]), FIELDS, INPUTS, OUTPUTS)
    assert files_in(tmp_path) == {}


@pytest.mark.parametrize("fields, pattern", [
    ({**FIELDS, "entry": "main"}, "manifest_fields may not set entry"),
    ({k: v for k, v in FIELDS.items() if k != "arch"}, "missing field 'arch'"),
    ({**FIELDS, "threads": 0}, "'threads': expected at least 1"),
])
def test_a_manifest_the_runtime_would_refuse_is_never_written(tmp_path, libs, fields, pattern):
    with pytest.raises(InternalError, match=pattern):
        write_artifacts(str(tmp_path), "tiny", str(libs["x2"]), fields, INPUTS, OUTPUTS)
    assert files_in(tmp_path) == {}


def test_duplicate_output_names_are_refused(tmp_path, libs):
    with pytest.raises(InternalError, match="the name 'y' appears twice"):
        write_artifacts(str(tmp_path), "tiny", str(libs["x2"]), FIELDS, INPUTS,
                        [("y", (2, 3)), ("y", (2, 3))])
