"""The `sep` dialect: one op per model.json layer kind, defined in IRDL so the Python
bindings load, parse, print and verify it without a C++ build.

The IRDL module is generated from the op table (sepc/ops.py): each row's `sep` op, its
operands (the data input, or a variadic `inputs` of one type, or inputs of types of their
own (Op.inputs_alike), then the row's parameter operands) and
its attributes (the row's fields that the emitter turns into attributes). Shape rules that
IRDL cannot express (kernel vs. input channels, output sizes) are checked by verify-sep.
`python -m sepc.dialects` prints the IRDL.
"""
from __future__ import annotations

from mlir import ir
from mlir.dialects import irdl


def sep_irdl() -> str:
    from ..frontend.emit_sep import SEP_ATTRIBUTES
    from ..ops import BY_SEP_OP, MAX_INPUTS
    lines = ["irdl.dialect @sep {"]
    for name, sep in BY_SEP_OP.items():
        row = sep.row
        if row.inputs_field != "inputs":
            data = [("input", "")]
        elif row.inputs_alike:
            data = [("inputs", "variadic ")]
        else:   # one type each: the first two required, the rest optional
            data = [(f"input{i}", "optional " if i >= 2 else "") for i in range(MAX_INPUTS)]
        operands = data + [(p, "") for p in row.sep_operands]
        attributes = [SEP_ATTRIBUTES[f][:2] for f in row.fields if f in SEP_ATTRIBUTES]
        lines.append(f"  // {row.doc}")
        lines.append(f"  irdl.operation @{name.removeprefix('sep.')} {{")
        for operand, _ in operands:
            lines.append(f'    %{operand} = irdl.base "!builtin.tensor"')
        for attribute, base in attributes:
            lines.append(f'    %{attribute} = irdl.base "{base}"')
        lines.append('    %output = irdl.base "!builtin.tensor"')
        lines.append("    irdl.operands(" + ", ".join(f"{o}: {v}%{o}" for o, v in operands) + ")")
        if attributes:
            lines.append("    irdl.attributes {" + ", ".join(f'"{a}" = %{a}' for a, _ in attributes)
                         + "}")
        lines.append("    irdl.results(output: %output)")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def make_context() -> ir.Context:
    """A context that knows the upstream dialects and `sep`; unregistered ops are errors."""
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = False
    with ctx, ir.Location.unknown():
        irdl.load_dialects(ir.Module.parse(sep_irdl()))
    return ctx
