"""Loading a model's shared library, after checking it is the one its manifest describes."""
from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
import threading
from _ctypes import CFuncPtr  # ctypes._CFuncPtr, which the stubs do not export
from typing import Literal

from .manifest import LoadError, Manifest, host_arch

# ELF e_machine values of the architectures sepc targets.
ELF_MACHINES = {62: "x86_64", 183: "aarch64"}

# Verified libraries by SHA-256. dlopen() knows a library by its path, so loading a
# recompiled model from the same path would silently hand back the old code; each library
# is therefore loaded from a private copy named after nothing the user controls, and
# identical bytes are loaded once however often load() is called (ctypes never unloads).
_loaded: dict[str, ctypes.CDLL] = {}
_loaded_lock = threading.Lock()


def verified_image(manifest: Manifest) -> tuple[bytes, str]:
    """The bytes of the manifest's library and their SHA-256, once they are checked to be
    an ELF library for this machine's architecture with the manifest's hash; whatever
    runs the library (dlopen or the x86 emulator) runs exactly these bytes."""
    library = manifest.library_path
    try:
        with open(library, "rb") as f:
            image = f.read()
    except FileNotFoundError:
        raise LoadError(f"{manifest.path}: the library {library} is missing") from None
    except OSError as e:
        raise LoadError(f"{library}: cannot read the library: {e.strerror or e}") from None

    arch = elf_arch(image)
    if arch is None:
        raise LoadError(f"{library}: not an ELF shared library")
    if arch != host_arch():
        raise LoadError(f"{library}: built for {arch}, but this machine is {host_arch()}")
    # Hash the bytes that will be loaded, not the file, so nothing can change in between.
    sha256 = hashlib.sha256(image).hexdigest()
    if sha256 != manifest.library_sha256:
        raise LoadError(f"{library}: SHA-256 {sha256} does not match the manifest's "
                        f"library_sha256 {manifest.library_sha256} (rebuilt or modified "
                        f"after {manifest.path} was written?)")
    return image, sha256


def load_entry(manifest: Manifest) -> CFuncPtr:
    """The entry point of the manifest's library, typed for bare-pointer arguments."""
    library = manifest.library_path
    image, sha256 = verified_image(manifest)
    handle = _load_verified(image, sha256, manifest.name)
    try:
        # Indexing (not attribute access) gives a fresh function object: argtypes are set on
        # it, and another manifest may share this handle with a different signature.
        entry = handle[manifest.entry]
    except AttributeError:
        raise LoadError(f"{library}: no entry point '{manifest.entry}'") from None
    entry.argtypes = [ctypes.c_void_p] * (len(manifest.inputs) + len(manifest.outputs))
    entry.restype = None
    return entry


def load_thread_control(manifest: Manifest) -> CFuncPtr | None:
    """`void set_threads(int32_t)` of a library whose manifest names one (parallel builds):
    it sets the thread count of the calling thread's next calls. None for serial builds."""
    name = manifest.fields.get("thread_control")
    if name is None:
        return None
    handle = _loaded[manifest.library_sha256]  # load_entry verified and loaded it
    try:
        setter = handle[name]
    except AttributeError:
        raise LoadError(f"{manifest.library_path}: no thread control '{name}'") from None
    setter.argtypes = [ctypes.c_int32]
    setter.restype = None
    return setter


def load_profile_reader(manifest: Manifest) -> CFuncPtr:
    """`int32_t reader(int64_t *ns, int32_t n)` of a profile build (`sepc profile`, whose
    manifest names it in "profile"): takes the per-layer nanosecond counters and resets
    them. Call after load(): it verified and loaded the library."""
    profile = manifest.fields.get("profile")
    name = profile.get("reader") if isinstance(profile, dict) else None
    if not isinstance(name, str) or not name:
        raise LoadError(f"{manifest.path}: field 'profile': expected an object naming the "
                        f"'reader' of a profile build, got {profile!r}")
    handle = _loaded[manifest.library_sha256]
    try:
        reader = handle[name]
    except AttributeError:
        raise LoadError(f"{manifest.library_path}: no profile reader '{name}'") from None
    reader.argtypes = [ctypes.c_void_p, ctypes.c_int32]
    reader.restype = ctypes.c_int32
    return reader


def elf_arch(image: bytes) -> str | None:
    """The architecture an ELF image was built for (or "ELF machine N"); None if not ELF."""
    if len(image) < 20 or image[:4] != b"\x7fELF":
        return None
    byte_order: Literal["little", "big"] = "big" if image[5] == 2 else "little"  # EI_DATA
    machine = int.from_bytes(image[18:20], byte_order)             # e_machine
    return ELF_MACHINES.get(machine, f"ELF machine {machine}")


def _load_verified(image: bytes, sha256: str, name: str) -> ctypes.CDLL:
    with _loaded_lock:
        if sha256 not in _loaded:
            _loaded[sha256] = _dlopen_private_copy(image, name)
        return _loaded[sha256]


def _dlopen_private_copy(image: bytes, name: str) -> ctypes.CDLL:
    copy = None
    try:
        fd, copy = tempfile.mkstemp(prefix=f"sepc-{name}-", suffix=".so")
        with os.fdopen(fd, "wb") as f:
            f.write(image)
        return ctypes.CDLL(copy)
    except OSError as e:
        raise LoadError(f"cannot load the library of model '{name}' from its private copy in "
                        f"{tempfile.gettempdir()} (set TMPDIR to a folder that allows "
                        f"executable files if this one does not): {e}") from None
    finally:
        # The mapping outlives the file; removing it at once leaves nothing to clean up.
        if copy is not None:
            try:
                os.unlink(copy)
            except FileNotFoundError:
                pass
