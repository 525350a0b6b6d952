"""memref-copy-to-linalg: bufferization copies into strided views lower to a call to
`memrefCopy` from libmlir_c_runner_utils; a linalg.copy lowers to plain loops instead, so
the library stays self-contained (and builds for targets that library does not exist for)."""
from mlir import ir
from mlir.dialects import linalg

from .ir_util import walk_ops
from .registry import sep_pass


@sep_pass("memref-copy-to-linalg")
def memref_copy_to_linalg(module: ir.Operation) -> None:
    """Rewrite memref.copy as linalg.copy."""
    for copy in walk_ops(module, ("memref.copy",)):
        source, target = copy.operands
        with ir.InsertionPoint(copy), copy.location:
            linalg.copy(source, outs=[target])
        copy.erase()
