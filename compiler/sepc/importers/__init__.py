"""`sepc import`: real Keras, ONNX and PyTorch models -> model.json + .npz.

Each importer walks its framework's graph and adds model.json layers to a ModelBuilder,
collecting every unsupported layer or attribute so that all are reported at once (exit 2).
The frameworks are optional extras, imported only here and only when asked for."""
from __future__ import annotations

from ..errors import UserError
from .builder import ModelBuilder, c_identifier

FORMATS = ("keras", "onnx", "torch")


def import_model(source: str, fmt: str, out_dir: str, name: str | None = None,
                 input_shapes: dict[str, list[int]] | None = None,
                 batch: int | None = None) -> str:
    """Import `source` (a .keras or .onnx file, or for torch MODULE:CALLABLE returning
    (model, example_input)) as `name` (default: the framework model's), with the inputs'
    shapes `input_shapes` gives (Keras and ONNX; the model's own axis order); returns the
    written model.json's path. `batch` replaces every input's batch dimension."""
    if input_shapes and fmt == "torch":
        raise UserError(f"{source}: --input-shape is for Keras and ONNX models; a PyTorch "
                        "model's example input gives its shape")
    if batch is not None and batch < 1:
        raise UserError(f"--batch {batch}: the batch is a positive integer")
    if name is not None and c_identifier(name) != name:
        raise UserError(f"--name {name!r}: a model's name is a C identifier (letters, "
                        f"digits, _; not starting with a digit), e.g. {c_identifier(name)!r}")
    if fmt == "keras":
        from .keras_importer import import_keras
        builder = import_keras(source, input_shapes)
    elif fmt == "onnx":
        from .onnx_importer import import_onnx
        builder = import_onnx(source, input_shapes)
    else:
        from .torch_importer import import_torch, load_callable
        model, example = load_callable(source)
        builder = import_torch(model, example, None, source)
    if name is not None:
        builder.name = name
    if batch is not None:
        builder.set_batch(batch)
    return builder.write(out_dir)


__all__ = ["FORMATS", "ModelBuilder", "import_model"]
