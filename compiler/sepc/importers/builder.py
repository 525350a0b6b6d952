"""What every importer writes: a model.json (spec/model-json.md) and its .npz, built layer
by layer, with the problems found along the way collected and reported all at once."""
from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UserError

_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_.\-]+")
# The model.json ops whose layers name a list of `inputs` (the op table's inputs_field).
MULTI_INPUT_OPS = ("add", "multiply", "concatenate")


def given_input_shapes(source: str, shapes: dict[str, list[int | None]],
                       given: dict[str, list[int]]) -> dict[str, list[int]]:
    """--input-shape checked against the model's inputs (`shapes`, None where unknown):
    every name an input, every given shape the input's rank and known sizes past the
    batch; an input with an unknown size past the batch and none given is an error."""
    def text(shape: list[int | None]) -> str:
        return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"

    for name in given:
        if name not in shapes:
            raise UserError(f"{source}: --input-shape {name}: the model has no input {name!r} "
                            f"(its inputs: {', '.join(shapes)})")
    for name, shape in shapes.items():
        wanted = given.get(name)
        if wanted is not None and (len(wanted) != len(shape) or any(
                d is not None and d != w for d, w in zip(shape[1:], wanted[1:], strict=True))):
            raise UserError(f"{source}: --input-shape {name}={','.join(map(str, wanted))}: the "
                            f"model's input {name!r} is {text(shape)}")
        if wanted is None and None in shape[1:]:
            raise UserError(f"{source}: input {name!r} has unknown dimensions {text(shape)}: "
                            f"give them with --input-shape "
                            f"{name}={','.join(str(d or 1) for d in shape)} (its own order)")
    return given


def c_identifier(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_") or "model"
    return f"m_{name}" if name[0].isdigit() else name


@dataclass
class ModelBuilder:
    """Layers in topological order; `shapes` holds every value's channels-last shape."""
    name: str
    source: str                        # the file (or module:callable) being imported
    inputs: dict = field(default_factory=dict)
    layers: list = field(default_factory=list)
    weights: dict = field(default_factory=dict)
    outputs: list = field(default_factory=list)
    shapes: dict = field(default_factory=dict)
    aliases: dict = field(default_factory=dict)   # framework value -> model.json name
    problems: list = field(default_factory=list)
    used: set = field(default_factory=set)

    def unique(self, wanted: str) -> str:
        base = _NOT_IN_NAME.sub("_", wanted).strip("_") or "layer"
        name, n = base, 2
        while name in self.used:
            name, n = f"{base}_{n}", n + 1
        self.used.add(name)
        return name

    def value(self, framework_name: str) -> str:
        """The model.json name of a framework value (an input or a layer's output)."""
        return self.aliases[framework_name]

    def known(self, framework_name: str) -> bool:
        return framework_name in self.aliases

    def add_input(self, framework_name: str, shape: list[int]) -> str:
        name = self.unique(framework_name)
        self.inputs[name] = {"shape": list(map(int, shape)), "dtype": "float32"}
        self.shapes[name] = list(map(int, shape))
        self.aliases[framework_name] = name
        return name

    def add(self, framework_name: str, op: str, inputs: str | list[str], shape: list[int],
            params: dict[str, np.ndarray] | None = None, **attrs: Any) -> str:
        """A layer computing `framework_name` from `inputs` (framework names)."""
        name = self.unique(framework_name)
        layer: dict[str, Any] = {"name": name, "op": op}
        sources = [self.value(i) for i in ([inputs] if isinstance(inputs, str) else inputs)]
        if op in MULTI_INPUT_OPS:
            layer["inputs"] = sources
        else:
            (layer["input"],) = sources
        layer.update({k: v for k, v in attrs.items() if v is not None})
        self.layers.append(layer)
        for param, array in (params or {}).items():
            self.weights[f"{name}/{param}"] = np.ascontiguousarray(array, dtype=np.float32)
        self.shapes[name] = list(map(int, shape))
        self.aliases[framework_name] = name
        return name

    def layer_of(self, framework_name: str) -> dict | None:
        """The layer that computes a framework value (None for an input)."""
        name = self.aliases.get(framework_name)
        return next((layer for layer in self.layers if layer["name"] == name), None)

    def layer_named(self, name: str) -> dict | None:
        """The layer of a model.json name (None for an input)."""
        return next((layer for layer in self.layers if layer["name"] == name), None)

    def framework_value(self, name: str) -> str:
        """A framework value that a model.json name computes (the first imported)."""
        return next(k for k, v in self.aliases.items() if v == name)

    def alias(self, framework_name: str, same_as: str) -> None:
        """`framework_name` is the same value as `same_as` (an identity: Dropout, Flatten
        of an already flat tensor)."""
        self.aliases[framework_name] = self.value(same_as)

    def shape(self, framework_name: str) -> list[int]:
        return self.shapes[self.value(framework_name)]

    def stand_in(self, framework_name: str, shape: list[int] | None) -> None:
        """A value an unsupported layer would have made: the layers after it are still
        checked (so every problem is reported at once), though nothing is written."""
        if shape is not None and not self.known(framework_name):
            self.aliases[framework_name] = f"<{framework_name}>"
            self.shapes[f"<{framework_name}>"] = list(map(int, shape))

    def set_batch(self, batch: int) -> None:
        """Every input's first dimension becomes `batch` (`sepc import --batch`): model.json
        layers never name the batch (reshape's target_shape leaves it out), so the layers
        after the inputs take it from them."""
        for name, spec in self.inputs.items():
            spec["shape"][0] = batch
            self.shapes[name][0] = batch

    def problem(self, layer: str, kind: str, reason: str) -> None:
        self.problems.append(f"'{layer}' ({kind}): {reason}")

    def check(self) -> None:
        """Every unsupported layer and attribute at once: exit 2 naming each."""
        if self.problems:
            count = len(self.problems)
            raise UserError(f"{self.source}: cannot import {count} layer(s):\n  "
                            + "\n  ".join(self.problems))

    def live_layers(self) -> list[dict]:
        """The layers some output depends on. A converter may leave one behind that a later
        one made dead (ONNX's Sigmoid of x once Mul(x, Sigmoid(x)) becomes a swish), and
        a framework graph may hold branches no output reads."""
        needed = {self.value(o) for o in self.outputs}
        live = []
        for layer in reversed(self.layers):
            if layer["name"] in needed:
                live.append(layer)
                needed.update(layer["inputs"] if "inputs" in layer else [layer["input"]])
        return live[::-1]

    def document(self) -> dict:
        return {"sepc": 1, "name": self.name, "inputs": self.inputs,
                "weights": f"{self.name}.npz", "layers": self.live_layers(),
                "outputs": [self.value(o) for o in self.outputs]}

    def live_weights(self) -> dict[str, np.ndarray]:
        names = {layer["name"] for layer in self.live_layers()}
        return {key: value for key, value in self.weights.items()
                if key.rsplit("/", 1)[0] in names}

    def write(self, out_dir: str) -> str:
        """DIR/NAME.json and DIR/NAME.npz, both or neither (written under temporary names,
        renamed together). Returns the model.json's path."""
        self.check()
        try:
            os.makedirs(out_dir, exist_ok=True)
        except OSError as e:
            raise UserError(f"{out_dir}: cannot create the output folder: "
                            f"{e.strerror or e}") from None
        final_json = os.path.join(out_dir, f"{self.name}.json")
        final_npz = os.path.join(out_dir, f"{self.name}.npz")
        staged = []
        try:
            fd, tmp_npz = tempfile.mkstemp(prefix=f".{self.name}.", suffix=".npz", dir=out_dir)
            staged.append(tmp_npz)
            with os.fdopen(fd, "wb") as f:
                # mypy matches the unpacked names against savez's bool allow_pickle too;
                # they are LAYER/PARAM keys.
                np.savez(f, **self.live_weights())  # type: ignore[arg-type]
            fd, tmp_json = tempfile.mkstemp(prefix=f".{self.name}.", suffix=".json", dir=out_dir)
            staged.append(tmp_json)
            with os.fdopen(fd, "w") as f:
                json.dump(self.document(), f, indent=1)
                f.write("\n")
            os.replace(tmp_npz, final_npz)
            os.replace(tmp_json, final_json)
        except OSError as e:
            for path in staged:
                if os.path.exists(path):
                    os.unlink(path)
            raise UserError(f"{out_dir}: cannot write the imported model: "
                            f"{e.strerror or e}") from None
        return final_json
