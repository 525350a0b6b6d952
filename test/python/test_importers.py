"""`sepc import` (compiler/sepc/importers): Keras MobileNetV1/V2 and a Sequential classifier,
a PyTorch MobileNetV2-style network and its ONNX export, and models that use every row of
each importer's dispatch table, each imported, compiled for host and compared with the
framework's own prediction (max abs error <= 1e-4 x max(1, max |output|)); one also runs
for ARM under qemu. Unsupported layers are reported all at once, by name, exit 2."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sepc_runtime
from sepc.driver import compile_file
from sepc.importers import import_model
from sepc.importers.torch_importer import import_torch
from sepc_runtime import emulator

import importer_models

os.environ.setdefault("KERAS_BACKEND", "torch")
# Keras converts torch tensors through __array__ thousands of times per model, and the
# ONNX export uses the (pinned) TorchScript exporter: both warn, neither matters here.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
HERE = Path(__file__).resolve().parent
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")


def assert_matches(got, want):
    assert got.shape == want.shape
    scale = max(1.0, float(np.abs(want).max()))
    assert float(np.abs(got.astype(np.float64) - want).max()) <= 1e-4 * scale


def compile_and_run(model_json: str, x_nhwc: np.ndarray, out_dir: Path) -> np.ndarray:
    manifest = compile_file(model_json, target="host", out_dir=str(out_dir))
    return sepc_runtime.load(manifest)(x_nhwc)


KERAS_CASES = [
    ("MobileNet", 224, None), ("MobileNet", 128, "softmax"),
    ("MobileNetV2", 224, None), ("MobileNetV2", 96, None),
]


@pytest.mark.parametrize("application,size,head", KERAS_CASES)
def test_keras_application(application, size, head, tmp_path):
    model = getattr(keras.applications, application)(
        weights=None, input_shape=(size, size, 3), classifier_activation=head)
    importer_models.randomize_batch_norms(model)
    path = tmp_path / "model.keras"
    model.save(path)
    model_json = import_model(str(path), "keras", str(tmp_path / "imported"))
    x = np.random.default_rng(1).standard_normal((1, size, size, 3)).astype(np.float32)
    want = np.asarray(model.predict(x, verbose=0))
    assert_matches(compile_and_run(model_json, x, tmp_path / "build"), want)


# Applications with squeeze-excite (Multiply, and MobileNetV3's hard-sigmoid written as Keras
# ops), preprocessing (Rescaling, Normalization) and DenseNet's Concatenate; logits, inputs
# in pixel range. 1e-4 scaled as everywhere.
NEW_LAYER_CASES = [
    ("MobileNetV3Small", 96, {}),
    ("MobileNetV3Large", 64, {}), ("MobileNetV3Large", 64, {"minimalistic": True}),
    ("EfficientNetB0", 64, {}), ("DenseNet121", 64, {}),
]


@pytest.mark.parametrize("application,size,options", NEW_LAYER_CASES,
                         ids=[f"{a}-{s}{'-min' if o else ''}" for a, s, o in NEW_LAYER_CASES])
def test_keras_application_with_squeeze_excite_preprocessing_concatenate(
        application, size, options, tmp_path):
    model = getattr(keras.applications, application)(
        weights=None, input_shape=(size, size, 3), classifier_activation=None, **options)
    importer_models.randomize_batch_norms(model)
    path = tmp_path / "model.keras"
    model.save(path)
    model_json = import_model(str(path), "keras", str(tmp_path / "imported"))
    ops = {layer["op"] for layer in json.loads(Path(model_json).read_text())["layers"]}
    assert ops & {"multiply", "concatenate", "rescaling"}
    x = (100 + 50 * np.random.default_rng(1).standard_normal((1, size, size, 3))).astype(np.float32)
    want = np.asarray(model.predict(x, verbose=0))
    assert_matches(compile_and_run(model_json, x, tmp_path / "build"), want)


def test_keras_hard_sigmoid_written_as_ops_imports_as_one_activation(tmp_path):
    """relu6(z + 3) * (1/6) is z's hard_sigmoid (the add and relu6 are not written); where
    relu6(z + 3) is read elsewhere too, it stays and the result is the same. z times its
    hard_sigmoid is z's hard_swish."""
    L = keras.layers
    inputs = keras.Input((6, 6, 8), batch_size=1)
    z = L.Conv2D(8, 1, name="z")(inputs)
    other = L.Conv2D(8, 1, name="other")(inputs)
    gate = L.ReLU(6.0)(z + 3.0) * (1 / 6)
    shifted = L.ReLU(6.0)(z + 3.0)
    y = L.Concatenate()([L.Multiply()([other, gate]), shifted * (1 / 6), shifted,
                         L.Multiply()([gate, z])])
    model = keras.Model(inputs, y)
    path = tmp_path / "hsig.keras"
    model.save(path)
    model_json = import_model(str(path), "keras", str(tmp_path / "imported"))
    layers = json.loads(Path(model_json).read_text())["layers"]
    assert [l["input"] for l in layers if l.get("activation") == "hard_sigmoid"] == ["z", "z"]
    assert sum(l["op"] == "rescaling" for l in layers) == 1     # the shared z + 3 only
    assert [l["input"] for l in layers if l.get("activation") == "hard_swish"] == ["z"]
    x = np.random.default_rng(3).standard_normal((1, 6, 6, 8)).astype(np.float32) * 3
    want = np.asarray(model.predict(x, verbose=0))
    assert_matches(compile_and_run(model_json, x, tmp_path / "build"), want)


def test_importer_builder_knows_the_ops_with_input_lists():
    from sepc.importers.builder import MULTI_INPUT_OPS
    from sepc.ops import OPS
    assert set(MULTI_INPUT_OPS) == {op for op, row in OPS.items() if row.inputs_field == "inputs"}


def pythonpath(folder: Path) -> dict:
    """The environment with `folder` in front of the import path (keeping the caller's)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(folder),
                                                                      os.environ.get("PYTHONPATH")]))}


@pytest.mark.parametrize("pooling", ["Flatten", "GlobalAveragePooling2D"])
def test_keras_sequential(pooling, tmp_path):
    """A separable-conv classifier as the Keras tutorials write it."""
    L = keras.layers
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        L.SeparableConv2D(16, 3, activation="relu"),
        L.MaxPooling2D(pool_size=(2, 2)),
        L.SeparableConv2D(32, 3, activation="relu"),
        L.MaxPooling2D(pool_size=(2, 2)),
        getattr(L, pooling)(),
        L.Dropout(0.5),
        L.Dense(10, activation="softmax"),
    ])
    path = tmp_path / "sequential.keras"
    model.save(path)
    model_json = import_model(str(path), "keras", str(tmp_path / "imported"))
    x = np.random.default_rng(5).standard_normal((1, 28, 28, 1)).astype(np.float32)
    want = np.asarray(model.predict(x, verbose=0))
    assert_matches(compile_and_run(model_json, x, tmp_path / "build"), want)


@pytest.mark.parametrize("rank", [1, 2])
def test_keras_conv_with_a_group_per_channel_is_depthwise(rank, tmp_path):
    """Conv1D/Conv2D(groups=C): one group per input channel, two filters each."""
    L = keras.layers
    shape, conv = ((12, 6), L.Conv1D) if rank == 1 else ((9, 7, 6), L.Conv2D)
    inputs = keras.Input(shape, batch_size=1)
    x = conv(6, 3, padding="same", name="mix")(inputs)
    x = conv(12, 3, strides=2, groups=6, activation="relu", name="grouped")(x)
    model = keras.Model(inputs, x)
    rng = np.random.default_rng(3)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32)
                       for w in model.get_weights()])
    path = tmp_path / "grouped.keras"
    model.save(path)
    model_json = import_model(str(path), "keras", str(tmp_path / "imported"))
    assert '"depthwise_conv' in Path(model_json).read_text()
    x = rng.standard_normal((1, *shape)).astype(np.float32)
    want = np.asarray(model.predict(x, verbose=0))
    assert_matches(compile_and_run(model_json, x, tmp_path / "build"), want)


@pytest.mark.filterwarnings("ignore:You are saving a model that has not yet been built")
def test_keras_sequential_without_an_input_is_exit_2(tmp_path):
    path = tmp_path / "unbuilt.keras"
    keras.Sequential([keras.layers.Dense(3)]).save(path)
    done = sepc_import(path, "keras", tmp_path / "out")
    assert done.returncode == 2 and "has no Input" in done.stderr and "Traceback" not in done.stderr


def torch_reference():
    model, example = importer_models.torch_mobilenet_v2()
    with torch.no_grad():
        want = model(example).numpy()
    return model, example, want


def nhwc(example) -> np.ndarray:
    """NCHW or NCW -> channels last."""
    return np.ascontiguousarray(np.moveaxis(example.numpy(), 1, -1))


def test_torch_functions_traced_by_a_tracer_of_ones_own(tmp_path):
    from sepc.importers.torch_importer import import_graph_module
    traced, example = importer_models.torch_wrapped_functions()
    want = np.moveaxis(traced(example).numpy(), 1, -1)
    model_json = import_graph_module(traced, example, "wrapped", "test").write(
        str(tmp_path / "imported"))
    assert_matches(compile_and_run(model_json, nhwc(example), tmp_path / "build"), want)


def test_torch_modules_have_every_converter():
    from sepc.importers.torch_importer import converter_table, module_key
    used = set()
    for make in (importer_models.torch_every_layer_2d, importer_models.torch_every_layer_1d,
                 importer_models.torch_wrapped_functions):
        model, _ = make()
        traced = (model if isinstance(model, torch.fx.GraphModule)
                  else torch.fx.symbolic_trace(model))
        modules = dict(traced.named_modules())
        used |= {module_key(type(modules[node.target])) if node.op == "call_module" else node.target
                 for node in traced.graph.nodes if node.op.startswith("call_")}
    assert set(converter_table()) <= used, set(converter_table()) - used


def test_torch_module(tmp_path):
    model, example, want = torch_reference()
    model_json = import_torch(model, example, source="test").write(str(tmp_path / "imported"))
    assert_matches(compile_and_run(model_json, nhwc(example), tmp_path / "build"), want)


def test_torch_module_from_the_command_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sepc", "import",
                           "importer_models:torch_mobilenet_v2", "--format", "torch",
                           "-o", str(tmp_path)],
                          capture_output=True, text=True, env=pythonpath(HERE))
    assert done.returncode == 0, done.stderr
    model_json = done.stdout.strip()
    assert model_json.endswith("MobileNetV2Like.json") and Path(model_json).exists()
    _, example, want = torch_reference()
    assert_matches(compile_and_run(model_json, nhwc(example), tmp_path / "build"), want)


def test_torch_module_in_the_current_folder_from_the_sepc_command(tmp_path):
    """`sepc import my_models:make` run where my_models.py is: the console script, unlike
    `python -m`, does not put the current folder on the import path itself."""
    script = Path(sys.executable).with_name("sepc")
    if not script.exists():
        pytest.skip("no sepc console script beside this Python")
    (tmp_path / "my_models.py").write_text(
        "import torch\n\n\n"
        "def make():\n"
        "    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())\n"
        "    return model, torch.randn(1, 3, 8, 8)\n")
    done = subprocess.run([str(script), "import", "my_models:make", "--format", "torch",
                           "-o", "out"], capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "Sequential.json").exists()


def test_import_name_flag(tmp_path):
    """Two models of one class, imported side by side under their own names; a name that
    is not a C identifier is exit 2, naming the flag, with nothing written."""
    (tmp_path / "two_models.py").write_text(
        "import torch\n\n\n"
        "def make(width):\n"
        "    model = torch.nn.Sequential(torch.nn.Conv2d(3, width, 3), torch.nn.ReLU())\n"
        "    return model, torch.randn(1, 3, 8, 8)\n\n\n"
        "def narrow():\n    return make(4)\n\n\n"
        "def wide():\n    return make(8)\n")

    def run(spec, name):
        return subprocess.run([sys.executable, "-m", "sepc", "import", spec, "--format", "torch",
                               "-o", "out", "--name", name], capture_output=True, text=True,
                              check=False, cwd=tmp_path)
    for spec, name in (("two_models:narrow", "narrow_net"), ("two_models:wide", "wide_net")):
        done = run(spec, name)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().endswith(f"{name}.json")
    for name, filters in (("narrow_net", 4), ("wide_net", 8)):
        document = json.loads((tmp_path / "out" / f"{name}.json").read_text())
        assert document["name"] == name
        assert [layer.get("filters") for layer in document["layers"]][0] == filters
    done = run("two_models:wide", "2-wide")
    assert done.returncode == 2 and "--name" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "narrow_net.json", "narrow_net.npz", "wide_net.json", "wide_net.npz"]


def sepc_import_with(source, fmt: str, out_dir: Path, *flags):
    return subprocess.run([sys.executable, "-m", "sepc", "import", str(source), "--format", fmt,
                           "-o", str(out_dir), *flags], capture_output=True, text=True,
                          check=False)


def test_keras_unknown_input_dimensions(tmp_path):
    """An input of (None, None, 3) is exit 2 naming it, until --input-shape sets it; the
    model rebuilt at that shape matches Keras."""
    inputs = keras.Input((None, None, 3), name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu6")(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(5)(x))
    path = tmp_path / "any_size.keras"
    model.save(path)
    done = sepc_import_with(path, "keras", tmp_path / "out")
    assert done.returncode == 2 and "'image'" in done.stderr and "--input-shape" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()
    for flag in ("image=1,32,3", "photo=1,32,32,3", "image=1,32,32,4", "image=1,x,32,3"):
        done = sepc_import_with(path, "keras", tmp_path / "out", "--input-shape", flag)
        assert done.returncode == 2 and "--input-shape" in done.stderr, (flag, done.stderr)
        assert "Traceback" not in done.stderr
    done = sepc_import_with(path, "keras", tmp_path / "out", "--input-shape", "image=1,32,24,3")
    assert done.returncode == 0, done.stderr
    model_json = done.stdout.strip()
    assert json.loads(Path(model_json).read_text())["inputs"]["image"]["shape"] == [1, 32, 24, 3]
    x = np.random.default_rng(2).standard_normal((1, 32, 24, 3)).astype(np.float32)
    want = np.asarray(model.predict(x, verbose=0))
    assert_matches(compile_and_run(model_json, x, tmp_path / "build"), want)


def test_onnx_unknown_input_dimensions(tmp_path):
    model, example, want = torch_reference()
    path = tmp_path / "dynamic.onnx"
    torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch", 2: "height", 3: "width"}})
    done = sepc_import_with(path, "onnx", tmp_path / "out")
    assert done.returncode == 2 and "'x'" in done.stderr and "--input-shape" in done.stderr
    assert "Traceback" not in done.stderr
    shape = ",".join(map(str, example.shape))
    done = sepc_import_with(path, "onnx", tmp_path / "out", "--input-shape", f"x={shape}")
    assert done.returncode == 0, done.stderr
    assert_matches(compile_and_run(done.stdout.strip(), nhwc(example), tmp_path / "build"), want)


def test_onnx_batch_flag(tmp_path):
    """An ONNX model exported at batch 1 (global pool, Flatten, Gemm), imported with
    --batch 2, matches torch on two images; --batch 0 is exit 2."""
    model, _, _ = torch_reference()
    example = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        want = model(example).numpy()
    path = tmp_path / "batch1.onnx"
    torch.onnx.export(model, (example[:1],), str(path), dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["logits"])
    done = sepc_import_with(path, "onnx", tmp_path / "out", "--batch", "0")
    assert done.returncode == 2 and "--batch" in done.stderr and "Traceback" not in done.stderr
    done = sepc_import_with(path, "onnx", tmp_path / "out", "--batch", "2")
    assert done.returncode == 0, done.stderr
    assert_matches(compile_and_run(done.stdout.strip(), nhwc(example), tmp_path / "build"), want)


def test_torch_same_and_valid_padding(tmp_path):
    """padding='same' with odd, even (the odd pad after) and dilated kernels; 'valid'."""
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(3, 6, 4, padding="same"), nn.ReLU(),
                          nn.Conv2d(6, 6, 3, padding="same", dilation=2, groups=6),
                          nn.Conv2d(6, 4, (2, 3), padding="valid")).eval()
    example = torch.randn(1, 3, 9, 10)
    with torch.no_grad():
        want = model(example).numpy()
    model_json = import_torch(model, example, source="test").write(str(tmp_path / "imported"))
    got = compile_and_run(model_json, nhwc(example), tmp_path / "build")
    assert_matches(got, np.moveaxis(want, 1, -1))


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_onnx_export_of_the_torch_module(dynamo, tmp_path):
    if dynamo:
        pytest.importorskip("onnxscript")
    model, example, want = torch_reference()
    path = tmp_path / "mobilenet_v2_like.onnx"
    if dynamo:    # torch's default exporter
        torch.onnx.export(model, (example,), str(path), dynamo=True, verbose=False)
    else:
        torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["logits"])
    model_json = import_model(str(path), "onnx", str(tmp_path / "imported"))
    assert_matches(compile_and_run(model_json, nhwc(example), tmp_path / "build"), want)


@pytest.mark.parametrize("make", [importer_models.onnx_folded_ops, importer_models.onnx_more_ops,
                                  importer_models.onnx_extension_ops])
def test_onnx_graph_made_with_helper(make, tmp_path):
    model, x, want = make()
    path = tmp_path / "ops.onnx"
    onnx.save(model, str(path))
    model_json = import_model(str(path), "onnx", str(tmp_path / "imported"))
    assert_matches(compile_and_run(model_json, np.ascontiguousarray(x.transpose(0, 2, 3, 1)),
                                   tmp_path / "build"), want)


def test_onnx_graphs_have_every_converter():
    from sepc.importers.onnx_importer import CONVERTERS
    used = {node.op_type
            for make in (importer_models.onnx_folded_ops, importer_models.onnx_more_ops,
                         importer_models.onnx_extension_ops)
            for node in make()[0].graph.node}
    assert set(CONVERTERS) | {"Constant"} <= used, set(CONVERTERS) - used


def test_keras_every_layer(tmp_path):
    """Every converter at once, imported at a batch of 3 (`--batch`)."""
    model = importer_models.keras_every_layer()
    path = tmp_path / "every_layer.keras"
    model.save(path)
    rng = np.random.default_rng(4)
    inputs = {"image": rng.standard_normal((3, 16, 16, 3)).astype(np.float32),
              "sequence": rng.standard_normal((3, 20, 4)).astype(np.float32)}
    want = np.asarray(model.predict([inputs["image"], inputs["sequence"]], verbose=0))
    model_json = import_model(str(path), "keras", str(tmp_path / "imported"), batch=3)
    assert [spec["shape"][0] for spec in json.loads(Path(model_json).read_text())[
        "inputs"].values()] == [3, 3]
    manifest = compile_file(model_json, target="host", out_dir=str(tmp_path / "build"))
    (got,) = sepc_runtime.load(manifest).run(inputs).values()
    assert_matches(got, want)


def test_keras_every_layer_has_every_converter():
    from sepc.importers.keras_importer import CONVERTERS, OP_CONVERTERS
    model = importer_models.keras_every_layer()
    used = {type(layer).__name__ for layer in model.layers}
    assert set(CONVERTERS) <= used, set(CONVERTERS) - used
    ops = {type(op).__name__ for op in model.operations if not isinstance(op, keras.layers.Layer)}
    assert set(OP_CONVERTERS) <= ops, set(OP_CONVERTERS) - ops


@pytest.mark.parametrize("make", [importer_models.torch_every_layer_2d,
                                  importer_models.torch_every_layer_1d])
def test_torch_every_layer(make, tmp_path):
    model, example = make()
    with torch.no_grad():
        want = model(example).numpy()
    model_json = import_torch(model, example, source="test").write(str(tmp_path / "imported"))
    assert_matches(compile_and_run(model_json, nhwc(example), tmp_path / "build"), want)


@pytest.mark.parametrize("arm_target,sve_vl", [("arm-neon", None), ("arm-sve", 256)])
def test_torch_module_on_arm_under_qemu(arm_target, sve_vl, tmp_path):
    model, example, want = torch_reference()
    model_json = import_torch(model, example, source="test").write(str(tmp_path / "imported"))
    manifest = compile_file(model_json, target=arm_target, out_dir=str(tmp_path / "build"))
    outputs, _ = emulator.run_emulated(sepc_runtime.read_manifest(manifest),
                                       {"x": nhwc(example)}, sve_vl)
    (got,) = outputs.values()
    assert_matches(got, want)


def test_torch_squeeze_excite_on_arm_neon_under_qemu(tmp_path):
    """multiply (broadcast), concatenate, global pooling with keepdims and the hard
    activations compiled for ARM (NEON) and run under qemu."""
    model, example, want = torch_squeeze_excite_reference()
    model_json = import_torch(model, example, source="test").write(str(tmp_path / "imported"))
    manifest = compile_file(model_json, target="arm-neon", out_dir=str(tmp_path / "build"))
    outputs, _ = emulator.run_emulated(sepc_runtime.read_manifest(manifest),
                                       {"x": nhwc(example)}, None)
    (got,) = outputs.values()
    assert_matches(got, want)


def test_unsupported_layers_are_reported_all_at_once(tmp_path):
    inputs = keras.Input((8, 8, 4), batch_size=1)
    x = keras.layers.Conv2D(4, 3, padding="same", name="ok_conv")(inputs)
    x = keras.layers.LayerNormalization(name="norm_here")(x)
    x = keras.layers.Conv2DTranspose(4, 3, name="upsampler")(x)
    x = keras.layers.Conv2D(4, 1, groups=2, name="grouped")(x)
    path = tmp_path / "bad.keras"
    keras.Model(inputs, x).save(path)
    done = subprocess.run([sys.executable, "-m", "sepc", "import", str(path), "--format", "keras",
                           "-o", str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert str(path) in done.stderr
    for name in ("norm_here", "upsampler", "grouped"):
        assert f"'{name}'" in done.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_keras_ops_and_layers_behind_them_are_reported_by_name(tmp_path):
    """A Keras op on tensors (`x + 3`, not a layer) is named itself, and an unsupported
    layer that consumes it is still reported, in one run; run without KERAS_BACKEND, as a
    user's shell has it (Keras then picks its backend from what is installed)."""
    inputs = keras.Input((8, 8, 4), batch_size=1)
    x = keras.layers.Rescaling(1 / 255, name="ok_scale")(inputs)
    x = keras.layers.Conv2D(4, 1, name="ok_conv")(x)
    gate = keras.layers.ReLU(6.0, name="ok_relu6")(keras.ops.exp(x))
    x = keras.layers.LayerNormalization(name="norm_here")(x * gate)
    path = tmp_path / "ops.keras"
    keras.Model(inputs, x).save(path)
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, "-m", "sepc", "import", str(path), "--format", "keras",
                           "-o", str(tmp_path / "out")], capture_output=True, text=True, env=env)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert "(Exp, a Keras op)" in done.stderr
    assert "'norm_here' (LayerNormalization)" in done.stderr
    for name in ("ok_scale", "ok_relu6", "ok_conv", "multiply"):
        assert name not in done.stderr


def test_keras_new_layers_with_arguments_sepc_cannot_take_are_named(tmp_path):
    """Concatenate off the channels, a product that does not broadcast as a squeeze-excite
    scale, an inverted Normalization, a tensor minus a tensor and a division by a tensor:
    exit 2, each named, in one run, no traceback."""
    L = keras.layers
    inputs = keras.Input((6, 6, 4), batch_size=1)
    x = L.Conv2D(4, 1, name="ok_conv")(inputs)
    rows = L.Concatenate(axis=1, name="rows_joined")([x, x])
    column = L.Conv2D(4, (6, 1), name="column")(x)              # (1, 1, 6, 4)
    product = L.Multiply(name="by_column")([x, column])
    restored = L.Normalization(mean=0.5, variance=2.0, invert=True, name="unnormalize")(x)
    difference = keras.ops.subtract(product, restored)
    quotient = keras.ops.divide(x, restored)
    y = L.Concatenate(name="ok_concat")([L.Flatten()(rows), L.Flatten()(difference),
                                         L.Flatten()(quotient)])
    path = tmp_path / "bad_new.keras"
    keras.Model(inputs, y).save(path)
    done = sepc_import(path, "keras", tmp_path / "out")
    assert_reported(done, path, ["'rows_joined' (Concatenate): axis 1",
                                 "'by_column' (Multiply): multiplies shapes",
                                 "'unnormalize' (Normalization): invert=True",
                                 "(Subtract): subtracts a tensor", "(Divide): divides by a tensor"],
                    tmp_path / "out")
    assert "ok_conv" not in done.stderr and "ok_concat" not in done.stderr


def test_torch_products_concatenations_and_means_sepc_cannot_take_are_named():
    from sepc.errors import UserError

    class Bad(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            x = self.conv(x)
            rows = torch.cat([x, x], dim=2)
            channel_mean = x.mean(1, keepdim=True)
            return rows.mean((2, 3)) + (x * x.mean(3, keepdim=True)).mean((2, 3)) \
                + channel_mean.mean((2, 3)) + (1.0 / x).mean((2, 3))

    with pytest.raises(UserError) as raised:
        import_torch(Bad().eval(), torch.zeros(1, 3, 8, 8), source="test").check()
    message = str(raised.value)
    for name in ("'cat' (cat): axis 2", "'mul' (mul): multiplies shapes",
                 "'mean' (.mean): this method", "'mean_2' (.mean): this method",
                 "'truediv' (truediv): this function"):
        assert name in message, message


def test_missing_file_is_exit_2(tmp_path):
    for fmt in ("keras", "onnx"):
        done = subprocess.run([sys.executable, "-m", "sepc", "import", str(tmp_path / "none"),
                               "--format", fmt], capture_output=True, text=True)
        assert done.returncode == 2 and "does not exist" in done.stderr
        assert "Traceback" not in done.stderr


def sepc_import(source, fmt: str, out_dir: Path, **run):
    return subprocess.run([sys.executable, "-m", "sepc", "import", str(source), "--format", fmt,
                           "-o", str(out_dir)], capture_output=True, text=True, check=False, **run)


def assert_reported(done, source, names, out_dir: Path):
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert str(source) in done.stderr
    for name in names:
        assert name in done.stderr
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_unsupported_onnx_operators_are_reported_by_name(tmp_path):
    from onnx import helper
    w = np.ones((4, 3, 3, 3), np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("LeakyRelu", ["c"], ["leaky"], name="leaky_here"),
             helper.make_node("Erf", ["leaky"], ["y"], name="erf_here")]
    path = tmp_path / "bad.onnx"
    onnx.save(importer_models.onnx_graph("bad", nodes, {"w": w}, np.zeros((1, 3, 8, 8), np.float32),
                                         [1, 4, 6, 6]), str(path))
    done = sepc_import(path, "onnx", tmp_path / "out")
    assert_reported(done, path, ["'leaky_here' (LeakyRelu): this operator is not supported",
                                 "'erf_here' (Erf): this operator is not supported"],
                    tmp_path / "out")


def test_unsupported_torch_modules_functions_and_methods_are_reported_by_name(tmp_path):
    source = "importer_models:torch_unsupported"
    done = sepc_import(source, "torch", tmp_path / "out", env=pythonpath(HERE))
    assert_reported(done, source, ["'gelu' (GELU): this module type is not supported",
                                   "'erf' (erf): this function is not supported",
                                   "'view' (.view): this method is not supported"],
                    tmp_path / "out")


def test_layers_after_a_rejected_layer_are_checked_too(tmp_path):
    """A layer rejected for an attribute stands in for its output like an unsupported one,
    so the problems after it are reported in the same run."""
    from onnx import helper
    from sepc.errors import UserError
    from sepc.importers.onnx_importer import import_onnx
    nodes = [helper.make_node("Gemm", ["x", "w"], ["g"], name="gemm_transa", transA=1),
             helper.make_node("LeakyRelu", ["g"], ["y"], name="leaky_after")]
    path = tmp_path / "bad.onnx"
    onnx.save(importer_models.onnx_graph("bad", nodes, {"w": np.ones((4, 4), np.float32)},
                                         np.zeros((4, 4), np.float32), [4, 4]), str(path))
    with pytest.raises(UserError, match="(?s)'gemm_transa'.*'leaky_after'"):
        import_onnx(str(path)).check()

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"),
                                torch.nn.GELU())
    with pytest.raises(UserError, match=r"(?s)'_0' \(Conv2d\).*'_1' \(GELU\)"):
        import_torch(model, torch.zeros(1, 3, 8, 8), source="test").check()


def test_layers_no_output_reads_are_not_written(tmp_path):
    """A framework branch no output depends on (and its weights) is left out."""
    import json

    from sepc.importers.builder import ModelBuilder
    b = ModelBuilder("m", "test")
    b.add_input("x", [1, 8])
    b.add("dead", "dense", "x", [1, 4], {"kernel": np.ones((8, 4))}, units=4)
    b.add("used", "dense", "x", [1, 2], {"kernel": np.ones((8, 2))}, units=2)
    b.add("act", "activation", "used", [1, 2], activation="relu")
    b.outputs = ["act"]
    path = b.write(str(tmp_path))
    document = json.loads(Path(path).read_text())
    assert [layer["name"] for layer in document["layers"]] == ["used", "act"]
    assert sorted(np.load(tmp_path / "m.npz").files) == ["used/kernel"]


def test_onnx_hard_sigmoid_other_than_keras_and_other_products_are_refused(tmp_path):
    """HardSigmoid is relu6(x + 3) / 6 only for alpha 1/6, beta 0.5 (ONNX's default is
    0.2, 0.5); Mul broadcasts only (N, C, 1, 1) factors, Concat only along the channels."""
    from onnx import helper
    from sepc.errors import UserError
    from sepc.importers.onnx_importer import import_onnx
    nodes = [helper.make_node("HardSigmoid", ["x"], ["h"], name="default_hsig"),
             helper.make_node("Sigmoid", ["h"], ["s"]),
             helper.make_node("ReduceMean", ["s"], ["rows"], axes=[3], name="row_mean"),
             helper.make_node("Mul", ["s", "rows"], ["p"], name="row_product"),
             helper.make_node("Mul", ["p", "w"], ["q"], name="by_a_map"),
             helper.make_node("Concat", ["q", "q"], ["y"], axis=2, name="rows_joined")]
    path = tmp_path / "bad.onnx"
    onnx.save(importer_models.onnx_graph("bad", nodes, {"w": np.ones((4, 4), np.float32)},
                                         np.zeros((1, 3, 4, 4), np.float32),
                                         [1, 3, 8, 4]), str(path))
    with pytest.raises(UserError) as raised:
        import_onnx(str(path)).check()
    message = str(raised.value)
    assert "'default_hsig' (HardSigmoid): HardSigmoid(alpha=0.2, beta=0.5)" in message
    for name in ("'row_mean' (ReduceMean)", "'row_product' (Mul)", "'by_a_map' (Mul)",
                 "'rows_joined' (Concat)"):
        assert name in message, message


def torch_squeeze_excite_reference():
    model, example = importer_models.torch_squeeze_excite_net()
    with torch.no_grad():
        want = model(example).numpy()
    return model, example, want


def test_torch_squeeze_excite_cat_and_mean(tmp_path):
    model, example, want = torch_squeeze_excite_reference()
    b = import_torch(model, example, source="test")
    ops = {layer["op"] for layer in b.live_layers()}
    assert {"multiply", "concatenate", "global_average_pooling2d"} <= ops
    model_json = b.write(str(tmp_path / "imported"))
    assert_matches(compile_and_run(model_json, nhwc(example), tmp_path / "build"), want)


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_onnx_export_with_squeeze_excite(dynamo, tmp_path):
    """torch's exporters: the TorchScript one (GlobalAveragePool-free ReduceMean of opset
    17's attribute form) and the default dynamo one (opset 18+, ReduceMean axes as an
    input, batch norms folded into the convs)."""
    if dynamo:
        pytest.importorskip("onnxscript")
    model, example, want = torch_squeeze_excite_reference()
    path = tmp_path / "se.onnx"
    if dynamo:
        torch.onnx.export(model, (example,), str(path), dynamo=True, verbose=False)
    else:
        torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["logits"])
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert {"ReduceMean", "Mul", "Concat", "HardSigmoid"} <= ops, ops
    model_json = import_model(str(path), "onnx", str(tmp_path / "imported"))
    assert_matches(compile_and_run(model_json, nhwc(example), tmp_path / "build"), want)


def test_keras_scaled_residual_folds_into_its_conv(tmp_path):
    """Inception-ResNet's residual, x + scale * conv1x1(y): the rescaling of the conv's
    output folds into its kernel and bias (fold-rescaling), and the result matches Keras."""
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer
    from sepc.driver import emit
    inputs = keras.Input((6, 5, 4), batch_size=1)
    branch = keras.layers.Conv2D(4, 1)(keras.layers.Conv2D(3, 3, padding="same")(inputs))
    x = keras.layers.Activation("relu")(CustomScaleLayer(0.17)([inputs, branch]))
    model = keras.Model(inputs, x)
    path = tmp_path / "scaled_residual.keras"
    model.save(path)
    model_json = import_model(str(path), "keras", str(tmp_path / "imported"))
    assert "sep.rescaling" not in emit(model_json, "sep", target="host")
    x_in = np.random.default_rng(3).standard_normal((1, 6, 5, 4)).astype(np.float32)
    want = np.asarray(model.predict(x_in, verbose=0))
    assert_matches(compile_and_run(model_json, x_in, tmp_path / "build"), want)
