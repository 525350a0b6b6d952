"""`sepc import`: real Keras, ONNX and PyTorch models -> model.json + .npz.

Each importer walks its framework's graph and adds model.json layers to a ModelBuilder,
collecting every unsupported layer or attribute so that all are reported at once (exit 2).
The frameworks are optional extras, imported only here and only when asked for."""
from __future__ import annotations

from .builder import ModelBuilder

FORMATS = ("keras", "onnx", "torch")


def import_model(source: str, fmt: str, out_dir: str) -> str:
    """Import `source` (a .keras or .onnx file, or for torch MODULE:CALLABLE returning
    (model, example_input)); returns the written model.json's path."""
    if fmt == "keras":
        from .keras_importer import import_keras
        builder = import_keras(source)
    elif fmt == "onnx":
        from .onnx_importer import import_onnx
        builder = import_onnx(source)
    else:
        from .torch_importer import import_torch, load_callable
        model, example = load_callable(source)
        builder = import_torch(model, example, None, source)
    return builder.write(out_dir)


__all__ = ["FORMATS", "ModelBuilder", "import_model"]
