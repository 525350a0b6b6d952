"""drop-buffer-arg-attrs: `bufferization.writable` only guides one-shot bufferization; left
on the function's arguments it would reach mlir-translate, which does not know the dialect."""
from mlir import ir

from .ir_util import named_attributes, walk_ops
from .registry import module_pass


@module_pass("drop-buffer-arg-attrs")
def drop_buffer_arg_attrs(module: ir.Operation) -> None:
    """Remove bufferization.* attributes from function arguments after bufferization."""
    for fn in walk_ops(module, ("func.func",)):
        if "arg_attrs" not in fn.attributes:
            continue
        cleaned = [ir.DictAttr.get({a.name: a.attr for a in named_attributes(d)
                                    if not a.name.startswith("bufferization.")})
                   for d in ir.ArrayAttr(fn.attributes["arg_attrs"])]
        fn.attributes["arg_attrs"] = ir.ArrayAttr.get(cleaned)
