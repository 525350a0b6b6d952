"""Writes what `sepc compile` delivers: NAME.so, NAME.h and NAME.json (docs/abi.md).

The three files appear together or not at all: each is written under a temporary name in
the output folder, and only when all three are complete are they renamed over their final
names, the manifest last, so a reader that sees a new manifest also sees its library.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import uuid
from typing import Any, Callable, Sequence

import sepc
import sepc_runtime
from sepc.errors import InternalError, UserError

FORMAT_VERSION = 1
ABI_VERSION = 1
DTYPE = "float32"  # every tensor in ABI version 1

_C_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words a parameter name must not be: C and C++ keywords (the header serves both) and
# standard-library macros that a user's earlier #include would expand inside the prototype.
_RESERVED = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch
    typedef union unsigned void volatile while alignas alignof bool complex imaginary
    noreturn static_assert thread_local true false nullptr typeof typeof_unqual constexpr
    _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert
    _Thread_local and and_eq asm bitand bitor catch char8_t char16_t char32_t class compl
    concept consteval constinit const_cast co_await co_return co_yield decltype delete
    dynamic_cast explicit export friend mutable namespace new noexcept not not_eq operator
    or or_eq private protected public reinterpret_cast requires static_cast template this
    throw try typeid typename using virtual wchar_t xor xor_eq
    assert errno stdin stdout stderr EOF NULL I offsetof
""".split())

Tensors = Sequence[tuple[str, Sequence[int]]]


def entry_symbol(name: str) -> str:
    """The symbol the library must export for model `name` (a C identifier)."""
    return f"sepc_{name}"


def write_artifacts(out_dir: str, name: str, library_tmp_path: str,
                    manifest_fields: dict[str, Any], inputs: Tensors, outputs: Tensors,
                    static_tmp_path: str | None = None) -> str:
    """Delivers the compiled library at `library_tmp_path` (copied, not moved: the caller
    removes it) as out_dir/NAME.so with its NAME.h and NAME.json; returns the manifest path.
    With `static_tmp_path`, the same kernel as a static archive becomes out_dir/NAME.a.

    manifest_fields (target, resolved_target, triple, arch, threads, and optionally
    "compiler": {"mlir": ...}) are merged into the manifest; inputs and outputs are
    (name, shape) pairs in the entry point's argument order.
    """
    if not _C_IDENTIFIER.fullmatch(name):
        raise InternalError(f"artifacts: model name {name!r} is not a C identifier")
    files = {"library": f"{name}.so", "header": f"{name}.h", "manifest": f"{name}.json"}
    if static_tmp_path:
        files = {"library": f"{name}.so", "static_library": f"{name}.a",
                 "header": f"{name}.h", "manifest": f"{name}.json"}
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise UserError(f"{out_dir}: cannot create the output folder: {e.strerror or e}") from None

    staged: dict[str, str] = {}  # file name -> its temporary path in out_dir
    replaced = False
    try:
        staged[files["library"]] = _stage(out_dir, files["library"], 0o777,
                                          lambda f: _copy_library(library_tmp_path, f))
        library_sha256 = _sha256(staged[files["library"]])
        if static_tmp_path:
            staged[files["static_library"]] = _stage(
                out_dir, files["static_library"], 0o666,
                lambda f: _copy_library(static_tmp_path, f))
        manifest = _manifest(name, files, manifest_fields, inputs, outputs, library_sha256)
        header = render_header(name, manifest)
        staged[files["header"]] = _stage(out_dir, files["header"], 0o666,
                                         lambda f: f.write(header.encode()))
        text = json.dumps(manifest, indent=2) + "\n"
        staged[files["manifest"]] = _stage(out_dir, files["manifest"], 0o666,
                                           lambda f: f.write(text.encode()))
        for final_name, temp_path in list(staged.items()):  # library, header, manifest
            os.replace(temp_path, os.path.join(out_dir, final_name))
            del staged[final_name]
            replaced = True
    except BaseException as e:
        for temp_path in staged.values():
            _remove(temp_path)
        if replaced and staged:
            # Some files were replaced and others not: a mix of two compiles is worse than
            # none, so every file of this model goes.
            for final_name in files.values():
                _remove(os.path.join(out_dir, final_name))
        if isinstance(e, OSError):
            raise UserError(f"{out_dir}: cannot write the artifacts of model '{name}': "
                            f"{e.strerror or e}") from None
        raise
    return os.path.join(out_dir, files["manifest"])


def render_header(name: str, manifest: dict[str, Any]) -> str:
    """NAME.h: the entry point's prototype and the rank, shape and size of every tensor."""
    prefix = f"SEPC_{name.upper()}"
    guard = f"{prefix}_H"
    lines = [
        f"/* {manifest['header']}: generated by sepc {sepc.__version__} for model "
        f"'{name}' ({manifest.get('resolved_target', manifest.get('target', '?'))}, "
        f"{manifest.get('arch', '?')}). Do not edit.",
        " *",
        " * Every buffer is a dense, C-contiguous (channels-last) array of float32 of",
        " * exactly the shape below. Inputs are only read; outputs are written in place.",
        " * Calls from several threads at once are safe. */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        f"#define {prefix}_ABI_VERSION {ABI_VERSION}",
        "/* Scratch memory the caller must provide: none. The library allocates its",
        " * temporaries per call (malloc/free), so calls share no buffers. */",
        f"#define {prefix}_WORKSPACE_SIZE 0",
        "",
    ]
    for kind, tensors in (("IN", manifest["inputs"]), ("OUT", manifest["outputs"])):
        for i, tensor in enumerate(tensors):
            shape = tensor["shape"]
            macro = f"{prefix}_{kind}_{i}"
            lines += [
                f"/* {'input' if kind == 'IN' else 'output'} {i}: {_c_comment(tensor['name'])} */",
                f"#define {macro}_RANK {len(shape)}",
                f"#define {macro}_SHAPE {{{','.join(map(str, shape))}}}",
                f"#define {macro}_SIZE {math.prod(shape)}",
                "",
            ]
    params = c_parameter_names([t["name"] for t in manifest["inputs"] + manifest["outputs"]])
    n_inputs = len(manifest["inputs"])
    args = [f"const float *{p}" for p in params[:n_inputs]] + \
           [f"float *{p}" for p in params[n_inputs:]]
    lines += [
        "#ifdef __cplusplus",
        'extern "C" {',
        "#endif",
        "",
        f"void {manifest['entry']}({', '.join(args)});",
        *(["/* Threads the calling thread's next calls use (OpenMP; default: OMP_NUM_THREADS",
           " * or all cores). Per calling thread: concurrent callers do not interfere. */"]
          if "thread_control" in manifest else
          ["/* A single-threaded build: accepted for a target-independent API, no effect. */"]),
        f"void {manifest['entry']}_set_threads(int threads);",
        "",
        "#ifdef __cplusplus",
        "}",
        "#endif",
        "",
        f"#endif /* {guard} */",
        "",
    ]
    return "\n".join(lines)


def c_parameter_names(tensor_names: Sequence[str]) -> list[str]:
    """Distinct C identifiers made from tensor names, for the prototype's parameters."""
    used: set[str] = set()
    params = []
    for tensor_name in tensor_names:
        # Collapsing underscores and trimming them avoids identifiers C reserves
        # (leading underscore, double underscore).
        base = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", tensor_name)).strip("_")
        if not base:
            base = "tensor"
        elif base[0].isdigit():
            base = f"t_{base}"
        if base in _RESERVED:
            base = f"{base}_"
        param, n = base, 2
        while param in used:
            param, n = f"{base}_{n}", n + 1
        used.add(param)
        params.append(param)
    return params


def _manifest(name: str, files: dict[str, str], fields: dict[str, Any], inputs: Tensors,
              outputs: Tensors, library_sha256: str) -> dict[str, Any]:
    fields = dict(fields)
    compiler = {"name": "sepc", "version": sepc.__version__, **fields.pop("compiler", {})}
    manifest = {
        "format_version": FORMAT_VERSION,
        "abi_version": ABI_VERSION,
        "name": name,
        **fields,
        "library": files["library"],
        **({"static_library": files["static_library"]} if "static_library" in files else {}),
        "header": files["header"],
        "entry": entry_symbol(name),
        "inputs": [_tensor(n, shape) for n, shape in inputs],
        "outputs": [_tensor(n, shape) for n, shape in outputs],
        "compiler": compiler,
        "library_sha256": library_sha256,
    }
    clashes = sorted(set(fields) & {"format_version", "abi_version", "name", "library", "header",
                                     "entry", "inputs", "outputs", "library_sha256"})
    if clashes:
        raise InternalError(f"artifacts: manifest_fields may not set {', '.join(clashes)}")
    # The runtime is the manifest's reader: never write one it would refuse.
    try:
        sepc_runtime.parse_manifest(manifest, path=files["manifest"])
    except sepc_runtime.LoadError as e:
        raise InternalError(f"artifacts: the manifest would be invalid: {e}") from None
    return manifest


def _tensor(name: str, shape: Sequence[int]) -> dict[str, Any]:
    return {"name": name, "shape": [int(d) for d in shape], "dtype": DTYPE}


def _c_comment(text: str) -> str:
    return repr(text).replace("*/", "* /")


def _stage(out_dir: str, final_name: str, mode: int, write: Callable[[Any], object]) -> str:
    """Writes a file under a fresh temporary name in out_dir and returns that name.
    `mode` goes through the umask, like any file the user's tools create."""
    temp_path = os.path.join(out_dir, f".{final_name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # a crash after the rename must not leave an empty file
    except BaseException:
        _remove(temp_path)
        raise
    return temp_path


def _copy_library(library_tmp_path: str, dest: Any) -> None:
    try:
        src = open(library_tmp_path, "rb")
    except OSError as e:
        # The compiler wrote this file itself: failing to read it is not the user's fault.
        raise InternalError(f"artifacts: cannot read the compiled library "
                            f"{library_tmp_path}: {e.strerror or e}") from None
    with src:
        shutil.copyfileobj(src, dest)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _remove(path: str) -> None:
    """Best-effort cleanup: a failure here must not hide the error being handled."""
    try:
        os.remove(path)
    except OSError:
        pass
