"""The ONNX models pass the full checker, use opset >= 17, and have a dynamic batch and the metadata's names."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from tests.export.runners import metadata

NAMES = ("encode", "decode", "swap", "generate")
ONNX_TYPES = {"float32": onnx.TensorProto.FLOAT, "int32": onnx.TensorProto.INT32, "bool": onnx.TensorProto.BOOL}


@pytest.mark.parametrize("name", NAMES)
def test_model_is_valid_and_matches_metadata(tiny_export_dir, name):
    meta = metadata(tiny_export_dir)
    path = tiny_export_dir / meta["paths"]["onnx"][name]
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    signature = meta["signatures"][name]
    for values, specs in ((model.graph.input, signature["inputs"]), (model.graph.output, signature["outputs"])):
        assert sorted(v.name for v in values) == sorted(specs)
        for value in values:
            spec = specs[value.name]
            tensor = value.type.tensor_type
            assert tensor.elem_type == ONNX_TYPES[spec["dtype"]]
            dims = [d.dim_param or d.dim_value for d in tensor.shape.dim]
            assert dims == ["batch", *spec["shape"][1:]]


def test_only_standard_domains(tiny_export_dir):
    meta = metadata(tiny_export_dir)
    for rel in meta["paths"]["onnx"].values():
        model = onnx.load(str(tiny_export_dir / rel))
        assert {node.domain for node in model.graph.node} <= {"", "ai.onnx"}


def test_batch_sizes_other_than_the_traced_one(tiny_export_dir, real_clips):
    import onnxruntime as ort

    meta = metadata(tiny_export_dir)
    session = ort.InferenceSession(str(tiny_export_dir / meta["paths"]["onnx"]["encode"]), providers=["CPUExecutionProvider"])
    for batch in (1, 5):
        f_mean = session.run(["f_mean"], {"frames": real_clips[:batch]})[0]
        assert f_mean.shape == (batch, meta["latents"]["f_dim"]) and np.all(np.isfinite(f_mean))
