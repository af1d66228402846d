"""The SavedModel is in TF Serving's layout, lists every signature, and uses stock TensorFlow ops only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tensorflow as tf

from export import savedmodel
from tests.export.runners import metadata

SIGNATURES = ("serving_default", "encode", "decode", "swap", "generate")


def version_dir(export_dir: Path) -> Path:
    return export_dir / metadata(export_dir)["paths"]["savedmodel"]


def test_tf_serving_layout(tiny_export_dir):
    directory = version_dir(tiny_export_dir)
    assert directory == tiny_export_dir / "savedmodel" / "s3vae" / "1"
    assert (directory / "saved_model.pb").is_file() and (directory / "variables" / "variables.index").is_file()


def test_only_stock_ops_in_graph_and_function_library(tiny_export_dir):
    ops = savedmodel.graph_ops(version_dir(tiny_export_dir))
    # The walk reaches into the function library, where the model's ops live.
    assert {"Conv2D", "Conv2DBackpropInput", "MatMul", "FloorMod", "Cos"} <= set(ops)
    assert savedmodel.foreign_ops(version_dir(tiny_export_dir)) == []


def test_the_op_check_catches_python_ops(tmp_path):
    module = tf.Module()
    module.f = tf.function(lambda x: tf.py_function(lambda v: v * 2, [x], tf.float32), input_signature=[tf.TensorSpec([None], tf.float32)])
    tf.saved_model.save(module, str(tmp_path))
    assert any(problem.startswith("EagerPyFunc") for problem in savedmodel.foreign_ops(tmp_path))


def test_saved_model_cli_lists_every_signature(tiny_export_dir):
    cli = Path(sys.executable).with_name("saved_model_cli")
    result = subprocess.run(
        [str(cli), "show", "--all", "--dir", str(version_dir(tiny_export_dir))], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for name in SIGNATURES:
        assert f"signature_def['{name}']:" in result.stdout
    meta = metadata(tiny_export_dir)
    for name, signature in meta["signatures"].items():
        for tensor in [*signature["inputs"], *signature["outputs"]]:
            assert f"['{tensor}'] tensor_info:" in result.stdout, (name, tensor)


def test_serving_default_is_swap(tiny_export_dir):
    loaded = tf.saved_model.load(str(version_dir(tiny_export_dir)))
    default, swap = loaded.signatures["serving_default"], loaded.signatures["swap"]
    assert default.structured_input_signature == swap.structured_input_signature
    assert sorted(default.structured_outputs) == ["a_with_b_appearance", "b_with_a_appearance"]
