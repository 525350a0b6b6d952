"""Models for the importer tests, built with random weights (no downloads): a PyTorch
MobileNetV2-style network, models that use every layer, operator, module, function and
method the importers convert, and helpers for Keras models."""
import numpy as np


def randomize_batch_norms(model, seed: int = 0) -> None:
    """Keras initializes batch norms to the identity; random statistics make every layer
    of the imported model matter to the comparison."""
    import keras
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            # gamma and beta are left out without `scale` / `center` (InceptionV3)
            draws = {"gamma": lambda shape: 1 + 0.2 * rng.standard_normal(shape),
                     "beta": lambda shape: 0.2 * rng.standard_normal(shape),
                     "moving_mean": lambda shape: 0.2 * rng.standard_normal(shape),
                     "moving_variance": lambda shape: 1 + 0.5 * rng.random(shape)}
            layer.set_weights([draws[w.path.rsplit("/", 1)[-1]](tuple(w.shape))
                               for w in layer.weights])


def torch_mobilenet_v2(classes: int = 10, size: int = 64):
    """A MobileNetV2-style module (inverted residuals, ReLU6, a Hardswish head) with
    random batch-norm statistics, and an example input."""
    import torch
    from torch import nn

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hidden = cin * expand
            layers = []
            if expand != 1:
                layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden),
                           nn.ReLU6(inplace=True)]
            layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
                       nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
                       nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
            self.conv = nn.Sequential(*layers)
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.conv(x) if self.residual else self.conv(x)

    class MobileNetV2Like(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                                      nn.ReLU6(inplace=True))
            self.blocks = nn.Sequential(
                InvertedResidual(16, 16, 1, 1), InvertedResidual(16, 24, 2, 6),
                InvertedResidual(24, 24, 1, 6), InvertedResidual(24, 32, 2, 6),
                InvertedResidual(32, 32, 1, 6), InvertedResidual(32, 64, 2, 6))
            self.head = nn.Sequential(nn.Conv2d(64, 128, 1, bias=False), nn.BatchNorm2d(128),
                                      nn.Hardswish())
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(128, classes))

        def forward(self, x):
            x = self.head(self.blocks(self.stem(x)))
            return self.classifier(torch.flatten(self.pool(x), 1))

    torch.manual_seed(0)
    model = MobileNetV2Like()
    randomize_torch_batch_norms(model)
    return model.eval(), torch.randn(1, 3, size, size)


def keras_every_layer():
    """A Keras model with every layer class the importer converts, an Activation of every
    activation it knows and every Keras op on tensors it converts: an image branch and a
    sequence branch that meet in an Add."""
    import keras
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer
    from sepc.importers.keras_importer import ACTIVATIONS
    L = keras.layers
    image = keras.Input((16, 16, 3), batch_size=1, name="image")
    x = L.Rescaling(1 / 127.5, offset=-1)(image)
    x = L.Normalization(mean=[0.1, -0.2, 0.3], variance=[0.5, 2.0, 1.5])(x)
    x = L.Rescaling([1.0, 0.5, 2.0])(L.GaussianNoise(0.1)(L.Identity()(x)))
    x = L.ZeroPadding2D(((1, 0), (0, 1)))(x)
    x = L.Conv2D(8, 3, strides=2, activation="relu")(x)
    skip = L.ReLU()(L.BatchNormalization()(x))
    x = L.ReLU(max_value=6.0)(L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(skip))
    x = L.SeparableConv2D(8, 3, padding="same")(x)
    for activation in ACTIVATIONS:
        x = L.Activation(activation)(x)
    # Squeeze-excite as MobileNetV3 writes it: relu6(z + 3) * (1/6), a Keras op on tensors.
    gate = L.Conv2D(8, 1)(L.GlobalAveragePooling2D(keepdims=True)(x))
    gate = L.ReLU(6.0)(gate + 3.0) * (1 / 6)
    x = L.Multiply()([x, gate]) * gate
    x = ((x - 1.0) / 4.0 + keras.ops.divide(2.0 - x, 0.5)) * 3.0
    x = L.Conv2D(8, 1)(L.Concatenate()([x, skip, x]))
    x = L.ZeroPadding2D(((1, 0), (0, 1)))(L.Cropping2D(((1, 0), (0, 1)))(x))
    # keras.applications' own layer for Inception-ResNet's residuals: skip + 0.5 * x.
    x = CustomScaleLayer(0.5)([skip, x])
    x = L.Softmax()(L.Add()([x, skip]))
    x = L.SpatialDropout2D(0.3)(L.GaussianDropout(0.2)(L.AlphaDropout(0.1)(x)))
    x = L.Dropout(0.5)(L.AveragePooling2D(2)(L.MaxPooling2D(2)(x)))
    wide = L.Dense(5)(L.Flatten()(x))
    pooled = L.Dense(5, activation="sigmoid")(L.GlobalAveragePooling2D()(x))
    sequence = keras.Input((20, 4), batch_size=1, name="sequence")
    s = L.DepthwiseConv1D(3, depth_multiplier=2)(L.Conv1D(6, 3, dilation_rate=2)(sequence))
    s = L.SpatialDropout1D(0.2)(s)
    s = L.SeparableConv1D(6, 3, activation="tanh", use_bias=False)(s)
    s = L.Dense(5)(L.GlobalAveragePooling1D()(s))
    y = L.Reshape((5, 1))(L.Add()([wide, pooled, s]))
    model = keras.Model([image, sequence], y, name="every_layer")
    randomize_batch_norms(model)
    return model


def torch_every_layer_2d():
    """A module with every 2-D module, function and method the importer converts, and an
    example input."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class EveryLayer2d(nn.Module):
        def __init__(self):
            super().__init__()
            self.pad = nn.ZeroPad2d((1, 0, 0, 1))
            self.conv = nn.Conv2d(3, 8, 3, 2, 1)
            self.bn = nn.BatchNorm2d(8)
            self.depthwise = nn.Conv2d(8, 16, 3, 1, 1, groups=8, bias=False)
            self.activations = nn.Sequential(nn.ReLU(), nn.ReLU6(), nn.Hardswish(), nn.Sigmoid(),
                                             nn.Tanh(), nn.Hardtanh(0.0, 6.0), nn.Hardsigmoid(),
                                             nn.SiLU())
            self.max_pool = nn.MaxPool2d(2)
            self.avg_pool = nn.AvgPool2d(2, 1)
            self.drop = nn.Dropout(0.5)
            self.identity = nn.Identity()
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.flatten = nn.Flatten()
            self.fc = nn.Linear(16, 5)
            self.head = nn.Linear(16, 5, bias=False)
            self.softmax = nn.Softmax(dim=1)
            self.drop2d = nn.Dropout2d(0.1)
            self.squeeze = nn.Conv2d(32, 16, 1)
            self.squeeze2 = nn.Conv2d(48, 16, 1)

        def forward(self, x):
            x = self.activations(self.depthwise(self.bn(self.conv(self.pad(x)))))
            # Squeeze-excite: per-channel factors broadcast over H and W.
            x = x * torch.sigmoid(x.mean((2, 3), keepdim=True) * 2.0)
            x = torch.mul(x, F.hardsigmoid(x))
            x = x.mul(torch.mean(x, dim=[-1, -2], keepdim=True))
            x = (x - 0.5) / 2.0 + (1.0 - x)
            x = self.squeeze(torch.cat([x, self.drop2d(x)], dim=1))
            x = self.squeeze2(torch.concat((x, x, x), -3))
            x = F.relu(x) + torch.relu(x)
            x = torch.add(F.relu6(x), F.hardswish(x)) + F.hardsigmoid(x) + F.silu(x)
            x = torch.sigmoid(x).add(torch.tanh(x))
            x = F.dropout(x.relu().sigmoid().tanh(), 0.5, self.training)
            x = self.avg_pool(self.identity(self.drop(self.max_pool(x))))
            pooled = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1) \
                + F.adaptive_avg_pool2d(x, (1, 1)).flatten(1) + x.mean((2, 3))
            return self.softmax(self.fc(self.flatten(self.gap(x))) + self.head(pooled))

    torch.manual_seed(1)
    model = EveryLayer2d()
    randomize_torch_batch_norms(model)
    return model.eval(), torch.randn(1, 3, 16, 16)


def torch_squeeze_excite_net(size: int = 32):
    """A MobileNetV3/EfficientNet-style module as people write it by hand: inverted
    residuals with Hardswish and SiLU, squeeze-excite (x.mean keepdim, nn.Hardsigmoid or
    sigmoid gate, x * gate), a two-branch torch.cat, a .mean head; random batch-norm
    statistics, and an example input."""
    import torch
    from torch import nn

    class SqueezeExcite(nn.Module):
        def __init__(self, channels, reduced, gate):
            super().__init__()
            self.reduce = nn.Conv2d(channels, reduced, 1)
            self.relu = nn.ReLU()
            self.expand = nn.Conv2d(reduced, channels, 1)
            self.gate = gate

        def forward(self, x):
            scale = self.gate(self.expand(self.relu(self.reduce(x.mean((2, 3), keepdim=True)))))
            return x * scale

    class Block(nn.Module):
        def __init__(self, cin, hidden, cout, stride, act, gate):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), act(),
                nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
                nn.BatchNorm2d(hidden), act(), SqueezeExcite(hidden, hidden // 4, gate),
                nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.body(x) if self.residual else self.body(x)

    class SqueezeExciteNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                                      nn.Hardswish())
            self.mobilenet = Block(16, 64, 16, 1, nn.Hardswish, nn.Hardsigmoid())
            self.efficientnet = Block(16, 48, 24, 2, nn.SiLU, nn.Sigmoid())
            self.side = nn.Conv2d(16, 8, 3, 2, 1)
            self.head = nn.Sequential(nn.Conv2d(32, 64, 1), nn.Hardswish())
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, 10))

        def forward(self, x):
            x = self.mobilenet(self.stem(x))
            x = torch.cat([self.efficientnet(x), self.side(x)], dim=1)
            return self.classifier(self.head(x).mean((2, 3)))

    torch.manual_seed(4)
    model = SqueezeExciteNet()
    randomize_torch_batch_norms(model)
    return model.eval(), torch.randn(1, 3, size, size)


def torch_every_layer_1d():
    """The 1-D modules: a separable conv, batch norm and global pooling, and an example input."""
    import torch
    from torch import nn

    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv1d(4, 6, 3), nn.Dropout1d(0.1),
                          nn.Conv1d(6, 12, 3, padding=1, groups=6),
                          nn.BatchNorm1d(12), nn.AdaptiveAvgPool1d(1), nn.Flatten())
    randomize_torch_batch_norms(model)
    return model.eval(), torch.randn(1, 4, 20)


def torch_unsupported():
    """A module with modules, functions and methods the importer does not convert."""
    import torch
    from torch import nn

    class Unsupported(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.gelu = nn.GELU()

        def forward(self, x):
            x = self.gelu(self.conv(x))
            return torch.relu(torch.erf(x).view(1, -1))

    return Unsupported().eval(), torch.randn(1, 3, 8, 8)


def randomize_torch_batch_norms(model) -> None:
    from torch import nn
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.8, 1.5)
            m.weight.data.uniform_(0.8, 1.2)
            m.bias.data.uniform_(-0.2, 0.2)


def onnx_graph(name: str, nodes, initializers: dict, x: np.ndarray, output_shape):
    """A one-input, one-output ONNX model (opset 17) of `nodes` over `x`."""
    from onnx import TensorProto, helper, numpy_helper
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(output_shape))],
        [numpy_helper.from_array(v, k) for k, v in initializers.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def onnx_folded_ops():
    """Operators the torch exporter folds away or never writes: BatchNormalization, Clip,
    HardSwish, Pad, MaxPool, GlobalAveragePool, Flatten, Gemm, Softmax. Returns the model,
    an input and the output, computed in PyTorch from the operators' definitions."""
    import torch
    import torch.nn.functional as F
    from onnx import helper
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
    x = rng.standard_normal((1, 3, 16, 16)).astype(np.float32)
    t = torch.from_numpy
    y = F.conv2d(t(x), t(inits["w1"]), stride=2, padding=1)
    y = F.batch_norm(y, t(inits["m"]), t(inits["v"]), t(inits["g"]), t(inits["b"]), eps=1e-3)
    y = F.pad(y.clamp(0, 6), (1, 1, 1, 1))
    y = F.max_pool2d(F.hardswish(F.conv2d(y, t(inits["dw"]), groups=8)), 2)
    y = F.linear(y.mean((2, 3)), t(inits["fc"]), t(inits["fcb"])).softmax(-1)
    return onnx_graph("folded_ops", nodes, inits, x, y.shape), x, y.numpy()


def onnx_more_ops():
    """The operators neither onnx_folded_ops nor the torch export use: Relu, Sigmoid, Tanh,
    HardSigmoid, Mul(x, Sigmoid(x)), Clip(0, none), Identity, Dropout, AveragePool, Add,
    Constant, Reshape, MatMul. Returns the model, an input and the output, computed in
    PyTorch."""
    import torch
    import torch.nn.functional as F
    from onnx import helper, numpy_helper
    rng = np.random.default_rng(3)
    inits = {
        "w": rng.standard_normal((6, 3, 3, 3)).astype(np.float32) * 0.5,
        "wb": rng.standard_normal(6).astype(np.float32),
        "dw": rng.standard_normal((12, 1, 3, 3)).astype(np.float32) * 0.5,
        "lo": np.array(0.0, np.float32),
        "mm": rng.standard_normal((12, 4)).astype(np.float32),
    }
    shape = numpy_helper.from_array(np.array([1, -1], np.int64))
    nodes = [
        helper.make_node("Conv", ["x", "w", "wb"], ["c"], pads=[0, 1, 2, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Conv", ["r", "dw"], ["d"], group=6, pads=[1, 1, 1, 1], strides=[1, 2]),
        helper.make_node("Sigmoid", ["d"], ["s"]),
        helper.make_node("Tanh", ["s"], ["t0"]),
        helper.make_node("HardSigmoid", ["t0"], ["hsig"], alpha=1 / 6, beta=0.5),
        helper.make_node("Sigmoid", ["hsig"], ["gate"]),
        helper.make_node("Mul", ["gate", "hsig"], ["t"]),
        helper.make_node("Clip", ["d", "lo"], ["clip"]),
        helper.make_node("Identity", ["clip"], ["i"]),
        helper.make_node("Dropout", ["i"], ["drop"]),
        helper.make_node("Add", ["t", "drop"], ["a"]),
        helper.make_node("AveragePool", ["a"], ["ap"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["ap"], ["gap"]),
        helper.make_node("Constant", [], ["shape"], value=shape),
        helper.make_node("Reshape", ["gap", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "mm"], ["y"]),
    ]
    x = rng.standard_normal((1, 3, 12, 12)).astype(np.float32)
    t = torch.from_numpy
    c = F.relu(F.conv2d(F.pad(t(x), (1, 1, 0, 2)), t(inits["w"]), t(inits["wb"])))
    d = F.conv2d(c, t(inits["dw"]), stride=(1, 2), padding=1, groups=6)
    a = F.silu(F.hardsigmoid(torch.tanh(torch.sigmoid(d)))) + d.clamp(min=0)
    y = F.avg_pool2d(a, 2).mean((2, 3)) @ t(inits["mm"])
    return onnx_graph("more_ops", nodes, inits, x, y.shape), x, y.numpy()


def onnx_extension_ops():
    """The operators of squeeze-excite, preprocessing and concatenation neither the others
    nor the torch exports use: Conv with auto_pad (SAME_UPPER, SAME_LOWER, VALID), Sub and
    Div by constants (c - x, x - c per channel, x / c), Add and Mul of a number, ReduceMean
    (axes an attribute, opset 17) and Squeeze/Unsqueeze of the spatial axes, Mul by a
    (N, C, 1, 1) factor, Concat. Returns the model, an input and the output (PyTorch)."""
    import torch
    import torch.nn.functional as F
    from onnx import helper
    rng = np.random.default_rng(5)
    inits = {
        "mean": rng.standard_normal((1, 3, 1, 1)).astype(np.float32),
        "two": np.array(2.0, np.float32), "four": np.array([4.0], np.float32),
        "half": np.array(0.5, np.float32), "three": np.array(3.0, np.float32),
        "w1": rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.5,
        "w2": rng.standard_normal((8, 1, 4, 4)).astype(np.float32) * 0.5,
        "w3": rng.standard_normal((8, 8, 2, 2)).astype(np.float32) * 0.5,
        "fc1": rng.standard_normal((4, 8, 1, 1)).astype(np.float32) * 0.5,
        "fc2": rng.standard_normal((8, 4, 1, 1)).astype(np.float32) * 0.5,
        "spatial": np.array([2, 3], np.int64),
    }
    nodes = [
        helper.make_node("Sub", ["x", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "four"], ["scaled"]),
        helper.make_node("Sub", ["two", "scaled"], ["flipped"]),
        helper.make_node("Conv", ["flipped", "w1"], ["c1"], auto_pad="SAME_UPPER", strides=[2, 2]),
        helper.make_node("Conv", ["c1", "w2"], ["c2"], auto_pad="SAME_LOWER", group=8),
        helper.make_node("Add", ["c2", "three"], ["shifted"]),
        helper.make_node("Mul", ["shifted", "half"], ["halved"]),
        helper.make_node("ReduceMean", ["halved"], ["pooled"], axes=[2, 3], keepdims=0),
        helper.make_node("Unsqueeze", ["pooled", "spatial"], ["pooled4"]),
        helper.make_node("Conv", ["pooled4", "fc1"], ["r"]),
        helper.make_node("Relu", ["r"], ["rr"]),
        helper.make_node("Conv", ["rr", "fc2"], ["e"]),
        helper.make_node("Sigmoid", ["e"], ["gate"]),
        helper.make_node("Mul", ["gate", "halved"], ["excited"]),
        helper.make_node("Conv", ["excited", "w3"], ["c3"], auto_pad="VALID"),
        helper.make_node("Concat", ["c3", "c3"], ["both"], axis=1),
        helper.make_node("ReduceMean", ["both", "spatial"], ["gap"], keepdims=1),
        helper.make_node("Squeeze", ["gap", "spatial"], ["y"]),
    ]
    x = rng.standard_normal((1, 3, 11, 10)).astype(np.float32)
    t = torch.from_numpy
    flipped = 2.0 - (t(x) - t(inits["mean"])) / 4.0
    c1 = F.conv2d(F.pad(flipped, (0, 1, 1, 1)), t(inits["w1"]), stride=2)      # 11x10 -> 6x5
    c2 = F.conv2d(F.pad(c1, (2, 1, 2, 1)), t(inits["w2"]), groups=8)           # 4x4 SAME_LOWER
    halved = (c2 + 3.0) * 0.5
    gate = torch.sigmoid(F.conv2d(F.relu(F.conv2d(halved.mean((2, 3), keepdim=True),
                                                  t(inits["fc1"]))), t(inits["fc2"])))
    c3 = F.conv2d(gate * halved, t(inits["w3"]))
    y = torch.cat([c3, c3], 1).mean((2, 3))
    model = onnx_graph("extension_ops", nodes, inits, x, y.shape)
    model.opset_import[0].version = 17
    return model, x, y.numpy()


def torch_wrapped_functions():
    """A traced module calling F.sigmoid and F.tanh as functions, as a Tracer that wraps
    them records them (symbolic_trace records the tensor methods they call), and an example
    input."""
    import torch
    import torch.nn.functional as F
    graph = torch.fx.Graph()
    x = graph.placeholder("x")
    graph.output(graph.call_function(F.tanh, (graph.call_function(F.sigmoid, (x,)),)))
    return torch.fx.GraphModule(torch.nn.Module(), graph), torch.randn(1, 3, 4, 4)
