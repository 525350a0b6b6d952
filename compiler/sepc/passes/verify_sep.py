"""verify-sep: the shape rules of the `sep` ops that IRDL cannot state (their op table rows
name them: passes/verify_rules.py)."""
from mlir import ir

from ..errors import InternalError
from ..ops import sep_ops_with
from .ir_util import walk_ops
from .registry import module_pass


@module_pass("verify-sep")
def verify_sep(module: ir.Operation) -> None:
    """Check kernel, bias and result shapes of every sep op."""
    rules = sep_ops_with(lambda row: row.verify)
    for op in walk_ops(module, tuple(rules)):
        problem = rules[op.name](op)
        if problem:
            raise InternalError(f"invalid {op.name} at {op.location}: {problem}")
