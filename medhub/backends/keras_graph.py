"""A Keras functional classifier executed with native PyTorch operations, layer by layer.

Keras 3 on its PyTorch backend runs each layer through Keras' own call machinery and transposes
every convolution's input and output between NHWC and NCHW: the CT model's forward pass took about
170 ms here, where the same MobileNetV2 written in torch takes 35 ms. `TorchGraph` walks the model's
graph (its nodes by depth, as Keras' own `Functional` call does; not `get_config()`, which imports
TensorFlow when it is installed), takes each layer's settings from its attributes and its weights once
(`layer.get_weights()`, converted to torch's layouts) and runs the graph in NCHW with
`torch.nn.functional`. The weights are the ones Keras loaded from the `.weights.h5` file into the
architecture built in code (`medhub.architectures.keras_nets`); nothing else is read.

Only the layer types in `_CONVERTERS` are known (those the hub's Keras architectures use, in
inference mode); a model with any other layer raises `UnsupportedGraph` and the backend keeps
Keras' own execution. `tests/test_keras_runtimes.py` checks this graph against Keras' call on the
bundled CT model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np


class UnsupportedGraph(Exception):
    """The model has a layer or option this module does not execute."""


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding of one spatial axis: (before, after)."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _check(layer, linear: bool = False, channels_last: bool = False) -> None:
    if linear and getattr(layer.activation, "__name__", "") != "linear":
        raise UnsupportedGraph(f"layer {layer.name}: activation {layer.activation!r}")
    if channels_last and getattr(layer, "data_format", "channels_last") != "channels_last":
        raise UnsupportedGraph(f"layer {layer.name}: data_format {layer.data_format!r}")


def _conv(torch, layer, depthwise: bool) -> Callable:
    F = torch.nn.functional
    _check(layer, linear=True, channels_last=True)
    weights = layer.get_weights()
    kernel = np.asarray(weights[0], dtype=np.float32)
    kh, kw, cin, cout = kernel.shape
    if depthwise:  # (kh, kw, C, multiplier) -> (C * multiplier, 1, kh, kw); output channel c * m + k
        weight = torch.from_numpy(np.ascontiguousarray(kernel.transpose(2, 3, 0, 1).reshape(cin * cout, 1, kh, kw)))
        groups = cin
    else:  # (kh, kw, C_in / groups, C_out) -> (C_out, C_in / groups, kh, kw)
        weight = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
        groups = int(getattr(layer, "groups", 1))
    bias = torch.from_numpy(np.asarray(weights[1], dtype=np.float32)) if layer.use_bias else None
    stride = tuple(int(v) for v in layer.strides)
    dilation = tuple(int(v) for v in layer.dilation_rate)
    padding = layer.padding
    if padding not in ("valid", "same"):
        raise UnsupportedGraph(f"layer {layer.name}: padding {padding!r}")

    def run(x):
        if padding == "same":
            top, bottom = _same_padding(x.shape[2], kh, stride[0], dilation[0])
            left, right = _same_padding(x.shape[3], kw, stride[1], dilation[1])
            if top or bottom or left or right:
                x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, weight, bias, stride, 0, dilation, groups)

    return run


def _batch_norm(torch, layer) -> Callable:
    if layer.axis not in (-1, 3):
        raise UnsupportedGraph(f"layer {layer.name}: batch-norm axis {layer.axis!r}")
    weights = [np.asarray(w, dtype=np.float64) for w in layer.get_weights()]
    gamma = weights.pop(0) if layer.scale else 1.0
    beta = weights.pop(0) if layer.center else 0.0
    mean, var = weights
    scale = gamma / np.sqrt(var + float(layer.epsilon))
    shift = beta - mean * scale
    scale_t = torch.from_numpy(scale.astype(np.float32)).view(1, -1, 1, 1)
    shift_t = torch.from_numpy(shift.astype(np.float32)).view(1, -1, 1, 1)
    return lambda x: torch.addcmul(shift_t, x, scale_t)


def _relu(torch, layer) -> Callable:
    if float(layer.negative_slope) != 0.0 or float(layer.threshold) != 0.0:
        raise UnsupportedGraph(f"layer {layer.name}: leaky or thresholded ReLU")
    top = layer.max_value
    return (lambda x: torch.clamp(x, 0.0, float(top))) if top is not None else torch.relu


def _zero_padding(torch, layer) -> Callable:
    _check(layer, channels_last=True)
    (top, bottom), (left, right) = layer.padding
    return lambda x: torch.nn.functional.pad(x, (int(left), int(right), int(top), int(bottom)))


def _global_average(torch, layer) -> Callable:
    _check(layer, channels_last=True)
    keep = bool(layer.keepdims)
    return lambda x: x.mean(dim=(2, 3), keepdim=keep)


def _dense(torch, layer) -> Callable:
    _check(layer, linear=True)
    weights = layer.get_weights()
    kernel = torch.from_numpy(np.ascontiguousarray(np.asarray(weights[0], dtype=np.float32).T))
    bias = torch.from_numpy(np.asarray(weights[1], dtype=np.float32)) if layer.use_bias else None
    return lambda x: torch.nn.functional.linear(x, kernel, bias)


_CONVERTERS: dict[str, Callable] = {
    "Conv2D": lambda torch, layer: _conv(torch, layer, depthwise=False),
    "DepthwiseConv2D": lambda torch, layer: _conv(torch, layer, depthwise=True),
    "BatchNormalization": _batch_norm,
    "ReLU": _relu,
    "ZeroPadding2D": _zero_padding,
    "GlobalAveragePooling2D": _global_average,
    "Dense": _dense,
    "Dropout": lambda torch, layer: (lambda x: x),  # inference
    "Add": lambda torch, layer: (lambda *xs: sum(xs[1:], xs[0])),
}


class TorchGraph:
    """The model's layers as torch functions, in the graph's order (deepest nodes first)."""

    def __init__(self, model, torch) -> None:
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise UnsupportedGraph("only single-input, single-output functional models")
        try:
            self.input_name = model.inputs[0]._keras_history.operation.name
            self.output_name = model.outputs[0]._keras_history.operation.name
            nodes = [n for depth in sorted(model._nodes_by_depth, reverse=True) for n in model._nodes_by_depth[depth]]
        except AttributeError as err:  # not a functional graph this Keras exposes as 3.x does
            raise UnsupportedGraph(f"cannot read the model's graph: {err}") from None
        self.steps: list[tuple[str, Callable, list[str]]] = []
        seen: set[str] = set()
        for node in nodes:
            layer = node.operation
            if node.is_input:
                continue
            kind = type(layer).__name__
            if layer.name in seen:
                raise UnsupportedGraph(f"layer {layer.name}: called more than once")
            if kind not in _CONVERTERS:
                raise UnsupportedGraph(f"layer {layer.name}: {kind} is not a known layer type")
            seen.add(layer.name)
            sources = [t._keras_history.operation.name for t in node.input_tensors]
            self.steps.append((layer.name, _CONVERTERS[kind](torch, layer), sources))
        # Free each intermediate output after its last reader (a batch of 32 would otherwise hold
        # every activation of the network at once).
        last: dict[str, int] = {}
        for i, (_, _, sources) in enumerate(self.steps):
            for s in sources:
                last[s] = i
        self._free_after = [[s for s in set(sources) if last[s] == i] for i, (_, _, sources) in enumerate(self.steps)]
        self._torch = torch

    def run(self, x_nhwc, leaf: str | None = None, keep: tuple[str, ...] = ()) -> dict[str, Any]:
        """Run on an NHWC float tensor; returns {name: output} for `keep` and the output layer.

        The output of layer `leaf` becomes a tensor that asks for its gradient (Grad-CAM): nothing
        before it records a graph, so a backward pass from the logits ends there."""
        values: dict[str, Any] = {self.input_name: x_nhwc.permute(0, 3, 1, 2)}
        wanted = {*keep, self.output_name}
        for (name, fn, sources), done in zip(self.steps, self._free_after):
            out = fn(*(values[s] for s in sources))
            if name == leaf:
                out = out.detach().requires_grad_(True)
            values[name] = out
            for s in done:
                if s not in wanted:
                    del values[s]
        return {name: values[name] for name in wanted}
