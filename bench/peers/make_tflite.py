#!/usr/bin/env python3
"""Write block_<NAME>.tflite for bench/separable_blocks.py --tflite-dir (needs TensorFlow).

The Keras model of each block carries the very weights the benchmark checks against
(peers/blocks.py makes them from the block's name), and Keras 'same' padding is the
model.json rule, so the LiteRT/XNNPACK output must match the float64 reference.

    pip install tensorflow        # in a separate virtualenv is fine: only the files are needed
    python bench/peers/make_tflite.py OUT_DIR [--blocks A,B,...]
    python bench/peers/make_tflite.py --cases DIR [DIR ...]

writes DIR/model.tflite for each case folder of bench/shape_sweep.py and bench/network.py
(peers/suite.py: DIR/model.json with DIR/weights.npz), through peers/graphs.keras_model.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from peers.blocks import BLOCKS  # noqa: E402
from peers import graphs  # noqa: E402


def keras_block(block, tf):
    layers = tf.keras.layers
    weights = block.weights()
    x = tf.keras.Input(shape=block.in_shape[1:], batch_size=1, name="x")
    if block.rank == 2:
        dw = layers.DepthwiseConv2D(block.kernel, strides=block.stride, padding="same", name="dw")
        pw = layers.Conv2D(block.filters, 1, name="pw")
    else:
        dw = layers.DepthwiseConv1D(block.kernel, strides=block.stride, padding="same", name="dw")
        pw = layers.Conv1D(block.filters, 1, name="pw")
    mid = layers.ReLU(max_value=6.0)(dw(x))
    y = layers.ReLU(max_value=6.0)(pw(mid))
    model = tf.keras.Model(x, y)
    dw.set_weights([weights["dw/depthwise_kernel"], weights["dw/bias"]])
    pw.set_weights([weights["pw/kernel"], weights["pw/bias"]])
    return model


def write_cases(folders, tf):
    import json

    import numpy as np
    for folder in folders:
        model = json.loads((folder / "model.json").read_text())
        weights = dict(np.load(folder / "weights.npz"))
        keras = graphs.keras_model(model, weights, tf.keras)
        converter = tf.lite.TFLiteConverter.from_keras_model(keras)
        (folder / "model.tflite").write_bytes(converter.convert())
        print(f"wrote {folder / 'model.tflite'}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", nargs="?")
    parser.add_argument("--cases", nargs="+", metavar="DIR",
                        help="write DIR/model.tflite for each case folder instead")
    parser.add_argument("--blocks", default=",".join(BLOCKS))
    args = parser.parse_args()
    try:
        import tensorflow as tf
    except ImportError:
        sys.exit("TensorFlow is needed to make .tflite files: pip install tensorflow")
    if args.cases:
        write_cases([Path(c) for c in args.cases], tf)
        return
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in filter(None, args.blocks.split(",")):
        converter = tf.lite.TFLiteConverter.from_keras_model(keras_block(BLOCKS[name], tf))
        path = out / f"block_{name}.tflite"
        path.write_bytes(converter.convert())       # fp32: no optimizations, no quantization
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
