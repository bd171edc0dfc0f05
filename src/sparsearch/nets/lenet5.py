"""`lenet5`: LeNet-5 (LeCun et al. 1998, "Gradient-Based Learning Applied to Document
Recognition") as the pruning literature trains it: two 5x5 convolutions of 6 and 16 channels,
each followed by a ReLU and 2x2 max-pooling, then dense layers of 120 and 84 units and the
classifier (ReLU and max-pooling in place of the paper's scaled tanh and trainable subsampling).
The first convolution pads by 2, as for 28x28 MNIST in place of the paper's 32x32 inputs; the
second pads by 2 too when its input is smaller than 10x10 (digits' 8x8), so small images keep a
feature map. `[parent] channels` sets the two convolution widths."""

from __future__ import annotations

from .conv import ConvLayer, ConvNet, image_shape, stage_widths

CHANNELS = (6, 16)
HIDDEN = (120, 84)


def lenet5(config, shape: tuple[int, ...], n_classes: int) -> ConvNet:
    shape = image_shape("lenet5", shape, 2)
    channels = stage_widths("lenet5", config.channels, CHANNELS)
    after_first = min(shape[1:]) // 2
    convs = (ConvLayer(channels[0], 5, padding=2, pool=2),
             ConvLayer(channels[1], 5, padding=0 if after_first >= 10 else 2, pool=2))
    return ConvNet("lenet5", shape, convs, HIDDEN, n_classes, {"channels": list(channels)})
