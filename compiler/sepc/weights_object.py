"""Large weights travel beside the IR, not through it.

Printed as LLVM IR text, a MobileNet's 4 M weights are ~100 MB of float literals that
mlir-translate, opt and llc each spend seconds on. After bufferization every large
constant is a `memref.global`; `externalize_weights` turns each into an external
declaration and keeps its bytes, and `assemble_weights` puts them in an object file
(`.incbin` in a .rodata section, symbols hidden) that is linked into the same library.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mlir import ir

from .passes.ir_util import walk_ops

# Smaller constants stay in the IR, where LLVM can still fold and inline them.
EXTERNALIZE_OVER_BYTES = 4096


@dataclass(frozen=True)
class WeightBlob:
    symbol: str
    data: bytes
    alignment: int


def global_bytes(attr: ir.Attribute) -> bytes | None:
    elements = ir.DenseElementsAttr(attr)
    if elements.is_splat:
        return None
    return np.ascontiguousarray(np.array(ir.DenseFPElementsAttr(attr), dtype=np.float32)).tobytes()


def externalize_weights(module: ir.Module, prefix: str) -> list[WeightBlob]:
    """Replace large constant memref.globals by declarations named `{prefix}_w{i}`."""
    renamed: dict[str, str] = {}
    blobs: list[WeightBlob] = []
    for glob in walk_ops(module.operation, ("memref.global",)):
        if "initial_value" not in glob.attributes or "constant" not in glob.attributes:
            continue
        data = global_bytes(glob.attributes["initial_value"])
        if data is None or len(data) <= EXTERNALIZE_OVER_BYTES:
            continue
        symbol = f"{prefix}_w{len(blobs)}"
        renamed[ir.StringAttr(glob.attributes["sym_name"]).value] = symbol
        alignment = (ir.IntegerAttr(glob.attributes["alignment"]).value
                     if "alignment" in glob.attributes else 64)
        blobs.append(WeightBlob(symbol, data, alignment))
        del glob.attributes["initial_value"]
        glob.attributes["sym_name"] = ir.StringAttr.get(symbol)
        glob.attributes["sym_visibility"] = ir.StringAttr.get("public")
    for use in walk_ops(module.operation, ("memref.get_global",)):
        name = ir.FlatSymbolRefAttr(use.attributes["name"]).value
        if name in renamed:
            use.attributes["name"] = ir.FlatSymbolRefAttr.get(renamed[name])
    return blobs


def weights_assembly(blobs: list[WeightBlob], folder: Path) -> Path:
    """GNU-syntax assembly (valid for x86-64 and AArch64) that defines every blob."""
    lines = ['.section .rodata.sepc_weights,"a"']
    for blob in blobs:
        data_file = folder / f"{blob.symbol}.bin"
        data_file.write_bytes(blob.data)
        lines += [f".p2align {max(blob.alignment, 1).bit_length() - 1}",
                  f".globl {blob.symbol}", f".hidden {blob.symbol}",
                  f".type {blob.symbol}, %object", f".size {blob.symbol}, {len(blob.data)}",
                  f"{blob.symbol}:", f'.incbin "{data_file}"']
    source = folder / "weights.s"
    source.write_text("\n".join(lines) + "\n")
    return source
