"""`sepc import` (compiler/sepc/importers): Keras MobileNetV1/V2, a PyTorch MobileNetV2-style
network and its ONNX export, each imported, compiled for host and compared with the
framework's own prediction (max abs error <= 1e-4 x max(1, max |output|)); one also runs
for ARM under qemu. Unsupported layers are reported all at once, exit 2."""
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


def torch_reference():
    model, example = importer_models.torch_mobilenet_v2()
    with torch.no_grad():
        want = model(example).numpy()
    return model, example, want


def nhwc(example) -> np.ndarray:
    return np.ascontiguousarray(example.numpy().transpose(0, 2, 3, 1))


def test_torch_module(tmp_path):
    model, example, want = torch_reference()
    model_json = import_torch(model, example, source="test").write(str(tmp_path / "imported"))
    assert_matches(compile_and_run(model_json, nhwc(example), tmp_path / "build"), want)


def test_torch_module_from_the_command_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sepc", "import", "importer_models:torch_mobilenet_v2",
                           "--format", "torch", "-o", str(tmp_path)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(HERE)})
    assert done.returncode == 0, done.stderr
    model_json = done.stdout.strip()
    assert model_json.endswith("MobileNetV2Like.json") and Path(model_json).exists()
    _, example, want = torch_reference()
    assert_matches(compile_and_run(model_json, nhwc(example), tmp_path / "build"), want)


def test_onnx_export_of_the_torch_module(tmp_path):
    model, example, want = torch_reference()
    path = tmp_path / "mobilenet_v2_like.onnx"
    torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["logits"])
    model_json = import_model(str(path), "onnx", str(tmp_path / "imported"))
    assert_matches(compile_and_run(model_json, nhwc(example), tmp_path / "build"), want)


def test_onnx_graph_made_with_helper(tmp_path):
    """Operators the torch exporter folds away or never writes: BatchNormalization, Clip,
    HardSwish, Pad, MaxPool, GlobalAveragePool, Flatten, Gemm, Softmax."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(2)
    inits = {
        "w1": rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.5,
        "dw": rng.standard_normal((8, 1, 3, 3)).astype(np.float32) * 0.5,
        "g": (1 + 0.1 * rng.standard_normal(8)).astype(np.float32),
        "b": (0.1 * rng.standard_normal(8)).astype(np.float32),
        "m": (0.1 * rng.standard_normal(8)).astype(np.float32),
        "v": (1 + rng.random(8)).astype(np.float32),
        "lo": np.array(0.0, np.float32), "hi": np.array(6.0, np.float32),
        "fc": rng.standard_normal((5, 8)).astype(np.float32),
        "fcb": rng.standard_normal(5).astype(np.float32),
        "pads": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("BatchNormalization", ["c1", "g", "b", "m", "v"], ["bn"], epsilon=1e-3),
        helper.make_node("Clip", ["bn", "lo", "hi"], ["r6"]),
        helper.make_node("Pad", ["r6", "pads"], ["p"]),
        helper.make_node("Conv", ["p", "dw"], ["d"], group=8),
        helper.make_node("HardSwish", ["d"], ["hs"]),
        helper.make_node("MaxPool", ["hs"], ["mp"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["mp"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "fc", "fcb"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["y"], axis=-1),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    path = tmp_path / "ops.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    x = rng.standard_normal((1, 3, 16, 16)).astype(np.float32)
    # The same network in PyTorch, written from the ONNX operators' definitions.
    F = torch.nn.functional
    t = torch.from_numpy
    y = F.conv2d(t(x), t(inits["w1"]), stride=2, padding=1)
    y = F.batch_norm(y, t(inits["m"]), t(inits["v"]), t(inits["g"]), t(inits["b"]), eps=1e-3)
    y = F.pad(y.clamp(0, 6), (1, 1, 1, 1))
    y = F.max_pool2d(F.hardswish(F.conv2d(y, t(inits["dw"]), groups=8)), 2)
    y = F.linear(y.mean((2, 3)), t(inits["fc"]), t(inits["fcb"])).softmax(-1)
    model_json = import_model(str(path), "onnx", str(tmp_path / "imported"))
    assert_matches(compile_and_run(model_json, np.ascontiguousarray(x.transpose(0, 2, 3, 1)),
                                   tmp_path / "build"), y.numpy())


@pytest.mark.parametrize("arm_target,sve_vl", [("arm-neon", None), ("arm-sve", 256)])
def test_torch_module_on_arm_under_qemu(arm_target, sve_vl, tmp_path):
    model, example, want = torch_reference()
    model_json = import_torch(model, example, source="test").write(str(tmp_path / "imported"))
    manifest = compile_file(model_json, target=arm_target, out_dir=str(tmp_path / "build"))
    outputs, _ = emulator.run_emulated(sepc_runtime.read_manifest(manifest),
                                       {"x": nhwc(example)}, sve_vl)
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


def test_missing_file_is_exit_2(tmp_path):
    for fmt in ("keras", "onnx"):
        done = subprocess.run([sys.executable, "-m", "sepc", "import", str(tmp_path / "none"),
                               "--format", fmt], capture_output=True, text=True)
        assert done.returncode == 2 and "does not exist" in done.stderr and "Traceback" not in done.stderr
