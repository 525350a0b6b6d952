"""What each op's row in the op table (sepc/ops.py) computes from its parsed attributes:
the output shape (shape inference, which also resolves "same"/"valid" padding to explicit
pairs) and the parameters the layer needs from the .npz.
"""
from __future__ import annotations

import math
from typing import Any

from sepc.frontend.fields import Site, show
from sepc.frontend.weights import ParamSpec, format_shape

SPATIAL_AXES = {1: ("W",), 2: ("H", "W")}
KERNEL_AXES = {1: ("K",), 2: ("KH", "KW")}

Operand = tuple[str, tuple[int, ...]]   # a value's name and shape
Attrs = dict[str, Any]


def window_output(attrs: Attrs, in_shape: tuple[int, ...], site: Site,
                  kernel_field: str) -> tuple[int, ...]:
    """Spatial output sizes of a sliding window; sets attrs padding pairs and padding_mode."""
    kernel, strides = attrs[kernel_field], attrs["strides"]
    dilation = attrs.get("dilation_rate", (1,) * len(kernel))
    sizes = in_shape[1:-1]
    padding = attrs["padding"]
    attrs["padding_mode"] = padding if isinstance(padding, str) else "explicit"
    if padding == "valid":
        padding = ((0, 0),) * len(sizes)
    elif padding == "same":
        padding = tuple(same_padding(*args)
                        for args in zip(sizes, kernel, strides, dilation, strict=True))
    attrs["padding"] = padding
    out = []
    for axis, size, (before, after), k, s, d in zip(SPATIAL_AXES[len(sizes)], sizes, padding,
                                                    kernel, strides, dilation, strict=True):
        extent, padded = d * (k - 1) + 1, size + before + after
        if extent > padded:
            site.at(kernel_field).fail(
                f"a window spanning {extent} along {axis} of an input padded to {padded}",
                "a window that fits in the padded input (output size >= 1)")
        out.append((padded - extent) // s + 1)
    return tuple(out)


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """Keras/TensorFlow "same": the odd pixel of padding goes after (bottom/right)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


# --- output shapes ----------------------------------------------------------------------

def infer_conv(attrs: Attrs, operands: list[Operand], site: Site) -> tuple[int, ...]:
    (_, shape), = operands
    return (shape[0], *window_output(attrs, shape, site, "kernel_size"), attrs["filters"])


def infer_depthwise(attrs: Attrs, operands: list[Operand], site: Site) -> tuple[int, ...]:
    (_, shape), = operands
    spatial = window_output(attrs, shape, site, "kernel_size")
    return (shape[0], *spatial, shape[-1] * attrs["depth_multiplier"])


def infer_pool(attrs: Attrs, operands: list[Operand], site: Site) -> tuple[int, ...]:
    (_, shape), = operands
    return (shape[0], *window_output(attrs, shape, site, "pool_size"), shape[-1])


def infer_zero_padding(attrs: Attrs, operands: list[Operand], site: Site) -> tuple[int, ...]:
    (_, shape), = operands
    attrs["padding_mode"] = "explicit"
    padded = (size + before + after
              for size, (before, after) in zip(shape[1:-1], attrs["padding"], strict=True))
    return (shape[0], *padded, shape[-1])


def infer_global_pool(attrs: Attrs, operands: list[Operand], site: Site) -> tuple[int, ...]:
    (_, shape), = operands
    kept = (1,) * (len(shape) - 2) if attrs["keepdims"] else ()
    return (shape[0], *kept, shape[-1])


def infer_same_shape(attrs: Attrs, operands: list[Operand], site: Site) -> tuple[int, ...]:
    (_, shape), = operands
    return shape


def infer_add(attrs: Attrs, operands: list[Operand], site: Site) -> tuple[int, ...]:
    first_name, first_shape = operands[0]
    for name, shape in operands[1:]:
        if shape != first_shape:
            site.at("inputs").fail(
                f'"{name}" of shape {format_shape(shape)}',
                f'the shape of "{first_name}", {format_shape(first_shape)}')
    return first_shape


def spatially_one(shape: tuple[int, ...], full: tuple[int, ...]) -> bool:
    """`shape` is `full` with every spatial dimension 1: a per-(batch, channel) value that
    broadcasts over the spatial axes (a squeeze-excite scale, (N, 1, 1, C))."""
    return (len(shape) == len(full) and len(shape) >= 3 and shape[0] == full[0]
            and shape[-1] == full[-1] and all(d == 1 for d in shape[1:-1]))


def infer_multiply(attrs: Attrs, operands: list[Operand], site: Site) -> tuple[int, ...]:
    """The largest operand's shape; every other is that shape, or it with the spatial
    dimensions 1 (broadcast over them)."""
    full_name, full = max(operands, key=lambda operand: math.prod(operand[1]))
    for name, shape in operands:
        if shape != full and not spatially_one(shape, full):
            site.at("inputs").fail(
                f'"{name}" of shape {format_shape(shape)}',
                f'the shape of "{full_name}", {format_shape(full)}, or that shape with every '
                "spatial dimension 1")
    return full


def infer_rescaling(attrs: Attrs, operands: list[Operand], site: Site) -> tuple[int, ...]:
    (_, shape), = operands
    for name in ("scale", "offset"):
        if len(attrs[name]) not in (1, shape[-1]):
            site.at(name).fail(f"{len(attrs[name])} values for an input of shape "
                               f"{format_shape(shape)}",
                               f"a number or a list of {shape[-1]} (one per channel)")
    return shape


def infer_concatenate(attrs: Attrs, operands: list[Operand], site: Site) -> tuple[int, ...]:
    first_name, first = operands[0]
    for name, shape in operands[1:]:
        if shape[:-1] != first[:-1]:
            site.at("inputs").fail(
                f'"{name}" of shape {format_shape(shape)}',
                f'the shape of "{first_name}", {format_shape(first)}, but for the channels')
    return (*first[:-1], sum(shape[-1] for _, shape in operands))


def infer_cropping(attrs: Attrs, operands: list[Operand], site: Site) -> tuple[int, ...]:
    (_, shape), = operands
    out = []
    for axis, size, (before, after) in zip(SPATIAL_AXES[2], shape[1:-1], attrs["cropping"],
                                           strict=True):
        if before + after >= size:
            site.at("cropping").fail(f"{before} + {after} cropped along {axis} of an input of "
                                     f"size {size}", "less than the input's size")
        out.append(size - before - after)
    return (shape[0], *out, shape[-1])


def infer_reshape(attrs: Attrs, operands: list[Operand], site: Site) -> tuple[int, ...]:
    (_, shape), = operands
    count, wanted = math.prod(shape[1:]), attrs["target_shape"]
    known = math.prod(d for d in wanted if d != -1)
    fits = count % known == 0 if -1 in wanted else count == known
    if not fits:
        site.at("target_shape").fail(
            f"{show(list(wanted))} for an input of shape {format_shape(shape)}",
            f"a shape with {count} elements per batch item")
    resolved = tuple(count // known if d == -1 else d for d in wanted)
    attrs["target_shape"] = resolved
    return (shape[0], *resolved)


def infer_dense(attrs: Attrs, operands: list[Operand], site: Site) -> tuple[int, ...]:
    (_, shape), = operands
    return (*shape[:-1], attrs["units"])


# --- parameters --------------------------------------------------------------------------

def _layout(*axes: str) -> str:
    return "(" + ", ".join(axes) + ")"


def _bias(attrs: Attrs, size: int, axis: str) -> list[ParamSpec]:
    return [ParamSpec("bias", (size,), _layout(axis), "small_normal")] if attrs["use_bias"] else []


def no_params(attrs: Attrs, in_shape: tuple[int, ...]) -> list[ParamSpec]:
    return []


def conv_params(attrs: Attrs, in_shape: tuple[int, ...]) -> list[ParamSpec]:
    kernel, channels, filters = attrs["kernel_size"], in_shape[-1], attrs["filters"]
    return [ParamSpec("kernel", (*kernel, channels, filters),
                      _layout(*KERNEL_AXES[len(kernel)], "C", "filters"), "he_normal",
                      math.prod(kernel) * channels),
            *_bias(attrs, filters, "filters")]


def _depthwise_kernel(attrs: Attrs, in_shape: tuple[int, ...]) -> ParamSpec:
    kernel = attrs["kernel_size"]
    return ParamSpec("depthwise_kernel", (*kernel, in_shape[-1], attrs["depth_multiplier"]),
                     _layout(*KERNEL_AXES[len(kernel)], "C", "M"), "he_normal", math.prod(kernel))


def depthwise_params(attrs: Attrs, in_shape: tuple[int, ...]) -> list[ParamSpec]:
    return [_depthwise_kernel(attrs, in_shape),
            *_bias(attrs, in_shape[-1] * attrs["depth_multiplier"], "C*M")]


def separable_params(attrs: Attrs, in_shape: tuple[int, ...]) -> list[ParamSpec]:
    ones = (1,) * len(attrs["kernel_size"])
    mid, filters = in_shape[-1] * attrs["depth_multiplier"], attrs["filters"]
    return [_depthwise_kernel(attrs, in_shape),
            ParamSpec("pointwise_kernel", (*ones, mid, filters),
                      _layout(*("1",) * len(ones), "C*M", "filters"), "he_normal", mid),
            *_bias(attrs, filters, "filters")]


def batch_norm_params(attrs: Attrs, in_shape: tuple[int, ...]) -> list[ParamSpec]:
    channels = (in_shape[-1],)
    return [ParamSpec("gamma", channels, "(C)", "near_one"),
            ParamSpec("beta", channels, "(C)", "small_normal"),
            ParamSpec("moving_mean", channels, "(C)", "small_normal"),
            ParamSpec("moving_variance", channels, "(C)", "near_one")]


def dense_params(attrs: Attrs, in_shape: tuple[int, ...]) -> list[ParamSpec]:
    channels, units = in_shape[-1], attrs["units"]
    return [ParamSpec("kernel", (channels, units), "(C, units)", "he_normal", channels),
            *_bias(attrs, units, "units")]
