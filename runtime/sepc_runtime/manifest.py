"""The manifest that `sepc compile` writes beside each library (docs/abi.md), read strictly.

A manifest is the only description of the library's entry point the runtime gets, and a
wrong one means wrong pointer arguments to native code, so every field the runtime relies
on is checked here before anything is loaded.
"""
from __future__ import annotations

import json
import os
import platform
import re
from dataclasses import dataclass
from typing import Any, Mapping, Union

FORMAT_VERSION = 1
ABI_VERSION = 1
# ABI version 1 passes every tensor as a bare float pointer.
DTYPES = ("float32",)

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
# platform.machine() spellings of the two architectures sepc targets, by OS.
_ARCH_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}


class LoadError(Exception):
    """A compiled model cannot be loaded; the message names the file and the reason."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class Manifest:
    path: str                 # where it was read from, for messages
    name: str
    arch: str
    library_path: str         # the .so, resolved against the manifest's folder
    entry: str
    threads: int
    library_sha256: str       # lower-case hex
    required_cpu_flags: tuple[str, ...]  # /proc/cpuinfo spelling; () in older manifests
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    fields: Mapping[str, Any]  # the whole JSON object, e.g. for "target" or "triple"


ManifestSource = Union[str, "os.PathLike[str]", Mapping[str, Any], Manifest]


def host_arch() -> str:
    """This machine's architecture, spelled like a manifest's "arch" (x86_64, aarch64)."""
    machine = platform.machine().lower()
    return _ARCH_ALIASES.get(machine, machine)


def host_cpu_flags() -> set[str]:
    """The CPU flags of this machine as /proc/cpuinfo lists them; empty where it cannot tell."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):  # x86 / aarch64 spelling
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def missing_cpu_flags(manifest: ManifestSource) -> list[str]:
    """The CPU flags the manifest's library needs that this machine lacks, in its order.
    A machine whose flags cannot be read is taken to have them."""
    flags = host_cpu_flags()
    return [f for f in as_manifest(manifest).required_cpu_flags if flags and f not in flags]


def is_native(manifest: ManifestSource) -> bool:
    """Whether this machine can load the manifest's library in-process: the same
    architecture and every CPU flag the code needs."""
    manifest = as_manifest(manifest)
    return manifest.arch == host_arch() and not missing_cpu_flags(manifest)


def as_manifest(source: ManifestSource) -> Manifest:
    """A checked Manifest from a manifest path, its parsed JSON object, or a Manifest."""
    if isinstance(source, Manifest):
        return source
    if isinstance(source, Mapping):
        return parse_manifest(source, path="<manifest>")
    return read_manifest(source)


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
    except FileNotFoundError:
        raise LoadError(f"{path}: no such manifest file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LoadError(f"{path}: not a valid JSON manifest: {e}") from None
    except OSError as e:
        raise LoadError(f"{path}: cannot read the manifest: {e.strerror or e}") from None
    return parse_manifest(obj, path)


def parse_manifest(obj: Any, path: str) -> Manifest:
    """Check a manifest's JSON object; `path` locates it in messages and anchors the .so."""
    if not isinstance(obj, Mapping):
        raise LoadError(f"{path}: a manifest is a JSON object, got {type(obj).__name__}")
    field = _FieldReader(obj, path)
    for key, supported in (("format_version", FORMAT_VERSION), ("abi_version", ABI_VERSION)):
        version = field.integer(key)
        if version != supported:
            raise LoadError(f"{path}: field '{key}': this runtime reads version {supported}, "
                            f"got {version}")
    library = field.string("library")
    if os.path.basename(library) != library:
        raise LoadError(f"{path}: field 'library': expected a file name beside the manifest, "
                        f"got {library!r}")
    sha256 = field.string("library_sha256")
    if not _SHA256_HEX.fullmatch(sha256):
        raise LoadError(f"{path}: field 'library_sha256': expected 64 hex digits, got {sha256!r}")
    threads = field.integer("threads")
    if threads < 1:
        raise LoadError(f"{path}: field 'threads': expected at least 1, got {threads}")
    return Manifest(
        path=path,
        name=field.string("name"),
        arch=field.string("arch"),
        library_path=os.path.join(os.path.dirname(os.path.abspath(path)), library),
        entry=field.string("entry"),
        threads=threads,
        library_sha256=sha256.lower(),
        required_cpu_flags=field.strings("required_cpu_flags", default=()),
        inputs=field.tensors("inputs"),
        outputs=field.tensors("outputs"),
        fields=dict(obj),
    )


class _FieldReader:
    """Reads typed fields of one manifest, each failure naming the manifest and the field."""

    def __init__(self, obj: Mapping[str, Any], path: str):
        self.obj = obj
        self.path = path

    def _get(self, key: str) -> Any:
        if key not in self.obj:
            raise LoadError(f"{self.path}: missing field '{key}'")
        return self.obj[key]

    def _fail(self, key: str, expected: str, value: Any) -> LoadError:
        return LoadError(f"{self.path}: field '{key}': expected {expected}, got {value!r}")

    def string(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise self._fail(key, "a non-empty string", value)
        return value

    def integer(self, key: str) -> int:
        value = self._get(key)
        if not _is_int(value):
            raise self._fail(key, "an integer", value)
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        if key not in self.obj:
            return default
        value = self.obj[key]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self._fail(key, "a list of non-empty strings", value)
        return tuple(value)

    def tensors(self, key: str) -> tuple[TensorSpec, ...]:
        entries = self._get(key)
        if not isinstance(entries, list) or not entries:
            raise self._fail(key, "a non-empty list of tensors", entries)
        specs: list[TensorSpec] = []
        for i, entry in enumerate(entries):
            where = f"{key}[{i}]"
            if not isinstance(entry, Mapping):
                raise self._fail(where, "an object with name, shape and dtype", entry)
            name, shape, dtype = entry.get("name"), entry.get("shape"), entry.get("dtype")
            if not isinstance(name, str) or not name:
                raise self._fail(f"{where}.name", "a non-empty string", name)
            if (not isinstance(shape, list) or not shape
                    or not all(_is_int(d) and d > 0 for d in shape)):
                raise self._fail(f"{where}.shape", "a non-empty list of positive integers", shape)
            if dtype not in DTYPES:
                raise self._fail(f"{where}.dtype", " or ".join(map(repr, DTYPES)), dtype)
            if any(spec.name == name for spec in specs):
                raise LoadError(f"{self.path}: field '{key}': the name {name!r} appears twice")
            specs.append(TensorSpec(name, tuple(shape), dtype))
        return tuple(specs)


def _is_int(value: Any) -> bool:
    # JSON true/false arrive as bool, which Python counts as int.
    return isinstance(value, int) and not isinstance(value, bool)
