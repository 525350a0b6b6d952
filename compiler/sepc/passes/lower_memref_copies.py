"""lower-memref-copies: the copies bufferization leaves (e.g. an input into the middle of
its padded buffer) become memcpy where they can, loops where they cannot.

Left as they are, copies between strided views lower to a call to `memrefCopy` from
libmlir_c_runner_utils, which the library must not depend on. A copy whose innermost
dimensions are contiguous in both buffers (a row of W x C floats of an NHWC image) becomes
a loop over the outer dimensions copying one contiguous chunk per step: a memref.copy of
contiguous views, which lowers to a memcpy. A copy of dynamic size (a tile at an image's
edge) whose innermost dimension is static and unit-stride becomes loops of vector loads and
stores of that dimension. Any other copy becomes a linalg.copy (loops).
"""
import math
from contextlib import contextmanager
from typing import Iterator

from mlir import ir
from mlir.dialects import arith, linalg, memref, scf, vector

from .ir_util import walk_ops
from .registry import module_pass

# Below this many elements per contiguous chunk, a call per chunk costs more than a loop.
MIN_CHUNK = 16


def contiguous_from(t: ir.MemRefType) -> int:
    """The first dim from which the view is one contiguous block (rank: not even the last)."""
    strides, _ = t.get_strides_and_offset()
    expected, start = 1, t.rank
    for dim in reversed(range(t.rank)):
        if t.shape[dim] != 1 and strides[dim] != expected:
            break
        expected *= t.shape[dim]
        start = dim
    return start


def static(t: ir.MemRefType) -> bool:
    strides, offset = t.get_strides_and_offset()
    dynamic = ir.ShapedType.get_dynamic_stride_or_offset()
    return t.has_static_shape and dynamic not in strides and offset != dynamic


@contextmanager
def loop_nest(source: ir.Value, dims: int) -> Iterator[list[ir.Value]]:
    """scf.for loops over `source`'s first `dims` dims (none for a static size 1); yields
    one index per dim (the induction variable, or 0) with the insertion point inside."""
    t = ir.MemRefType(source.type)
    index = ir.IndexType.get()
    zero = arith.ConstantOp(index, 0).result
    one = arith.ConstantOp(index, 1).result
    indices, loops = [], []
    for dim in range(dims):
        if not t.is_dynamic_dim(dim) and t.shape[dim] == 1:
            indices.append(zero)
            continue
        bound = (memref.dim(source, arith.ConstantOp(index, dim).result) if t.is_dynamic_dim(dim)
                 else arith.ConstantOp(index, t.shape[dim]).result)
        loop = scf.ForOp(zero, bound, one)
        loops.append(loop)
        indices.append(loop.induction_variable)
        ir.InsertionPoint(loop.body).__enter__()
    yield indices
    for loop in reversed(loops):
        scf.YieldOp([])
        ir.InsertionPoint(loop.body).__exit__(None, None, None)


def copy_by_chunks(source: ir.Value, target: ir.Value, inner: int) -> None:
    """Loops over the dims before `inner`, one contiguous memref.copy per iteration."""
    shape = ir.MemRefType(source.type).shape
    with loop_nest(source, inner) as indices:
        offsets = indices + [0] * (len(shape) - inner)
        sizes = [1] * inner + list(shape[inner:])
        ones = [1] * len(shape)
        memref.copy(memref.subview(source, offsets, sizes, ones),
                    memref.subview(target, offsets, sizes, ones))


def unit_stride_rows(*types: ir.MemRefType) -> bool:
    """Whether the innermost dim is static, unit-stride and long enough to vectorize."""
    return all(t.rank and not t.is_dynamic_dim(t.rank - 1) and t.shape[-1] >= 4
               and t.get_strides_and_offset()[0][-1] == 1 for t in types)


def copy_by_vectors(source: ir.Value, target: ir.Value) -> None:
    """Loops over all but the innermost dim, one vector load and store per step."""
    t = ir.MemRefType(source.type)
    # Pieces of at most a cache line of f32: no wider than any target's vectors need.
    length = t.shape[-1]
    piece = max(d for d in range(1, min(length, 16) + 1) if length % d == 0)
    with loop_nest(source, t.rank - 1) as indices:
        for start in range(0, length, piece):
            at = indices + [arith.ConstantOp(ir.IndexType.get(), start).result]
            vector.store(vector.load(ir.VectorType.get([piece], t.element_type), source, at),
                         target, at)


@module_pass("lower-memref-copies")
def lower_memref_copies(module: ir.Operation) -> None:
    """Rewrite memref.copy as contiguous chunk copies (memcpy) or linalg.copy."""
    for copy in walk_ops(module, ("memref.copy",)):
        source, target = copy.operands
        types = [ir.MemRefType(source.type), ir.MemRefType(target.type)]
        if not all(static(t) for t in types):
            inner = None
        else:
            inner = max(contiguous_from(t) for t in types)
        if inner == 0:
            continue                  # contiguous both sides: finalize-memref-to-llvm's memcpy
        with ir.InsertionPoint(copy), copy.location:
            if inner is not None and inner < len(types[0].shape) \
                    and math.prod(types[0].shape[inner:]) >= MIN_CHUNK:
                copy_by_chunks(source, target, inner)
            elif inner is None and unit_stride_rows(*types):
                copy_by_vectors(source, target)
            else:
                linalg.copy(source, outs=[target])
        copy.erase()
