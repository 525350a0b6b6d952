"""Running an x86-64 library on an emulated CPU: bochscpu, the Bochs x86 core, in-process.

For libraries built for CPU features this machine lacks (x86-avx512 on an AVX2 machine),
which would end the process with SIGILL when loaded natively. The CPU is Bochs's (PyPI
package bochscpu-python, imported only when a library is run; it emulates an Intel
Cannon Lake: AVX-512 F/CD/DQ/BW/VL/IFMA/VBMI, see emulated_cpu_flags()). This module is
the loader and C runtime around it:

* The ELF shared library is mapped at a fixed base with its segments' permissions (code
  not writable, data not executable), its relocations are applied and its initializers
  run, as dlopen would.
* Each imported function is bound to a trap address on a page that is never mapped. A
  call faults there, the fault stops the CPU, and the function is carried out in Python
  on the emulated memory: malloc and friends, memset/memcpy/memmove, and the OpenMP entry
  points the libraries use. __kmpc_fork_call runs the parallel region's body once on the
  same CPU, as thread 0 of a team of 1: emulation is serial.
* Every buffer (each input, each output, each malloc block, the stack) is its own mapping
  between unmapped guard gaps, placed so that it ends exactly at a page boundary (malloc
  blocks: within 15 bytes, for malloc's 16-byte alignment). A load or store past its end
  faults and is reported with the instruction's address and the buffer it overran. Inputs
  are mapped read-only. The bytes between a buffer's start and the page boundary before
  it, and the few after the end of a malloc block, hold a canary checked after the call,
  so stray stores there are caught too; stray loads of those bytes are not. Freed blocks
  are unmapped, so a use after free faults. Outputs start filled with NaN, so an element
  the library never writes shows up.

    outputs = run_x86_emulated("build/m.so", "sepc_m", [x], [(1, 32, 32, 32)])
    arrays = run_manifest_x86_emulated("build/m.json", {"x": x})

Emulation runs at a few million instructions per second (Bochs computes every float lane
in software): fine for test-sized models, not for benchmarks. Calls are serialized by a
lock (Bochs has one global CPU). There is no instruction limit: a library that loops
forever hangs the caller.

bochscpu-python 0.4.0's Linux wheel needs glibc 2.38 (two C23 symbols) although it is
tagged manylinux_2_28; on an older glibc a 2-function shim is built with `cc` on first use
(cached under ~/.cache/sepc) and loaded before it.
"""
from __future__ import annotations

import atexit
import bisect
import ctypes
import hashlib
import mmap
import os
import shutil
import struct
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from .emulator import EmulatorError
from .library import verified_image
from .manifest import LoadError, as_manifest

BOCHSCPU_REQUIREMENT = "bochscpu-python==0.4.0"

PAGE = 4096
_MASK64 = (1 << 64) - 1
# Page-table entry bits.
_P, _W, _U, _NX = 1, 2, 4, 1 << 63
# Virtual layout: nothing below _FIRST_VA (NULL and small pointers fault), each mapping
# preceded by an unmapped gap, trap addresses on a range that is never mapped.
_FIRST_VA = 0x1000_0000
_GAP = 1 << 20
_TRAP_BASE = 0x7FF0_0000_0000
_TRAP_STRIDE = 16
_RETURN_TRAP = _TRAP_BASE                  # where a call from Python returns to
_FORK_RETURN_TRAP = _TRAP_BASE + _TRAP_STRIDE  # where a fork_call's microtask returns to
_FIRST_IMPORT_TRAP = _TRAP_BASE + 2 * _TRAP_STRIDE
_STACK_SIZE = 8 << 20
_CANARY = 0xA5
_MALLOC_ALIGN = 16
# Guest-physical pages are never reused within a process: Bochs caches decoded
# instructions by physical address, and a new run's code at an old address could
# otherwise execute the old run's decoded instructions. Kept below 2**39 (the emulated
# CPU's physical address width).
_PHYS_START = 0x10_0000
_PHYS_LIMIT = 1 << 39
_next_phys = _PHYS_START
_lock = threading.Lock()

_EXCEPTIONS = {0: "divide error (#DE)", 1: "debug exception (#DB)", 3: "breakpoint (#BP)",
               4: "overflow (#OF)", 5: "bound range exceeded (#BR)",
               6: "invalid or unsupported instruction (#UD)",
               7: "device not available (#NM)", 8: "double fault (#DF)",
               10: "invalid TSS (#TS)", 11: "segment not present (#NP)",
               12: "stack-segment fault (#SS)", 13: "general protection fault (#GP)",
               14: "page fault (#PF)", 16: "x87 floating-point exception (#MF)",
               17: "alignment check (#AC)", 18: "machine check (#MC)",
               19: "SIMD floating-point exception (#XM)", 21: "control protection (#CP)"}


class X86EmulatorError(EmulatorError):
    """The emulated run could not happen or the library misbehaved; the message says why."""


class GuestMemoryError(X86EmulatorError):
    """The library accessed memory it must not: out of a buffer's bounds, a write to an
    input, a use after free. `address` is the offending address, `rip` the instruction's
    (None when an imported function was handed the bad range)."""

    def __init__(self, message: str, address: int, rip: int | None):
        super().__init__(message)
        self.address = address
        self.rip = rip


# --------------------------------------------------------------------------- bochscpu

_GLIBC_SHIM = r"""
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
/* C23 names glibc 2.38 gave these; the C17 behaviour differs only for "0b" prefixes. */
unsigned long long __isoc23_strtoull(const char *s, char **e, int b) { return strtoull(s, e, b); }
long long __isoc23_strtoll(const char *s, char **e, int b) { return strtoll(s, e, b); }
unsigned long __isoc23_strtoul(const char *s, char **e, int b) { return strtoul(s, e, b); }
long __isoc23_strtol(const char *s, char **e, int b) { return strtol(s, e, b); }
int __isoc23_vsscanf(const char *s, const char *f, va_list ap) { return vsscanf(s, f, ap); }
int __isoc23_sscanf(const char *s, const char *f, ...) {
    va_list ap; va_start(ap, f); int r = vsscanf(s, f, ap); va_end(ap); return r;
}
"""
_bochscpu = None


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sepc"


def _glibc_shim() -> Path:
    source = _GLIBC_SHIM.encode()
    path = _cache_dir() / f"bochscpu_glibc_compat-{hashlib.sha256(source).hexdigest()[:16]}.so"
    if path.exists():
        return path
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise X86EmulatorError("bochscpu needs glibc 2.38 symbols (__isoc23_*) this glibc "
                               "lacks, and no C compiler (cc) is there to build the shim")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        c_file, built = Path(tmp) / "shim.c", Path(tmp) / "shim.so"
        c_file.write_bytes(source)
        done = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(built), str(c_file)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise X86EmulatorError(f"building the glibc shim for bochscpu failed: "
                                   f"{done.stderr.strip()[-500:]}")
        os.replace(built, path)
    return path


def import_bochscpu():
    """The bochscpu module (raises X86EmulatorError naming the pip pin when missing)."""
    global _bochscpu
    if _bochscpu is not None:
        return _bochscpu
    try:
        import bochscpu  # noqa: F401
    except ImportError as e:
        if "__isoc23_" not in str(e):
            raise X86EmulatorError(f"the x86 emulator needs bochscpu: pip install "
                                   f"{BOCHSCPU_REQUIREMENT} ({e})") from None
        ctypes.CDLL(str(_glibc_shim()), mode=ctypes.RTLD_GLOBAL)
        try:
            import bochscpu  # noqa: F401,F811
        except ImportError as e2:
            raise X86EmulatorError(f"bochscpu cannot be imported even with the glibc shim: "
                                   f"{e2}") from None
    import bochscpu.cpu
    import bochscpu.memory
    _bochscpu = bochscpu
    return bochscpu


class _Session:
    """The process's one bochscpu Session (a second one, even after the first is
    dropped but not yet collected, crashes bochscpu), with one exception hook, both
    forwarding to the machine running now."""

    def __init__(self, bx):
        self.sess = bx.Session()
        self.machine: _Machine | None = None
        self.sess.missing_page_handler = self._missing_page
        self.hook = bx.Hook()
        self.hook.exception = self._exception

    def _exception(self, sess, cpu_id, vector, error_code):
        if self.machine is not None:
            self.machine.exception(vector, error_code)
        sess.stop()

    def _missing_page(self, gpa):
        if self.machine is not None:
            self.machine.missing_page(gpa)
        self.sess.stop()


_the_session: _Session | None = None


def _session() -> _Session:
    global _the_session
    if _the_session is None:
        _the_session = _Session(import_bochscpu())
        atexit.register(_drop_session)
    return _the_session


def _ignore(*args) -> None:
    pass


def _drop_session() -> None:
    """Breaks the session <-> callback cycles (invisible to the garbage collector) so that
    the objects are freed before exit: nanobind otherwise prints some 70 lines of "leaked"
    warnings at exit."""
    global _the_session
    session, _the_session = _the_session, None
    if session is not None:
        session.hook.exception = _ignore
        session.sess.missing_page_handler = _ignore


def bochscpu_available() -> bool:
    """Whether the emulator can run here (bochscpu importable)."""
    try:
        import_bochscpu()
    except X86EmulatorError:
        return False
    return True


# --------------------------------------------------------------------------- ELF

@dataclass
class _Segment:
    vaddr: int
    memsz: int
    offset: int
    filesz: int
    flags: int  # PF_X=1, PF_W=2, PF_R=4


@dataclass
class _Symbol:
    name: str
    value: int
    size: int
    kind: int     # STT_*
    bind: int     # STB_*
    defined: bool


@dataclass
class _Elf:
    image: bytes
    segments: list[_Segment]
    dynamic: dict[int, list[int]]
    dynsyms: list[_Symbol]
    relocations: list[tuple[int, int, int, int]]  # offset, type, symbol index, addend
    functions: list[tuple[int, int, str]]          # value, size, name: for messages

    @property
    def span(self) -> int:
        return max(s.vaddr + s.memsz for s in self.segments)

    def exported(self, name: str) -> int | None:
        for sym in self.dynsyms:
            if sym.name == name and sym.defined and sym.kind == 2:  # STT_FUNC
                return sym.value
        return None


_DT_NEEDED, _DT_PLTRELSZ, _DT_HASH, _DT_STRTAB, _DT_SYMTAB, _DT_RELA = 1, 2, 4, 5, 6, 7
_DT_RELASZ, _DT_STRSZ, _DT_INIT, _DT_PLTREL, _DT_JMPREL = 8, 10, 12, 20, 23
_DT_INIT_ARRAY, _DT_INIT_ARRAYSZ, _DT_GNU_HASH = 25, 27, 0x6FFFFEF5


def _parse_elf(image: bytes, path: str) -> _Elf:
    def fail(why: str) -> X86EmulatorError:
        return X86EmulatorError(f"{path}: {why}")

    if image[:4] != b"\x7fELF":
        raise fail("not an ELF file")
    if image[4] != 2 or image[5] != 1:
        raise fail("not a 64-bit little-endian ELF file")
    (e_type, e_machine, _, _, e_phoff, e_shoff, _, _, e_phentsize, e_phnum, e_shentsize,
     e_shnum, _) = struct.unpack_from("<HHIQQQIHHHHHH", image, 16)
    if e_machine != 62:
        raise fail(f"not an x86-64 library (e_machine {e_machine})")
    if e_type != 3:
        raise fail("not a shared library (ELF type ET_DYN)")

    segments, dynamic_at = [], None
    for i in range(e_phnum):
        p_type, p_flags, p_offset, p_vaddr, _, p_filesz, p_memsz, _ = struct.unpack_from(
            "<IIQQQQQQ", image, e_phoff + i * e_phentsize)
        if p_type == 1:  # PT_LOAD
            segments.append(_Segment(p_vaddr, p_memsz, p_offset, p_filesz, p_flags))
        elif p_type == 2:  # PT_DYNAMIC
            dynamic_at = (p_offset, p_filesz)
        elif p_type == 7:  # PT_TLS
            raise fail("thread-local storage (PT_TLS) is not supported by the emulator")
    if not segments:
        raise fail("no loadable segments")
    if dynamic_at is None:
        raise fail("no dynamic section")

    def file_offset(vaddr: int) -> int:
        for s in segments:
            if s.vaddr <= vaddr < s.vaddr + s.filesz:
                return vaddr - s.vaddr + s.offset
        raise fail(f"address {vaddr:#x} of the dynamic section is not in the file")

    dynamic: dict[int, list[int]] = {}
    offset, size = dynamic_at
    for at in range(offset, offset + size, 16):
        tag, value = struct.unpack_from("<qQ", image, at)
        if tag == 0:
            break
        dynamic.setdefault(tag, []).append(value)

    def dyn(tag: int, default: int | None = None) -> int:
        if tag in dynamic:
            return dynamic[tag][0]
        if default is None:
            raise fail(f"dynamic tag {tag} missing")
        return default

    strtab = file_offset(dyn(_DT_STRTAB))

    def string(at: int) -> str:
        end = image.index(b"\0", strtab + at)
        return image[strtab + at:end].decode("utf-8", "replace")

    # Section headers give the symbol tables' sizes; without them, the hash tables do.
    sections = []
    if e_shoff and e_shnum:
        for i in range(e_shnum):
            sections.append(struct.unpack_from("<IIQQQQIIQQ", image, e_shoff + i * e_shentsize))
    nsyms = None
    for (_, sh_type, _, _, _, sh_size, _, _, _, sh_entsize) in sections:
        if sh_type == 11:  # SHT_DYNSYM
            nsyms = sh_size // (sh_entsize or 24)
    if nsyms is None and _DT_HASH in dynamic:
        nsyms = struct.unpack_from("<II", image, file_offset(dyn(_DT_HASH)))[1]
    if nsyms is None and _DT_GNU_HASH in dynamic:
        nsyms = _gnu_hash_symbol_count(image, file_offset(dyn(_DT_GNU_HASH)))
    if nsyms is None:
        raise fail("cannot tell the size of the dynamic symbol table")

    def read_symbols(at: int, count: int, names: Callable[[int], str]) -> list[_Symbol]:
        out = []
        for i in range(count):
            st_name, st_info, _, st_shndx, st_value, st_size = struct.unpack_from(
                "<IBBHQQ", image, at + 24 * i)
            out.append(_Symbol(names(st_name), st_value, st_size, st_info & 15, st_info >> 4,
                               st_shndx != 0))
        return out

    dynsyms = read_symbols(file_offset(dyn(_DT_SYMTAB)), nsyms, string)

    relocations = []
    for table, size_tag in ((_DT_RELA, _DT_RELASZ), (_DT_JMPREL, _DT_PLTRELSZ)):
        if table not in dynamic:
            continue
        if table == _DT_JMPREL and dyn(_DT_PLTREL, _DT_RELA) != _DT_RELA:
            raise fail("PLT relocations are not RELA")
        at = file_offset(dyn(table))
        for i in range(dyn(size_tag, 0) // 24):
            r_offset, r_info, r_addend = struct.unpack_from("<QQq", image, at + 24 * i)
            relocations.append((r_offset, r_info & 0xFFFFFFFF, r_info >> 32, r_addend))

    functions = [(s.value, s.size, s.name) for s in dynsyms if s.defined and s.kind == 2]
    for (_, sh_type, _, _, sh_offset, sh_size, sh_link, _, _, _) in sections:
        if sh_type == 2:  # SHT_SYMTAB: local functions too (outlined OpenMP bodies)
            link = sections[sh_link]
            str_at = link[4]

            def local_name(at: int, base: int = str_at) -> str:
                end = image.index(b"\0", base + at)
                return image[base + at:end].decode("utf-8", "replace")
            functions += [(s.value, s.size, s.name)
                          for s in read_symbols(sh_offset, sh_size // 24, local_name)
                          if s.defined and s.kind == 2 and s.name]
    functions = sorted(set(functions))
    return _Elf(image, segments, dynamic, dynsyms, relocations, functions)


def _gnu_hash_symbol_count(image: bytes, at: int) -> int:
    nbuckets, symoffset, bloom_size, _ = struct.unpack_from("<IIII", image, at)
    buckets_at = at + 16 + 8 * bloom_size
    buckets = struct.unpack_from(f"<{nbuckets}I", image, buckets_at)
    last = max(buckets, default=0)
    if last < symoffset:
        return symoffset
    chain_at = buckets_at + 4 * nbuckets
    while not struct.unpack_from("<I", image, chain_at + 4 * (last - symoffset))[0] & 1:
        last += 1
    return last + 1


# --------------------------------------------------------------------------- memory

@dataclass(eq=False)
class _Region:
    name: str
    kind: str          # "image", "stack", "tls", "input", "output", "heap"
    va: int            # first mapped byte (page-aligned)
    size: int          # mapped bytes (whole pages)
    start: int         # first byte of the buffer proper
    length: int        # its size in bytes
    pa: int
    data: np.ndarray   # uint8 view of the host memory behind it
    writable: np.ndarray  # per page
    freed: bool = False
    host: mmap.mmap | None = field(default=None, repr=False)

    @property
    def end(self) -> int:
        return self.start + self.length


class _Memory:
    """Guest memory: identity-free 4-level page tables built here, host pages from mmap."""

    def __init__(self, bx):
        self.bx = bx
        self.regions: list[_Region] = []  # sorted by va
        self.starts: list[int] = []
        self.freed: list[_Region] = []
        self.next_va = _FIRST_VA
        self.inserted: list[int] = []      # guest-physical pages handed to bochscpu
        self.keep: list[object] = []       # host memory that must outlive the run
        self.tables: dict[tuple[int, int], np.ndarray] = {}
        self.tlb_stale = False
        self.pml4_pa, self.pml4 = self._new_table()

    # physical memory
    def _host_pages(self, npages: int) -> tuple[int, np.ndarray, mmap.mmap]:
        global _next_phys
        if _next_phys + npages * PAGE > _PHYS_LIMIT:
            raise X86EmulatorError("the emulator's guest-physical address space is used up "
                                   "in this process; run in a fresh process")
        pa = _next_phys
        _next_phys += npages * PAGE
        host = mmap.mmap(-1, npages * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        data = np.frombuffer(host, dtype=np.uint8)
        hva = data.ctypes.data
        for i in range(npages):
            self.bx.memory.page_insert(pa + i * PAGE, hva + i * PAGE)
            self.inserted.append(pa + i * PAGE)
        self.keep.append((host, data))
        return pa, data, host

    def _new_table(self) -> tuple[int, np.ndarray]:
        pa, data, _ = self._host_pages(1)
        return pa, data.view(np.uint64)

    def _page_table(self, va: int) -> np.ndarray:
        table = self.pml4
        for level, shift in ((4, 39), (3, 30), (2, 21)):
            key = (level, va >> shift)
            child = self.tables.get(key)
            index = (va >> shift) & 511
            if child is None:
                pa, child = self._new_table()
                self.tables[key] = child
                table[index] = pa | _P | _W | _U
            table = child
        return table

    def _set_ptes(self, va: int, pa: int, npages: int, flags: np.ndarray | int) -> None:
        flags = np.broadcast_to(np.asarray(flags, dtype=np.uint64), (npages,))
        done = 0
        while done < npages:
            table = self._page_table(va + done * PAGE)
            index = ((va + done * PAGE) >> 12) & 511
            n = min(npages - done, 512 - index)
            frames = np.uint64(pa + done * PAGE) + np.arange(n, dtype=np.uint64) * np.uint64(PAGE)
            table[index:index + n] = np.where(flags[done:done + n] != 0,
                                              frames | flags[done:done + n], np.uint64(0))
            done += n

    # regions
    def map(self, name: str, kind: str, length: int, *, writable: bool = True,
            executable: bool = False, end_align: int = 4,
            page_flags: np.ndarray | None = None) -> _Region:
        """A new mapping of `length` bytes between guard gaps, ending at a page boundary
        (rounded up to end_align)."""
        padded = -(-max(length, 1) // end_align) * end_align
        npages = max(1, -(-padded // PAGE))
        va = self.next_va + _GAP
        self.next_va = va + npages * PAGE
        if self.next_va + _GAP >= _TRAP_BASE:
            raise X86EmulatorError("the emulated address space is used up")
        pa, data, host = self._host_pages(npages)
        if page_flags is None:
            flags = _P | _U | (_W if writable else 0) | (0 if executable else _NX)
            page_flags = np.full(npages, flags, dtype=np.uint64)
        self._set_ptes(va, pa, npages, page_flags)
        start = va + npages * PAGE - padded
        region = _Region(name, kind, va, npages * PAGE, start, length, pa, data,
                         (page_flags & np.uint64(_W)) != 0, host=host)
        data[:start - va] = _CANARY
        data[start - va + length:] = _CANARY
        at = bisect.bisect(self.starts, va)
        self.starts.insert(at, va)
        self.regions.insert(at, region)
        return region

    def unmap(self, region: _Region) -> None:
        self._set_ptes(region.va, region.pa, region.size // PAGE, 0)
        at = self.regions.index(region)
        del self.regions[at], self.starts[at]
        region.freed = True
        self.freed.append(region)
        self.tlb_stale = True
        if region.host is not None and region.size >= 16 * PAGE:
            region.host.madvise(mmap.MADV_DONTNEED)  # give the memory back, keep the mapping

    def region_at(self, va: int) -> _Region | None:
        at = bisect.bisect(self.starts, va) - 1
        if at >= 0:
            region = self.regions[at]
            if va < region.va + region.size:
                return region
        return None

    def check_canaries(self, region: _Region) -> None:
        head = region.data[:region.start - region.va]
        tail = region.data[region.end - region.va:]
        for part, where, base in ((head, "before the start", region.va),
                                  (tail, "after the end", region.end)):
            bad = np.flatnonzero(part != _CANARY)
            if bad.size:
                address = base + int(bad[0])
                raise GuestMemoryError(
                    f"the library wrote {bad.size} byte(s) {where} of {region.name} "
                    f"(first at {address:#x}, {self.describe(address)}): an out-of-bounds "
                    f"store within the buffer's last page", address, None)

    def describe(self, address: int) -> str:
        """Where an address lies, relative to the nearest buffer."""
        candidates = list(self.regions) + list(self.freed)
        if not candidates:
            return "no buffer nearby"
        inside = [r for r in candidates if r.va <= address < r.va + r.size]
        live = [r for r in inside if not r.freed]
        if live or inside:
            region = (live or inside)[0]
        else:
            def distance(r: _Region) -> int:
                return r.start - address if address < r.start else address - r.end + 1
            region = min(candidates, key=distance)
        what = f"{region.name} ({region.length} bytes at {region.start:#x}"
        what += ", freed)" if region.freed else ")"
        if address < region.start:
            return f"{region.start - address} bytes before the start of {what}"
        if address >= region.end:
            return f"{address - region.end} bytes past the end of {what}"
        return f"offset {address - region.start} in {what}"

    def view(self, address: int, size: int, *, write: bool, what: str) -> np.ndarray:
        """The host bytes of a guest range, for an imported function; the whole range must
        lie in one live buffer (and be writable when written)."""
        region = self.region_at(address)
        if region is not None and region.kind == "image":
            first = address - region.va
            ok = region.va <= address and address + size <= region.va + region.size and (
                not write or region.writable[first // PAGE:(first + size - 1) // PAGE + 1].all())
        else:
            ok = (region is not None and region.start <= address
                  and address + size <= region.end and (not write or region.writable.all()))
        if not ok:
            end = address + size - 1
            bad = address if region is None or address < region.start else end
            reason = "write to read-only memory" if (
                region is not None and write and region.start <= address
                and address + size <= region.end) else "out of bounds"
            raise GuestMemoryError(
                f"{what}: {reason}: the range {address:#x}..{end:#x} ({size} bytes) starts "
                f"{self.describe(address)} and ends {self.describe(end)}", bad, None)
        assert region is not None  # the check above raised otherwise
        return region.data[address - region.va:address - region.va + size]

    def read_u64(self, address: int) -> int:
        return int(self.view(address, 8, write=False, what="reading the stack").view(np.uint64)[0])

    def write_u64(self, address: int, value: int) -> None:
        self.view(address, 8, write=True, what="writing the stack").view(np.uint64)[0] = \
            value & _MASK64

    def release(self) -> None:
        for pa in self.inserted:
            self.bx.memory.page_remove(pa)
        self.inserted.clear()
        self.regions.clear()
        self.freed.clear()
        self.tables.clear()
        self.keep.clear()


# --------------------------------------------------------------------------- the machine

class _Machine:
    def __init__(self, image: bytes, library_path: str):
        self.bx = bx = import_bochscpu()
        self.path = library_path
        self.elf = _parse_elf(image, library_path)
        self.memory = _Memory(bx)
        self._attach()
        self.traps: dict[int, tuple[str, Callable[[], None]]] = {}
        self.forks: list[tuple[int, int]] = []  # return address, rsp, per active fork_call
        self.trap_count = 0
        self.calls: dict[str, int] = {}
        self._load()
        self._setup_cpu()

    def _attach(self) -> None:
        session = _session()
        session.machine = self
        self.session = session
        self.sess, self.hook = session.sess, session.hook
        self.cpu = self.sess.cpu
        self.events: list[tuple[int, int, int, int]] = []

    # bochscpu callbacks (the session stops the CPU after them): never raise, record
    def exception(self, vector: int, error_code: int) -> None:
        self.events.append((vector, error_code, self.cpu.rip, self.cpu.cr2))

    def missing_page(self, gpa: int) -> None:
        # Only reached when this module's page tables are wrong: map a blank page so Bochs
        # does not crash, and fail the run.
        self.events.append((-1, 0, self.cpu.rip, gpa))
        host = mmap.mmap(-1, PAGE)
        data = np.frombuffer(host, dtype=np.uint8)
        self.memory.keep.append((host, data))
        self.bx.memory.page_insert(gpa & ~(PAGE - 1), data.ctypes.data)
        self.memory.inserted.append(gpa & ~(PAGE - 1))

    # loading
    def _load(self) -> None:
        elf, memory = self.elf, self.memory
        span = -(-elf.span // PAGE) * PAGE
        npages = span // PAGE
        flags = np.zeros(npages, dtype=np.uint64)
        for s in elf.segments:
            first, last = s.vaddr // PAGE, (s.vaddr + s.memsz - 1) // PAGE
            bits = _P | _U | (_W if s.flags & 2 else 0)
            flags[first:last + 1] |= np.uint64(bits)
            if s.flags & 1:
                flags[first:last + 1] |= np.uint64(1 << 62)  # marks executable, for below
        nx = (flags & np.uint64(1 << 62)) == 0
        flags &= ~np.uint64(1 << 62)
        flags[nx & (flags != 0)] |= np.uint64(_NX)
        image = memory.map(f"the library image {os.path.basename(self.path)}", "image", span,
                           page_flags=flags)
        self.base = base = image.va
        assert image.start == base
        for s in elf.segments:
            image.data[s.vaddr:s.vaddr + s.filesz] = np.frombuffer(
                elf.image, dtype=np.uint8, count=s.filesz, offset=s.offset)
        self.image = image

        handlers = self._import_handlers()
        trap = _FIRST_IMPORT_TRAP
        resolved: dict[int, int] = {}
        for index, sym in enumerate(elf.dynsyms):
            if index == 0:
                continue
            if sym.defined:
                resolved[index] = base + sym.value
            elif sym.name in handlers or sym.bind != 2:  # not STB_WEAK: must resolve
                name = sym.name
                handler = handlers.get(name) or self._unsupported(name)
                self.traps[trap] = (name, handler)
                resolved[index] = trap
                trap += _TRAP_STRIDE
            else:
                resolved[index] = 0  # weak undefined: __cxa_finalize, __gmon_start__, _ITM_*
        data = image.data
        for offset, rtype, sym_index, addend in elf.relocations:
            if rtype == 0:  # R_X86_64_NONE
                continue
            if rtype == 8:  # R_X86_64_RELATIVE
                value = base + addend
            elif rtype in (1, 6, 7):  # R_X86_64_64, GLOB_DAT, JUMP_SLOT
                value = resolved[sym_index] + (addend if rtype == 1 else 0)
            else:
                name = elf.dynsyms[sym_index].name if sym_index else ""
                raise X86EmulatorError(f"{self.path}: relocation type {rtype} ({name}) is not "
                                       f"supported by the emulator")
            data[offset:offset + 8] = np.frombuffer(struct.pack("<Q", value & _MASK64),
                                                    dtype=np.uint8)

        self.stack = memory.map("the stack", "stack", _STACK_SIZE, end_align=PAGE)
        self.tls = memory.map("the thread control block", "tls", PAGE, end_align=PAGE)
        tcb = self.tls.start
        self.tls.data[0:8] = np.frombuffer(struct.pack("<Q", tcb), np.uint8)          # self
        self.tls.data[0x28:0x30] = np.frombuffer(struct.pack("<Q", 0x5E9C_0DE5_CA9A_12D0),
                                                 np.uint8)                           # canary

    def _setup_cpu(self) -> None:
        bx = self.bx
        state = bx.State()
        bx.cpu.set_long_mode(state)
        state.cr3 = self.memory.pml4_pa
        state.cr4 = state.cr4 | (1 << 9) | (1 << 10) | (1 << 18)  # OSFXSR OSXMMEXCPT OSXSAVE
        state.xcr0 = 0xE7  # x87 SSE AVX opmask ZMM_Hi256 Hi16_ZMM
        state.mxcsr = 0x1F80
        state.mxcsr_mask = 0xFFFF
        state.fpcw = 0x37F
        state.rflags = 0x2
        code = bx.Segment()
        code.present, code.selector, code.base = True, 0x33, 0
        code.limit, code.attr = 0xFFFFFFFF, 0x22FB
        state.cs = code

        def data_segment(base: int = 0):
            seg = bx.Segment()
            seg.present, seg.selector, seg.base = True, 0x2B, base
            seg.limit, seg.attr = 0xFFFFFFFF, 0xCF3
            return seg
        state.ds, state.es, state.ss, state.gs = (data_segment() for _ in range(4))
        state.fs = data_segment(self.tls.start)
        state.rsp = self.stack.end - 64
        self.cpu.state = state

    # running
    def call(self, function: int, args: Sequence[int]) -> int:
        """Calls a guest function with integer/pointer arguments; returns rax."""
        cpu, memory = self.cpu, self.memory
        stack_args = list(args[6:])
        top = self.stack.end - 256
        sp = (top - 8 * len(stack_args)) & ~15
        for i, value in enumerate(stack_args):
            memory.write_u64(sp + 8 * i, value)
        sp -= 8
        memory.write_u64(sp, _RETURN_TRAP)
        registers = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")
        for name, value in zip(registers, args, strict=False):
            setattr(cpu, name, value & _MASK64)
        cpu.rsp = sp
        cpu.rip = function
        self.forks.clear()
        while True:
            if memory.tlb_stale:
                cpu.state = cpu.state  # set_state flushes the TLB (writing CR3 does not)
                memory.tlb_stale = False
            self.events.clear()
            self.sess.run([self.hook])
            if not self.events:
                raise X86EmulatorError(f"the emulated CPU stopped without an exception at "
                                       f"{self.symbolize(cpu.rip)}")
            vector, error, rip, cr2 = self.events[0]
            if vector == 14 and error & 0x10 and rip == cr2 and rip >= _TRAP_BASE:
                self.trap_count += 1
                if rip == _RETURN_TRAP:
                    if self.forks:
                        raise X86EmulatorError("returned from the call inside a parallel region")
                    return cpu.rax
                if rip == _FORK_RETURN_TRAP and self.forks:
                    return_address, rsp = self.forks.pop()
                    cpu.rsp = rsp + 8
                    cpu.rip = return_address
                    continue
                if rip in self.traps:
                    name, handler = self.traps[rip]
                    self.calls[name] = self.calls.get(name, 0) + 1
                    handler()
                    continue
            raise self._fault(vector, error, rip, cr2)

    def _fault(self, vector: int, error: int, rip: int, cr2: int) -> X86EmulatorError:
        where = self.symbolize(rip)
        if vector == -1:
            return X86EmulatorError(f"internal error: guest-physical page {cr2:#x} missing "
                                    f"(instruction at {where})")
        if vector == 14:
            kind = "execution" if error & 0x10 else "write" if error & 2 else "read"
            if error & 1:
                why = ("the page is not writable" if kind == "write"
                       else "the page is not executable" if kind == "execution"
                       else "protection violation")
            else:
                why = "nothing is mapped there"
            if cr2 >= _TRAP_BASE:
                target = self._trap_name(cr2)
                return GuestMemoryError(f"{kind} of {cr2:#x} ({target}) by the instruction at "
                                        f"{where}", cr2, rip)
            freed = not error & 1 and self.memory.region_at(cr2) is None and any(
                r.va <= cr2 < r.va + r.size for r in self.memory.freed)
            what = (f"forbidden {kind}" if error & 1 else f"use after free: {kind}" if freed
                    else f"out-of-bounds {kind}")
            return GuestMemoryError(
                f"{what} at {cr2:#x} by the instruction at {where}: {why}; the address is "
                f"{self.memory.describe(cr2)}", cr2, rip)
        name = _EXCEPTIONS.get(vector, f"exception {vector}")
        detail = ""
        if vector == 6:
            detail = f"; instruction bytes {self._code_bytes(rip)} (the emulated CPU is an " \
                     f"Intel Cannon Lake: AVX-512 F/CD/DQ/BW/VL/IFMA/VBMI, no VNNI/BF16/FP16)"
        elif vector == 13:
            detail = "; e.g. an aligned SSE/AVX access to a misaligned address, or a " \
                     f"non-canonical address; instruction bytes {self._code_bytes(rip)}"
        return X86EmulatorError(f"{name} at {where}{detail}")

    def _code_bytes(self, rip: int) -> str:
        region = self.memory.region_at(rip)
        if region is None:
            return "(unmapped)"
        at = rip - region.va
        return region.data[at:at + 15].tobytes().hex(" ")

    def _trap_name(self, address: int) -> str:
        if address == _RETURN_TRAP:
            return "the emulator's return address"
        slot = address - (address - _TRAP_BASE) % _TRAP_STRIDE
        if slot in self.traps:
            return f"the imported symbol {self.traps[slot][0]}"
        return "an unmapped trap address"

    def symbolize(self, address: int) -> str:
        if address >= _TRAP_BASE:
            return f"{address:#x} ({self._trap_name(address)})"
        offset = address - self.base
        if not 0 <= offset < self.image.size:
            return f"{address:#x} (outside the library: {self.memory.describe(address)})"
        functions = self.elf.functions
        at = bisect.bisect(functions, (offset, 1 << 64, "")) - 1
        name = ""
        if at >= 0:
            value, size, symbol = functions[at]
            if offset < value + max(size, 1):
                name = f" {symbol}+{offset - value:#x}"
        return f"{address:#x} (library offset {offset:#x}{name})"

    # imported functions
    def _return(self, value: int | None = None) -> None:
        cpu = self.cpu
        rsp = cpu.rsp
        cpu.rip = self.memory.read_u64(rsp)
        cpu.rsp = rsp + 8
        if value is not None:
            cpu.rax = value & _MASK64

    def _unsupported(self, name: str) -> Callable[[], None]:
        def handler() -> None:
            raise X86EmulatorError(f"the library called {name}, an imported function the x86 "
                                   f"emulator does not provide")
        return handler

    def _import_handlers(self) -> dict[str, Callable[[], None]]:
        cpu, memory = self.cpu, self.memory

        def const(value: int | None) -> Callable[[], None]:
            return lambda: self._return(value)

        def allocate(size: int, align: int = _MALLOC_ALIGN) -> int:
            if size >= 1 << 40:
                return 0
            region = memory.map(f"malloc block #{len(memory.freed) + len(memory.regions)}",
                                "heap", size, end_align=max(align, _MALLOC_ALIGN))
            return region.start

        def heap_block(pointer: int, what: str) -> _Region:
            region = memory.region_at(pointer)
            if region is None or region.kind != "heap" or region.start != pointer:
                freed = [r for r in memory.freed if r.kind == "heap" and r.start == pointer]
                why = "a block already freed" if freed else "not a block malloc returned"
                raise GuestMemoryError(f"{what}({pointer:#x}): {why} "
                                       f"({memory.describe(pointer)})", pointer, None)
            return region

        def release(pointer: int, what: str) -> None:
            if pointer:
                region = heap_block(pointer, what)
                memory.check_canaries(region)
                memory.unmap(region)

        def malloc() -> None:
            self._return(allocate(cpu.rdi))

        def calloc() -> None:
            count, size = cpu.rdi, cpu.rsi
            self._return(allocate(count * size))  # fresh mappings are zero

        def aligned_alloc() -> None:
            align, size = cpu.rdi, cpu.rsi
            self._return(allocate(size, align) if align and not align & (align - 1) else 0)

        def posix_memalign() -> None:
            out, align, size = cpu.rdi, cpu.rsi, cpu.rdx
            if not align or align & (align - 1) or align % 8:
                self._return(22)  # EINVAL
                return
            memory.view(out, 8, write=True, what="posix_memalign")[:] = np.frombuffer(
                struct.pack("<Q", allocate(size, align)), np.uint8)
            self._return(0)

        def realloc() -> None:
            pointer, size = cpu.rdi, cpu.rsi
            new = allocate(size)
            if pointer:
                old = heap_block(pointer, "realloc")
                n = min(old.length, size)
                memory.view(new, n, write=True, what="realloc")[:] = \
                    memory.view(pointer, n, write=False, what="realloc")
                release(pointer, "realloc")
            self._return(new)

        def free() -> None:
            release(cpu.rdi, "free")
            self._return()

        def memset() -> None:
            dst, value, n = cpu.rdi, cpu.rsi & 0xFF, cpu.rdx
            if n:
                memory.view(dst, n, write=True, what=f"memset(dst={dst:#x}, n={n})")[:] = value
            self._return(dst)

        def memcpy() -> None:
            dst, src, n = cpu.rdi, cpu.rsi, cpu.rdx
            if n:
                what = f"memcpy(dst={dst:#x}, src={src:#x}, n={n})"
                source = memory.view(src, n, write=False, what=what)
                target = memory.view(dst, n, write=True, what=what)
                if dst < src + n and src < dst + n:
                    raise GuestMemoryError(f"{what}: the ranges overlap (undefined "
                                           f"behaviour; memmove is for that)", dst, None)
                target[:] = source
            self._return(dst)

        def memmove() -> None:
            dst, src, n = cpu.rdi, cpu.rsi, cpu.rdx
            if n:
                what = f"memmove(dst={dst:#x}, src={src:#x}, n={n})"
                source = memory.view(src, n, write=False, what=what).copy()
                memory.view(dst, n, write=True, what=what)[:] = source
            self._return(dst)

        def fork_call() -> None:
            # __kmpc_fork_call(loc, argc, microtask, ...): microtask(&gtid, &btid, ...)
            rsp = cpu.rsp
            argc, microtask = cpu.rsi & 0xFFFFFFFF, cpu.rdx
            passed = [cpu.rcx, cpu.r8, cpu.r9]
            passed += [memory.read_u64(rsp + 8 * (1 + i)) for i in range(max(0, argc - 3))]
            passed = passed[:argc]
            return_address = memory.read_u64(rsp)
            ids = rsp - 16                         # gtid and btid: two int32 zeros
            memory.write_u64(ids, 0)
            args = [ids, ids + 4] + passed
            stack_args = args[6:]
            sp = (ids - 16 - 8 * len(stack_args)) & ~15
            for i, value in enumerate(stack_args):
                memory.write_u64(sp + 8 * i, value)
            sp -= 8
            memory.write_u64(sp, _FORK_RETURN_TRAP)
            for name, value in zip(("rdi", "rsi", "rdx", "rcx", "r8", "r9"), args, strict=False):
                setattr(cpu, name, value)
            self.forks.append((return_address, rsp))
            cpu.rsp = sp
            cpu.rip = microtask

        return {
            "malloc": malloc, "calloc": calloc, "realloc": realloc, "free": free,
            "aligned_alloc": aligned_alloc, "posix_memalign": posix_memalign,
            "memset": memset, "memcpy": memcpy, "memmove": memmove,
            "omp_get_num_threads": const(1), "omp_get_max_threads": const(1),
            "omp_get_thread_num": const(0), "omp_set_num_threads": const(None),
            "omp_in_parallel": const(0), "omp_get_num_procs": const(1),
            "__kmpc_global_thread_num": const(0), "__kmpc_fork_call": fork_call,
            "__kmpc_push_num_threads": const(None), "__kmpc_barrier": const(None),
        }

    def close(self) -> None:
        if self.session.machine is self:
            self.session.machine = None
        self.memory.release()


# --------------------------------------------------------------------------- public API

def run_x86_emulated(library_path: str | os.PathLike[str], entry: str,
                     inputs: Sequence[np.ndarray],
                     output_shapes: Sequence[Sequence[int]],
                     stats: dict | None = None,
                     image: bytes | None = None) -> list[np.ndarray]:
    """Calls `void entry(const float *in_0, ..., float *out_0, ...)` of an x86-64 shared
    library once on the emulated CPU; returns the outputs (float32, of output_shapes).

    Each input is copied, as float32 C-contiguous, into its own read-only guest buffer of
    exactly its size; each output buffer is exactly the size of its shape. Raises
    GuestMemoryError for an access out of bounds (or a write to an input, a bad free),
    X86EmulatorError for anything else that goes wrong (an unsupported instruction, an
    imported function the emulator does not provide). `stats`, when given, is filled
    with the number of trapped calls per imported function ("calls") and in all ("traps").
    `image`, when given, is the library's bytes, already read (and checked) by the caller.
    """
    library_path = os.fspath(library_path)
    if image is None:
        with open(library_path, "rb") as f:
            image = f.read()
    arrays = [np.ascontiguousarray(a, dtype=np.float32) for a in inputs]
    shapes = [tuple(int(d) for d in s) for s in output_shapes]
    with _lock:
        machine = _Machine(image, library_path)
        try:
            function = machine.elf.exported(entry)
            if function is None:
                raise X86EmulatorError(f"{library_path}: no exported function '{entry}'")
            initializers = []
            if _DT_INIT in machine.elf.dynamic:
                initializers.append(machine.elf.dynamic[_DT_INIT][0])
            if _DT_INIT_ARRAY in machine.elf.dynamic:
                at = machine.elf.dynamic[_DT_INIT_ARRAY][0]
                count = machine.elf.dynamic.get(_DT_INIT_ARRAYSZ, [0])[0] // 8
                initializers += [int(v) - machine.base for v in machine.image.data[
                    at:at + 8 * count].view(np.uint64)]
            for init in initializers:
                if init not in (0, _MASK64 - machine.base):
                    machine.call(machine.base + init, [0, 0, 0])

            memory, buffers = machine.memory, []
            for i, array in enumerate(arrays):
                region = memory.map(f"input {i}", "input", array.nbytes, writable=False)
                region.data[region.start - region.va:region.end - region.va] = \
                    array.reshape(-1).view(np.uint8)
                buffers.append(region)
            outputs = []
            for i, shape in enumerate(shapes):
                nbytes = 4 * int(np.prod(shape, dtype=np.int64))
                region = memory.map(f"output {i}", "output", nbytes)
                region.data[region.start - region.va:region.end - region.va].view(
                    np.float32)[:] = np.nan
                outputs.append(region)
                buffers.append(region)
            machine.call(machine.base + function, [r.start for r in buffers])
            for region in list(memory.regions):
                memory.check_canaries(region)
            result = [region.data[region.start - region.va:region.end - region.va]
                      .view(np.float32).reshape(shape).copy()
                      for region, shape in zip(outputs, shapes, strict=True)]
            if stats is not None:
                stats["calls"] = dict(machine.calls)
                stats["traps"] = machine.trap_count
            return result
        finally:
            machine.close()


def run_manifest_x86_emulated(manifest, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs the library of a manifest (path, JSON object or Manifest) once on the emulated
    CPU, after checking its hash and that the emulated CPU has the flags it needs; returns
    the outputs by name."""
    manifest = as_manifest(manifest)
    if manifest.arch != "x86_64":
        raise X86EmulatorError(f"{manifest.path}: the library is built for {manifest.arch}, "
                               f"not x86_64")
    try:
        image, _ = verified_image(manifest)
    except LoadError as e:
        raise X86EmulatorError(str(e)) from None
    missing = [f for f in manifest.required_cpu_flags if f not in emulated_cpu_flags()]
    if missing:
        raise X86EmulatorError(f"{manifest.path}: the library needs CPU flags the emulated "
                               f"CPU lacks: {', '.join(missing)}")
    unknown = set(arrays) - {s.name for s in manifest.inputs}
    if unknown:
        raise X86EmulatorError(f"no input named {', '.join(sorted(unknown))}")
    inputs = []
    for spec in manifest.inputs:
        if spec.name not in arrays:
            raise X86EmulatorError(f"missing input '{spec.name}'")
        array = np.asarray(arrays[spec.name])
        if array.shape != spec.shape:
            raise X86EmulatorError(f"input '{spec.name}': shape {list(array.shape)}, the "
                                   f"model wants {list(spec.shape)}")
        inputs.append(array)
    outputs = run_x86_emulated(manifest.library_path, manifest.entry, inputs,
                               [spec.shape for spec in manifest.outputs], image=image)
    return {spec.name: out for spec, out in zip(manifest.outputs, outputs, strict=True)}


# The CPUID probe: leaves 1, 7.0, 7.1 and 0x80000001 stored at rdi, then `ret`.
_CPUID_PROBE = bytes.fromhex(
    "4989f8"            # mov r8, rdi
    "b801000000" "31c9" "0fa2" "418900" "41895804" "41894808" "4189500c"    # leaf 1
    "b807000000" "31c9" "0fa2" "41894010" "41895814" "41894818" "4189501c"  # leaf 7.0
    "b807000000" "b901000000" "0fa2" "41894020"                             # leaf 7.1
    "b801000080" "31c9" "0fa2" "41894824" "41895028"                        # 0x80000001
    "c3")
_CPUID_FLAGS = {  # (word, bit): /proc/cpuinfo name
    (2, 0): "pni", (2, 1): "pclmulqdq", (2, 9): "ssse3", (2, 12): "fma", (2, 13): "cx16",
    (2, 19): "sse4_1", (2, 20): "sse4_2", (2, 22): "movbe", (2, 23): "popcnt",
    (2, 25): "aes", (2, 26): "xsave", (2, 28): "avx", (2, 29): "f16c", (2, 30): "rdrand",
    (3, 23): "mmx", (3, 24): "fxsr", (3, 25): "sse", (3, 26): "sse2",
    (5, 3): "bmi1", (5, 5): "avx2", (5, 8): "bmi2", (5, 16): "avx512f", (5, 17): "avx512dq",
    (5, 19): "adx", (5, 21): "avx512ifma", (5, 28): "avx512cd", (5, 29): "sha_ni",
    (5, 30): "avx512bw", (5, 31): "avx512vl",
    (6, 1): "avx512vbmi", (6, 6): "avx512_vbmi2", (6, 8): "gfni", (6, 9): "vaes",
    (6, 10): "vpclmulqdq", (6, 11): "avx512_vnni", (6, 12): "avx512_bitalg",
    (6, 14): "avx512_vpopcntdq", (7, 23): "avx512_fp16",
    (8, 4): "avx_vnni", (8, 5): "avx512_bf16", (9, 5): "abm", (10, 29): "lm",
}
_emulated_flags: frozenset[str] | None = None


def emulated_cpu_flags() -> frozenset[str]:
    """The emulated CPU's flags, /proc/cpuinfo spelling, as its CPUID reports them."""
    global _emulated_flags
    if _emulated_flags is not None:
        return _emulated_flags
    with _lock:
        machine = _ProbeMachine()
        try:
            words = machine.run()
        finally:
            machine.close()
    _emulated_flags = frozenset(name for (word, bit), name in _CPUID_FLAGS.items()
                                if words[word] >> bit & 1)
    return _emulated_flags


class _ProbeMachine(_Machine):
    """A machine without a library: one code page holding the CPUID probe."""

    def __init__(self) -> None:  # super().__init__ is not called: there is no ELF to load
        self.bx = bx = import_bochscpu()
        self.path = "<cpuid probe>"
        self.elf = _Elf(b"", [], {}, [], [], [])
        self.memory = _Memory(bx)
        self._attach()
        self.traps, self.forks, self.calls = {}, [], {}
        self.trap_count = 0
        self.image = self.memory.map("the CPUID probe", "image", PAGE, end_align=PAGE,
                                     page_flags=np.array([_P | _U], dtype=np.uint64))
        self.base = self.image.va
        self.image.data[:len(_CPUID_PROBE)] = np.frombuffer(_CPUID_PROBE, np.uint8)
        self.out = self.memory.map("the CPUID words", "output", 64)
        self.stack = self.memory.map("the stack", "stack", 16 * PAGE, end_align=PAGE)
        self.tls = self.memory.map("the thread control block", "tls", PAGE, end_align=PAGE)
        self._setup_cpu()

    def run(self) -> list[int]:
        self.out.data[self.out.start - self.out.va:][:] = 0
        self.call(self.base, [self.out.start])
        words = self.out.data[self.out.start - self.out.va:].view(np.uint32)
        # 0..3: leaf 1 eax ebx ecx edx; 4..7: leaf 7.0; 8: leaf 7.1 eax;
        # 9, 10: leaf 0x80000001 ecx, edx (the words _CPUID_FLAGS indexes)
        return [int(v) for v in words[:11]]
