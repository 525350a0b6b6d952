"""The `sep` dialect, defined in IRDL (sep.irdl.mlir) and loaded into an MLIR context."""
from importlib import resources

from mlir import ir
from mlir.dialects import irdl

SEP_IRDL = resources.files(__name__).joinpath("sep.irdl.mlir").read_text()


def make_context() -> ir.Context:
    """A context that knows the upstream dialects and `sep`; unregistered ops are errors."""
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = False
    with ctx, ir.Location.unknown():
        irdl.load_dialects(ir.Module.parse(SEP_IRDL))
    return ctx
