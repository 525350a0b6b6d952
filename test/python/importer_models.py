"""Models for the importer tests, built with random weights (no downloads): a PyTorch
MobileNetV2-style network, and helpers for Keras models."""
import numpy as np


def randomize_batch_norms(model, seed: int = 0) -> None:
    """Keras initializes batch norms to the identity; random statistics make every layer
    of the imported model matter to the comparison."""
    import keras
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([1 + 0.2 * rng.standard_normal(gamma.shape),
                               0.2 * rng.standard_normal(beta.shape),
                               0.2 * rng.standard_normal(mean.shape),
                               1 + 0.5 * rng.random(variance.shape)])


def torch_mobilenet_v2(classes: int = 10, size: int = 64):
    """A MobileNetV2-style module (inverted residuals, ReLU6, a Hardswish head) with
    random batch-norm statistics, and an example input."""
    import torch
    import torch.nn as nn

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
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.8, 1.5)
            m.weight.data.uniform_(0.8, 1.2)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval(), torch.randn(1, 3, size, size)
