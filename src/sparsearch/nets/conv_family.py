"""`conv2`, `conv4`, `conv6`: the VGG-style CIFAR-10 networks of the lottery ticket hypothesis
(Frankle & Carbin 2019, "The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural
Networks", Figure 2): pairs of 3x3 convolutions (padding 1, ReLU) of 64, 128 and 256 channels,
each pair followed by 2x2 max-pooling (Conv-2: one pair, Conv-4: two, Conv-6: three), then dense
layers of 256 and 256 units and the classifier. `[parent] channels` sets the pairs' widths."""

from __future__ import annotations

from functools import partial

from .conv import ConvLayer, ConvNet, image_shape, stage_widths

PAIRS = (64, 128, 256)
HIDDEN = (256, 256)


def conv_family(config, shape: tuple[int, ...], n_classes: int, pairs: int) -> ConvNet:
    kind = f"conv{2 * pairs}"
    widths = stage_widths(kind, config.channels, PAIRS[:pairs])
    convs = tuple(ConvLayer(w, 3, padding=1, pool=2 if second else 1) for w in widths for second in (False, True))
    return ConvNet(kind, image_shape(kind, shape, 2), convs, HIDDEN, n_classes, {"channels": list(widths)})


conv2 = partial(conv_family, pairs=1)
conv4 = partial(conv_family, pairs=2)
conv6 = partial(conv_family, pairs=3)
