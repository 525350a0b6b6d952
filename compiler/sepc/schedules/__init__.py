"""Per-target schedules as transform-dialect scripts, generated from the strategies in the IR.

`select_strategies` (the select-strategy pass) chooses every kernel's decisions and writes
them onto its root op (strategy.py). Three scripts then run in order, each generated from
those attributes and the target row alone: `tiling` (tile each chain's root, fuse the chain
into it, decompose to 1-D convs), `vectorization` (vectorize every part with explicit sizes,
masks for ragged channel edges), and, after bufferization, `vector_lowering` (hoist
accumulators out of reduction loops, lower contractions to FMAs and transfers to
loads/stores).
"""
from __future__ import annotations

from mlir import ir

from ..targets import Target
from .kernel import Kernel, find_kernels
from .kinds import (Conv1D, Conv2D, Depthwise1D, Depthwise2D, Elementwise, Matmul,
                    PackedMatmul, Pool2D, ScalarLoops, Schedule)
from . import pieces
from .script import ANY, Script
from .separable import Separable
from .strategy import (NO_OVERRIDES, STRATEGY, Overrides, Strategy, StrategyError, Value,
                       find_strategies, to_attr, typed_overrides)
from .strategy import describe as describe_strategies

SCHEDULES: dict[str, Schedule] = {
    "depthwise2d": Depthwise2D(),
    "depthwise1d": Depthwise1D(),
    "matmul": Matmul(),
    "packed_matmul": PackedMatmul(),
    "conv2d": Conv2D(),
    "conv1d": Conv1D(),
    "pool2d": Pool2D(),
    "elementwise": Elementwise(),
    "separable2d": Separable(2),
    "separable1d": Separable(1),
    "softmax": ScalarLoops(),
}


def select_strategies(root: ir.Operation, target: Target,
                      overrides: Overrides = NO_OVERRIDES) -> None:
    """Write each tiled kernel's strategy (`sep.strategy`) onto its root op."""
    found = list(find_kernels(root))
    # Every kernel --emit strategy prints may be named, an untiled one (softmax) by its
    # kind alone: a printed strategy file reads back.
    overrides.check_layers(k.layer for k, _ in found)
    for k, _ in found:
        if not SCHEDULES[k.kind].tiled:
            typed_overrides(overrides, k.layer, k.kind, SCHEDULES[k.kind].decisions)
    kernels = [(k, op) for k, op in found if SCHEDULES[k.kind].tiled]
    for k, op in kernels:
        schedule = SCHEDULES[k.kind]
        fixed = typed_overrides(overrides, k.layer, k.kind, schedule.decisions)
        chosen = schedule.choose(k, target, fixed)
        try:
            schedule.check(k, target, chosen)
        except StrategyError as e:
            overrides.fail(k.layer, f"{e} (for the {k.kind} kernel on {target.name})")
        facts = schedule.facts(k, target, chosen)
        cut = schedule.cut(k, target, chosen)
        if cut is not None:
            facts |= pieces.facts(*cut)
        entries: dict[str, Value] = {"layer": k.layer, "kind": k.kind, "root_role": k.root_role,
                                     "roles": k.roles}
        op.attributes[STRATEGY] = to_attr(entries | chosen | facts)


def describe(root: ir.Operation) -> str:
    """--emit strategy: every kernel's decisions, as a strategy file (strategy.describe)."""
    strategies = find_strategies(root)
    listed = {s.layer for s in strategies}
    unscheduled = [(k.layer, k.kind) for k, _ in find_kernels(root) if k.layer not in listed]
    return describe_strategies(strategies, {kind: s.decisions for kind, s in SCHEDULES.items()},
                               unscheduled)


def tiling_script(root: ir.Operation, target: Target) -> str:
    s = Script()
    for st in find_strategies(root):
        schedule = SCHEDULES[st.kind]
        if pieces.cut(st):
            tile_in_pieces(s, schedule, st, target)
            continue
        tiled, loop = s.tile_forall(s.match_part(st.part(st.root_role)),
                                   schedule.root_tiles(st, target))
        fused = {st.root_role: tiled}
        for role in st.producers:
            fused[role], loop = s.fuse_into(s.match_part(st.part(role)), loop)
        if schedule.tile_fused(s, st, target, fused):
            continue
        for role, handle in fused.items():
            tiles = schedule.inner_tiles(st, target, role)
            loops: list[str] = []
            if tiles:
                handle, loops = s.tile(handle, tiles)
            if role != "main":
                continue
            if schedule.prefetches(st):
                s.mark_prefetch(loops[-1])
            if schedule.peels(st, target):
                full, rest = s.peel(loops[0])
                finish_main(s, schedule, st, s.match_part_in(st.part("main"), full), FULL_TILES)
                finish_main(s, schedule, st, s.match_part_in(st.part("main"), rest), "main")
            else:
                finish_main(s, schedule, st, handle, "main")
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


def finish_main(s: Script, schedule: Schedule, st: Strategy, handle: str, part: str) -> None:
    if schedule.decomposes():
        handle = decompose(s, st, handle)
    if schedule.decomposes() or part != "main":
        s.annotate(handle, st.part(part))


def decompose(s: Script, st: Strategy, handle: str) -> str:
    handle = s.decompose(handle)
    if st.root_role == "main":
        # The decomposed op replaces the root: it carries the strategy on, for the
        # vectorization script.
        s.annotate_attr(handle, STRATEGY, to_attr(
            {"layer": st.layer, "kind": st.kind} | dict(st.values)))
    return handle


PIECE_ROLES = ("init", "main", "epilogue")


def tile_in_pieces(s: Script, schedule: Schedule, st: Strategy, target: Target) -> None:
    """A root cut into pieces (pieces.py): the forall by tiles dividing the ragged
    dimensions, the chain fused into it, then each piece tiled as the kind's main op is
    and tagged ROLE@INDEX."""
    tiled, loop = s.tile_forall(s.match_part(st.part(st.root_role)), st["forall"])
    for role in st.producers:
        _, loop = s.fuse_into(s.match_part(st.part(role)), loop)
    cut = pieces.cascade(s, pieces.root_of(st), tiled, loop, pieces.dims_of(st))
    for index, (container, _) in enumerate(cut):
        main = s.match_part_in(st.part("main"), container)
        others = [(role, s.match_part_in(st.part(role), container))
                  for role in PIECE_ROLES if role in st.roles and role != "main"]
        tiles = schedule.inner_tiles(st, target, "main")
        if tiles:
            main, loops = s.tile(main, tiles)
            if schedule.prefetches(st):
                s.mark_prefetch(loops[-1])
        if schedule.decomposes():
            main = decompose(s, st, main)
        s.annotate(main, st.part(pieces.part("main", index)))
        for role, handle in others:
            s.annotate(handle, st.part(pieces.part(role, index)))


VECTORIZED_ROLES = ("main", "init", "epilogue", "reduce", "reduce_init", "dw_init", "dw_main",
                    "dw_epilogue")


def vectorization_script(root: ir.Operation, target: Target) -> str:
    """Vector sizes come from the strategies the tiled kernels carry."""
    s = Script()
    for st in find_strategies(root):
        schedule = SCHEDULES[st.kind]
        if pieces.cut(st):
            vectorize_pieces(s, schedule, st, target)
            continue
        if schedule.peels(st, target):
            sizes = schedule.vector_sizes(st, target, "main")
            assert sizes is not None   # a kind peels only its vectorized main op
            s.vectorize(s.match_part(st.part(FULL_TILES)), sizes,
                        schedule.named_contraction("main"), full_tiles=True)
        roles = [r for r in st.roles if r in VECTORIZED_ROLES] + schedule.extra_roles(st, target)
        for role in roles:
            sizes = schedule.vector_sizes(st, target, role)
            if sizes is not None:
                s.vectorize(s.match_part(st.part(role)), sizes, schedule.named_contraction(role))
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


def vectorize_pieces(s: Script, schedule: Schedule, st: Strategy, target: Target) -> None:
    for index, sizes in enumerate(pieces.piece_sizes(pieces.dims_of(st))):
        for role in (r for r in PIECE_ROLES if r in st.roles):
            vector = schedule.piece_vector_sizes(st, target, role, sizes)
            if vector is not None:
                s.vectorize(s.match_part(st.part(pieces.part(role, index))), vector,
                            schedule.named_contraction(role))


def vector_lowering_script(target: Target) -> str:
    s = Script()
    f = s.match_op("func.func")
    hoisted = s.fresh()
    s.emit(f"{hoisted} = transform.structured.hoist_redundant_vector_transfers {f} "
           f": ({ANY}) -> {ANY}")
    patterns = ("drop_unit_dims_with_shape_cast",
                'lower_contraction lowering_strategy = "outerproduct"',
                "transfer_permutation_patterns",
                'lower_multi_reduction lowering_strategy = "innerparallel"',
                'split_transfer_full_partial split_transfer_strategy = "linalg-copy"',
                "transfer_to_scf max_transfer_rank = 1 full_unroll = true",
                "lower_transfer max_transfer_rank = 1",
                "lower_shape_cast",
                'lower_transpose lowering_strategy = "shuffle_1d"',
                "lower_broadcast",
                "lower_outerproduct")
    body = "".join(f"      transform.apply_patterns.vector.{p}\n" for p in patterns)
    s.emit(f"transform.apply_patterns to {hoisted} {{\n{body}    }} : {ANY}")
    s.cleanup()
    return s.text()


def serial_loops_script(target: Target) -> str:
    """After bufferization: the foralls marked serial become scf.for loops."""
    s = Script()
    s.serialize_marked_loops()
    return s.text()


__all__ = ["SCHEDULES", "Kernel", "Overrides", "Schedule", "describe", "find_kernels",
           "select_strategies", "serial_loops_script", "tiling_script", "vector_lowering_script",
           "vectorization_script"]
