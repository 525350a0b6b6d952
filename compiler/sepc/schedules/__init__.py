"""Per-target schedules as transform-dialect scripts, generated from the tagged Linalg IR.

Three scripts run in order: `tiling` (tile each chain's root, fuse the chain into it,
decompose to 1-D convs), `vectorization` (vectorize every part with explicit sizes, masks
for ragged channel edges), and, after bufferization, `vector_lowering` (hoist accumulators
out of reduction loops, lower contractions to FMAs and transfers to loads/stores).
"""
from __future__ import annotations

from mlir import ir

from ..targets import Target
from .kernel import Kernel, find_kernels
from .kinds import SCHEDULES
from .separable import Separable

SCHEDULES.update({"separable2d": Separable(2), "separable1d": Separable(1)})
from .script import ANY, Script


def scheduled(kernels: list[Kernel]) -> list[Kernel]:
    return [k for k in kernels if k.kind in SCHEDULES]


def tiling_script(module: ir.Module, target: Target) -> str:
    s = Script()
    for k in scheduled(find_kernels(module)):
        schedule = SCHEDULES[k.kind]
        root, loop = s.tile_forall(s.match_part(k.part(k.root_role)), schedule.root_tiles(k, target))
        fused = {k.root_role: root}
        for role in k.producers:
            fused[role], loop = s.fuse_into(s.match_part(k.part(role)), loop)
        if schedule.tile_fused(s, k, target, fused):
            continue
        for role, handle in fused.items():
            tiles = schedule.inner_tiles(k, target, role)
            loops = []
            if tiles:
                handle, loops = s.tile(handle, tiles)
            if role != "main":
                continue
            if schedule.peels(k, target):
                full, rest = s.peel(loops[0])
                finish_main(s, schedule, k, s.match_part_in(k.part("main"), full), FULL_TILES)
                finish_main(s, schedule, k, s.match_part_in(k.part("main"), rest), "main")
            else:
                finish_main(s, schedule, k, handle, "main")
    # A fused producer's tile of an intermediate (a depthwise tile feeding a 1x1 conv) is a
    # slice of an empty tensor of the whole intermediate: make it an empty tensor of the
    # tile's size, so that only the tile is ever allocated.
    f = s.match_op("func.func")
    s.emit(f"transform.apply_patterns to {f} {{\n"
           "      transform.apply_patterns.tensor.fold_tensor_empty\n"
           f"    }} : {ANY}")
    s.cleanup()
    return s.text()


# The part name of a main op whose tile is known to be full (a peeled loop's main steps).
FULL_TILES = "main_full"


def finish_main(s: Script, schedule, k: Kernel, handle: str, part: str) -> None:
    if schedule.decomposes():
        handle = s.decompose(handle)
    if schedule.decomposes() or part != "main":
        s.annotate(handle, k.part(part))


VECTORIZED_ROLES = ("main", "init", "epilogue", "dw_init", "dw_main", "dw_epilogue")


def vectorization_script(kernels: list[Kernel], target: Target) -> str:
    """Vector sizes come from the kernels as found before tiling (the tiled IR has lost
    the full shapes the sizes are derived from)."""
    s = Script()
    for k in scheduled(kernels):
        schedule = SCHEDULES[k.kind]
        if schedule.peels(k, target):
            s.vectorize(s.match_part(k.part(FULL_TILES)), schedule.vector_sizes(k, target, "main"),
                        schedule.named_contraction("main"), full_tiles=True)
        roles = [r for r in k.roles if r in VECTORIZED_ROLES] + schedule.extra_roles(k, target)
        for role in roles:
            sizes = schedule.vector_sizes(k, target, role)
            if sizes is not None:
                s.vectorize(s.match_part(k.part(role)), sizes, schedule.named_contraction(role))
    # Masked transfers become transfer ops with a mask operand: a vector.mask region
    # around a tensor write cannot bufferize unless it happens to be in place.
    f = s.match_op("func.func")
    s.emit(f"transform.apply_patterns to {f} {{\n"
           "      transform.apply_patterns.vector.lower_masked_transfers\n"
           f"    }} : {ANY}")
    s.cleanup()
    # Accumulators become loop-carried vectors while still on tensors, where nothing can
    # alias them; after bufferization the output and input arguments might alias, and
    # the reads and writes of each reduction step could no longer be hoisted.
    loops = s.match_op("scf.for")
    s.emit(f"transform.loop.hoist_loop_invariant_subsets {loops} : {ANY}")
    # Hoisting leaves the tile and its slice as unchanged iter_args; bufferized as they
    # are, they cost a heap buffer and two copies per tile.
    s.cleanup()
    # Reads of an input padded only after its end (stride-2 'same', unfused pads) read the
    # input itself, out-of-bounds lanes giving the zeros: that pad is never materialized.
    # After hoisting: folding slices into transfers first would hide accumulators from it.
    f = s.match_op("func.func")
    s.emit(f"transform.apply_patterns to {f} {{\n"
           "      transform.apply_patterns.tensor.fold_tensor_subset_ops_into_vector_transfers\n"
           "      transform.apply_patterns.linalg.pad_vectorization\n"
           f"    }} : {ANY}")
    s.cleanup()
    return s.text()


def vector_lowering_script(target: Target) -> str:
    s = Script()
    f = s.match_op("func.func")
    hoisted = s.fresh()
    s.emit(f"{hoisted} = transform.structured.hoist_redundant_vector_transfers {f} : ({ANY}) -> {ANY}")
    s.emit(f"""transform.apply_patterns to {hoisted} {{
      transform.apply_patterns.vector.drop_unit_dims_with_shape_cast
      transform.apply_patterns.vector.lower_contraction lowering_strategy = "outerproduct"
      transform.apply_patterns.vector.transfer_permutation_patterns
      transform.apply_patterns.vector.lower_multi_reduction lowering_strategy = "innerparallel"
      transform.apply_patterns.vector.split_transfer_full_partial split_transfer_strategy = "linalg-copy"
      transform.apply_patterns.vector.transfer_to_scf max_transfer_rank = 1 full_unroll = true
      transform.apply_patterns.vector.lower_transfer max_transfer_rank = 1
      transform.apply_patterns.vector.lower_shape_cast
      transform.apply_patterns.vector.lower_transpose lowering_strategy = "shuffle_1d"
      transform.apply_patterns.vector.lower_broadcast
      transform.apply_patterns.vector.lower_outerproduct
    }} : {ANY}""")
    s.cleanup()
    return s.text()


def serial_loops_script(target: Target) -> str:
    """After bufferization: the foralls marked serial become scf.for loops."""
    s = Script()
    s.serialize_marked_loops()
    return s.text()
