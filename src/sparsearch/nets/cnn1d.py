"""`cnn1d`: the small 1-D CNN of the MNIST-1D paper (Greydanus 2020, "Scaling down Deep
Learning", the `ConvBase` model of github.com/greydanus/mnist1d): three convolutions of 25
channels (kernel 5 then 3 and 3, stride 2, padding 1), each followed by a ReLU, and a linear
classifier on the flattened features. `[parent] channels` sets the three widths."""

from __future__ import annotations

from .conv import ConvLayer, ConvNet, image_shape, stage_widths

CHANNELS = (25, 25, 25)


def cnn1d(config, shape: tuple[int, ...], n_classes: int) -> ConvNet:
    channels = stage_widths("cnn1d", config.channels, CHANNELS)
    kernels = (5, *[3] * (len(channels) - 1))
    convs = tuple(ConvLayer(c, k, stride=2, padding=1) for c, k in zip(channels, kernels))
    return ConvNet("cnn1d", image_shape("cnn1d", shape, 1), convs, (), n_classes, {"channels": list(channels)})
