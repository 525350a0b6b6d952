"""Every model of keras.applications, as a new user would try it (weights=None): sepc
imports it and matches Keras, or refuses it naming every layer it cannot take, in one run.

Importing all of them is quick; compiling all of them is not (NASNetLarge at 32x32 takes
three minutes), so the compile-and-match half runs on a few unless
SEPC_ALL_KERAS_APPLICATIONS=1 asks for every one."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import sepc_runtime
from sepc.driver import compile_file
from sepc.errors import UserError
from sepc.importers import import_model

os.environ.setdefault("KERAS_BACKEND", "torch")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
keras = pytest.importorskip("keras")
pytest.importorskip("torch")

from sepc.importers.keras_importer import CONVERTERS, import_keras_model  # noqa: E402
from test_importers import assert_matches  # noqa: E402

APPLICATIONS = sorted(name for name in dir(keras.applications) if name[0].isupper())
# The smallest input each accepts (Keras refuses smaller ones); 32 for the rest.
SMALLEST_INPUT = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71}
# Compiled and run as well: one model of each family that test_importers.py does not
# compile already (MobileNet, MobileNetV2, V3, EfficientNetB0, DenseNet121), and not the
# slowest to compile (NASNetLarge, InceptionResNetV2: minutes at 32x32).
COMPILED = {"EfficientNetV2B0", "ResNet50", "ResNet50V2", "VGG16", "Xception"}


def build(name: str):
    size = SMALLEST_INPUT.get(name, 32)
    try:
        return keras.applications.__dict__[name](weights=None, input_shape=(size, size, 3),
                                                 classifier_activation=None)
    except ValueError as e:
        if "torch backend" in str(e):      # NASNetMobile: see test_nasnet_mobile_from_tf
            pytest.skip(f"Keras cannot build {name} on this backend: {str(e)[:80]}")
        raise


def test_the_walk_sees_every_application():
    assert len(APPLICATIONS) >= 38 and COMPILED <= set(APPLICATIONS)


@pytest.mark.parametrize("name", APPLICATIONS)
def test_keras_application_imports_and_matches_or_is_refused_by_name(name, tmp_path):
    model = build(name)
    unsupported = [layer.name for layer in model.layers
                   if type(layer).__name__ not in {*CONVERTERS, "InputLayer"}]
    try:
        builder = import_keras_model(model, f"{name}.keras")
        model_json = builder.write(str(tmp_path / "imported"))
    except UserError as e:
        message = str(e)
        assert message.startswith(f"{name}.keras: cannot import"), message
        missing = [layer for layer in unsupported if f"'{layer}'" not in message]
        assert not missing, f"{name}: not named in one run: {missing[:5]}"
        return
    assert not unsupported, f"{name}: imported though {unsupported[:3]} have no converter"
    if name not in COMPILED and not os.environ.get("SEPC_ALL_KERAS_APPLICATIONS"):
        return
    size = model.inputs[0].shape[1]
    x = np.random.default_rng(0).standard_normal((1, size, size, 3)).astype(np.float32)
    want = np.asarray(model.predict(x, verbose=0), dtype=np.float64)
    assert np.ptp(want) > 0, f"{name}: a constant output would match anything"
    manifest = compile_file(model_json, target="host", out_dir=str(tmp_path / "build"))
    assert_matches(sepc_runtime.load(manifest)(x), want)


NASNET_IN_TF = """
import sys, numpy as np, keras
model = keras.applications.NASNetMobile(weights=None, input_shape=(32, 32, 3),
                                        classifier_activation=None)
model.save(sys.argv[1] + "/NASNetMobile.keras")
x = np.random.default_rng(0).standard_normal((1, 32, 32, 3)).astype(np.float32)
np.save(sys.argv[1] + "/x.npy", x)
np.save(sys.argv[1] + "/want.npy", np.asarray(model.predict(x, verbose=0)))
"""


@pytest.mark.skipif(not os.environ.get("SEPC_TF_PYTHON"),
                    reason="SEPC_TF_PYTHON (a Python with tensorflow) is not set")
def test_nasnet_mobile_from_tf(tmp_path):
    """NASNetMobile (cropping2d, concatenations of separable-conv cells), which Keras on
    PyTorch refuses to build: built and run in TensorFlow, imported and compiled by sepc."""
    subprocess.run([os.environ["SEPC_TF_PYTHON"], "-c", NASNET_IN_TF, str(tmp_path)],
                   check=True, env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    model_json = import_model(str(tmp_path / "NASNetMobile.keras"), "keras",
                              str(tmp_path / "imported"))
    layers = json.loads(Path(model_json).read_text())["layers"]
    assert any(layer["op"] == "cropping2d" for layer in layers)
    want = np.load(tmp_path / "want.npy").astype(np.float64)
    manifest = compile_file(model_json, target="host", out_dir=str(tmp_path / "build"))
    assert_matches(sepc_runtime.load(manifest)(np.load(tmp_path / "x.npy")), want)
