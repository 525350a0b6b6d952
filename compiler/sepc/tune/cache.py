"""The tuning cache: measured results by kernel and machine, in one JSON file.

An entry's key hashes everything its result depends on: the kernel's signature
(network.signature), the target row, the thread count, the CPU (its model name and a
hash of its feature flags, from /proc/cpuinfo) and the code of the compiler parts that
turn a strategy into machine code (`code_version`: sepc's version and a hash of their
sources, so an edited schedule invalidates what was measured with the old one). The
entry keeps those parts readable too.

The file is rewritten whole through a temporary file and a rename, so a reader never sees
half of it; entries another run added meanwhile are merged, not lost.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import UserError

FORMAT = 1
DEFAULT_PATH = Path("~/.cache/sepc/tune.json")

PACKAGE = Path(__file__).resolve().parents[1]
# What turns a kernel's strategy into code (a strategy file cannot reach the front end).
CODE = ("schedules", "lowering", "passes", "ops.py", "pipeline.py", "targets.py",
        "toolchain.py", "weights_object.py")


def code_version() -> str:
    digest = hashlib.sha256()
    for part in CODE:
        path = PACKAGE / part
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(source.relative_to(PACKAGE).as_posix().encode())
            digest.update(source.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:12]}"


def cpu() -> dict[str, str]:
    """The CPU's model name and a hash of its flags: the same model name may come with
    other features enabled (a VM's CPU model)."""
    model, flags = "unknown", ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown":
                    model = value.strip()
                elif key.strip() in ("flags", "Features") and not flags:
                    flags = " ".join(sorted(value.split()))
    except OSError:
        pass
    return {"model": model, "flags": hashlib.sha256(flags.encode()).hexdigest()[:12]}


@dataclass(frozen=True)
class Context:
    """What every entry of one run shares."""
    target: str
    threads: int
    cpu: dict[str, str]
    code: str

    def key(self, signature: str) -> str:
        parts = [signature, self.target, self.threads, self.cpu, self.code]
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]

    def describe(self) -> dict[str, Any]:
        return {"target": self.target, "threads": self.threads, "cpu": self.cpu,
                "code": self.code}


def run_context(target: str, threads: int) -> Context:
    return Context(target, threads, cpu(), code_version())


class Cache:
    def __init__(self, path: Path, entries: dict[str, dict[str, Any]]) -> None:
        self.path = path
        self.entries = entries

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, key: str, entry: dict[str, Any]) -> None:
        """Store the entry, and write the file at once (merged with what is on disk now):
        a run stopped later keeps what it measured."""
        self.entries = read_entries(self.path) | self.entries | {key: entry}
        write_atomically(self.path, json.dumps({"sepc_tune_cache": FORMAT,
                                                "entries": self.entries}, indent=1) + "\n")


def read_entries(path: Path) -> dict[str, dict[str, Any]]:
    """The file's entries; none if it does not exist. Any other file is refused rather
    than overwritten: --cache may name the wrong file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: unreadable tuning cache ({e})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: line {e.lineno}, column {e.colno}: invalid JSON, expected "
                        "a sepc tune cache") from None
    if (not isinstance(document, dict) or document.get("sepc_tune_cache") != FORMAT
            or not isinstance(document.get("entries"), dict)):
        raise UserError(f"{path}: not a sepc tune cache (expected an object with "
                        f"\"sepc_tune_cache\": {FORMAT} and \"entries\")")
    return document["entries"]


def open_cache(path: str | None) -> Cache:
    resolved = Path(path) if path else DEFAULT_PATH.expanduser()
    return Cache(resolved, read_entries(resolved))


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as e:
        raise UserError(f"{path}: cannot write ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
