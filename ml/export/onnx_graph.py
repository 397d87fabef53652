"""ONNX files: dynamo export with state-dict names kept, float16 weight storage, int8 static
quantisation, and reading float weights back (for Grad-CAM). torch/onnx imported lazily; no Django.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ml.bundle import BundleError

if TYPE_CHECKING:
    import onnx
    import torch

OPSET = 18
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
FEATURES_NAME = "features"


def export_onnx(model: torch.nn.Module, path: Path, image_size: int) -> None:
    """Float32 ONNX with a dynamic batch axis, input ``input``, outputs ``logits`` and
    ``features`` (the pooled penultimate vector, for the feature-space OOD score).

    BatchNorm stays a separate node, so initializers keep the model's state-dict names (Grad-CAM
    rebuilds the eager model from them); ONNX Runtime fuses Conv+BN+Clip when it loads the graph,
    so this costs nothing at inference (checked: same fused graph as the BN-folded export)."""
    import onnxscript.optimizer
    import torch

    model = model.eval().to(memory_format=torch.contiguous_format)

    class LogitsAndFeatures(torch.nn.Module):
        """The classifier's own submodules under their own names (state-dict keys unchanged)."""

        def __init__(self) -> None:
            super().__init__()
            self.backbone, self.head = model.backbone, model.head

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            features = self.backbone(x)
            return self.head(features), features

    program = torch.onnx.export(
        LogitsAndFeatures().eval(),
        (torch.zeros(2, 3, image_size, image_size),),
        dynamo=True,
        optimize=False,
        opset_version=OPSET,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME, FEATURES_NAME],
        dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},),
        verbose=False,
    )
    onnxscript.optimizer.fold_constants(program.model)
    onnxscript.optimizer.remove_unused_nodes(program.model)
    program.save(str(path), external_data=False)


def store_float16(src: Path, dst: Path, min_elements: int = 1024) -> int:
    """Rewrite ``src`` with its large float initializers stored as float16, each followed by a
    Cast to float32 (ONNX Runtime folds the Casts at load: compute stays float32, the file
    halves). Small tensors (BatchNorm statistics, biases) stay float32. Returns how many
    tensors were converted."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph, casts, renamed = model.graph, [], {}
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or _numel(init) < min_elements:
            continue
        half = numpy_helper.to_array(init).astype(np.float16)
        if not np.isfinite(half).all():
            continue
        init.CopyFrom(numpy_helper.from_array(half, init.name))
        renamed[init.name] = f"{init.name}::float32"
        casts.append(
            helper.make_node("Cast", [init.name], [renamed[init.name]], to=onnx.TensorProto.FLOAT)
        )
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
    for info in [*graph.input, *graph.value_info]:
        if info.name in renamed:
            info.type.tensor_type.elem_type = onnx.TensorProto.FLOAT16
    nodes = [*casts, *graph.node]
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return len(casts)


def _numel(init: onnx.TensorProto) -> int:
    return int(np.prod(init.dims)) if len(init.dims) else 1


def read_float_weights(path: Path) -> dict[str, np.ndarray]:
    """Every float initializer of an ONNX file as float32, by name (the model's state-dict keys)."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - protobuf decode errors have no common base
        raise BundleError(f"{path} is not a readable ONNX file: {exc}") from exc
    floats = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)
    return {
        init.name: numpy_helper.to_array(init).astype(np.float32)
        for init in model.graph.initializer
        if init.data_type in floats
    }


class _ArrayReader:
    """onnxruntime.quantization calibration reader over preprocessed batches, one image a time."""

    def __init__(self, batches: Sequence[np.ndarray]) -> None:
        self._items = iter([{INPUT_NAME: b[i : i + 1]} for b in batches for i in range(len(b))])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)


def quantize_int8(fp32: Path, dst: Path, calibration: Sequence[np.ndarray], tmp: Path) -> None:
    """Static int8 of a float32 ONNX file: QDQ, per-channel 7-bit int8 weights (``reduce_range``:
    AVX2 CPUs without VNNI saturate full-range u8s8 products, measured -11 macro-F1 points on
    MobileNetV2 without it), uint8 activations with MinMax ranges observed on ``calibration``;
    the first conv and the classifier stay float (the most sensitive layers)."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quant_pre_process, quantize_static

    prepared = tmp / "prepared.onnx"
    quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
    nodes = [n for n in onnx.load(str(prepared)).graph.node if n.op_type in ("Conv", "Gemm")]
    quantize_static(
        str(prepared),
        str(dst),
        _ArrayReader(calibration),  # type: ignore[arg-type]
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        reduce_range=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=[nodes[0].name, nodes[-1].name] if nodes else [],
    )
