"""stagger-tile-buffers: a tile buffer whose pixels lie a multiple of 1 KiB apart (C = 256,
512, 1024 channels of f32) gets one spare cache line per pixel.

The 1x1 conv of a fused kernel broadcasts the same channel of several pixels of its
depthwise tile in one step; at a 4 KiB pixel stride all those lines fall into one L1 set
(2 KiB: two sets, ...) and evict each other and the weights. 64 more bytes per pixel spread
them over the sets. The tiles are the fused kernels' temporaries: an empty tensor that is
the shared output of a tile loop, or the padded input of a tile (a border fill's target)."""
from mlir import ir
from mlir.dialects import tensor

from .ir_util import walk_ops
from .registry import module_pass

LINE = 16        # f32 in a 64-byte cache line


def staggered(shape: list[int]) -> bool:
    bytes_per_pixel = 4 * shape[-1]
    return len(shape) >= 3 and bytes_per_pixel >= 1024 and bytes_per_pixel % 1024 == 0


def is_tile_buffer(empty: ir.OpView) -> bool:
    parent = empty.operation.parent
    in_loop = parent is not None and parent.name in ("scf.forall", "scf.for")
    users = [use.owner for use in empty.result.uses]
    return in_loop and bool(users) and all(
        u.name in ("scf.forall", "tensor.insert_slice") for u in users)


@module_pass("stagger-tile-buffers")
def stagger_tile_buffers(module: ir.Operation) -> None:
    """Give tile-local empty tensors with 1 KiB-multiple pixel strides a spare line per pixel."""
    for empty in walk_ops(module, ("tensor.empty",)):
        t = ir.RankedTensorType(empty.result.type)
        if not t.has_static_shape or not staggered(list(t.shape)) or not is_tile_buffer(empty):
            continue
        shape = list(t.shape)
        with ir.InsertionPoint(empty), empty.location:
            wide = tensor.EmptyOp(shape[:-1] + [shape[-1] + LINE], t.element_type).result
            view = tensor.extract_slice(t, wide, [], [], [], [0] * len(shape), shape,
                                        [1] * len(shape))
        empty.result.replace_all_uses_with(view)
        empty.erase()
