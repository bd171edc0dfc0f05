"""`lenet5`: LeNet-5 (LeCun et al. 1998, "Gradient-Based Learning Applied to Document
Recognition") as the pruning literature trains it: two 5x5 convolutions of 6 and 16 channels,
each followed by a ReLU and 2x2 max-pooling, then dense layers of 120 and 84 units and the
classifier (ReLU and max-pooling in place of the paper's scaled tanh and trainable subsampling).
The first convolution pads only as far as the paper's 32x32 inputs need, by 2 at most: 28x28
MNIST is padded to 32x32 (61,706 parameters, as the paper's network on 32x32), 32x32 inputs
(the paper's, CIFAR-10) are not padded. The second pads by 2 when its input is smaller than
10x10 (digits' 8x8), so small images keep a feature map. `[parent] channels` sets the two
convolution widths."""

from __future__ import annotations

from .conv import ConvLayer, ConvNet, image_shape, stage_widths

CHANNELS = (6, 16)
HIDDEN = (120, 84)
PAPER_SIZE = 32
MNIST_PADDING = 2
"""The first convolution's padding for 28x28 MNIST (and, up to sparsearch 0.2.0, for every
input); the spec records a padding only when it differs from this."""


def first_padding(size: int) -> int:
    """Padding that brings a `size`-pixel side to the paper's 32, between 0 and 2."""
    return max(0, min(MNIST_PADDING, (PAPER_SIZE - size + 1) // 2))


def lenet5(config, shape: tuple[int, ...], n_classes: int) -> ConvNet:
    shape = image_shape("lenet5", shape, 2)
    channels = stage_widths("lenet5", config.channels, CHANNELS)
    padding = first_padding(min(shape[1:]))
    after_first = (min(shape[1:]) + 2 * padding - 4) // 2
    convs = (ConvLayer(channels[0], 5, padding=padding, pool=2),
             ConvLayer(channels[1], 5, padding=0 if after_first >= 10 else 2, pool=2))
    # The padding enters the spec (and so the trial keys) only where it differs from the 2 every
    # earlier version used: stored results of inputs below 30 pixels keep their keys.
    variant = {"first_padding": padding} if padding != MNIST_PADDING else {}
    return ConvNet("lenet5", shape, convs, HIDDEN, n_classes, {"channels": list(channels)}, variant)
