"""A small CNN defined outside the package, as a user would write one (tests/test_module_parent.py
registers it with `sparsearch.register_parent`)."""

import torch
import torch.nn.functional as F
from torch import nn


class SmallCNN(nn.Module):
    """conv-relu-pool, conv-relu, flatten, linear for [channels, H, W] images."""

    def __init__(self, shape, n_classes, c1=6, c2=8):
        super().__init__()
        channels, height, width = shape
        self.conv1 = nn.Conv2d(channels, c1, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.fc = nn.Linear(c2 * (height // 2) * (width // 2), n_classes)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = torch.relu(self.conv2(x))
        return self.fc(torch.flatten(x, 1))


class FunctionalCNN(nn.Module):
    """A convolution written with F.conv2d on a bare parameter: Torch-Pruning cannot tell which of
    its dims holds the channels, so its groups must be declared (DECLARED)."""

    def __init__(self, shape, n_classes, channels=6):
        super().__init__()
        self.kernel = nn.Parameter(torch.randn(channels, shape[0], 3, 3) * 0.3)
        self.shift = nn.Parameter(torch.zeros(channels))
        self.fc = nn.Linear(channels * (shape[1] // 2) * (shape[2] // 2), n_classes)

    def forward(self, x):
        x = F.max_pool2d(torch.relu(F.conv2d(x, self.kernel, self.shift, padding=1)), 2)
        return self.fc(torch.flatten(x, 1))


DECLARED = [[("kernel", 0), ("shift", 0), ("fc.weight", 1)]]


def small_cnn(shape, n_classes):
    return SmallCNN(shape, n_classes)


def functional_cnn(shape, n_classes):
    return FunctionalCNN(shape, n_classes)
