"""The TFLite models hold built-in ops only, with weights baked in, and run in LiteRT at any batch size."""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from export.tflite_export import FORBIDDEN_OPS, model_ops
from tests.export.runners import metadata

NAMES = ("encode", "decode", "swap", "generate")


@pytest.mark.parametrize("name", NAMES)
def test_builtins_only_and_named_signature(tiny_export_dir, name):
    meta = metadata(tiny_export_dir)
    data = (tiny_export_dir / meta["paths"]["tflite"][name]).read_bytes()
    ops = model_ops(data)
    assert ops and not ops & FORBIDDEN_OPS
    assert not any(op.startswith("Flex") for op in ops)
    interpreter = Interpreter(model_content=data)
    assert list(interpreter.get_signature_list()) == [name]
    runner = interpreter.get_signature_runner(name)
    spec = meta["signatures"][name]
    for details, expected in ((runner.get_input_details(), spec["inputs"]), (runner.get_output_details(), spec["outputs"])):
        assert {k: (list(d["shape_signature"]), np.dtype(d["dtype"]).name) for k, d in details.items()} == {
            k: (e["shape"], e["dtype"]) for k, e in expected.items()
        }


def test_dynamic_batch(tiny_export_dir, real_clips):
    meta = metadata(tiny_export_dir)
    runner = Interpreter(model_path=str(tiny_export_dir / meta["paths"]["tflite"]["encode"])).get_signature_runner("encode")
    for batch in (1, 5, 2):
        out = runner(frames=real_clips[:batch])
        assert out["z_mean"].shape == (batch, meta["frames"], meta["latents"]["z_dim"])
        assert np.all(np.isfinite(out["z_mean"]))
