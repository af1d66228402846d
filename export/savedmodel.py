"""SavedModel for TF Serving, and the check that it needs nothing but stock TensorFlow ops.

An unmodified ``tensorflow_model_server`` can load a SavedModel only if every op in its graphs and in
their function library is registered in core TensorFlow with a CPU kernel, and none calls back into
Python (``py_function``). :func:`foreign_ops` reads ``saved_model.pb`` and lists the ops that break that.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import kernels, op_def_registry

from export.signatures import ExportModule
from s3vae_tf.errors import UsageError

# Registered stock ops that still cannot run in TF Serving: they call the Python interpreter.
PYTHON_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})


def save(module: ExportModule, directory: Path) -> None:
    """Write the SavedModel (all signatures, ``serving_default`` = swap) and check its ops."""
    tf.saved_model.save(module, str(directory), signatures=module.concrete_functions())
    problems = foreign_ops(directory)
    if problems:
        raise UsageError(f"the SavedModel uses ops TF Serving cannot run: {', '.join(problems)}")


def graph_ops(directory: Path) -> Counter:
    """Op name -> count over every meta graph and every function in its library."""
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((Path(directory) / "saved_model.pb").read_bytes())
    ops: Counter = Counter()
    for meta_graph in proto.meta_graphs:
        graph = meta_graph.graph_def
        ops.update(node.op for node in graph.node)
        for function in graph.library.function:
            ops.update(node.op for node in function.node_def)
    return ops


def _has_cpu_kernel(op: str) -> bool:
    devices = {kernel.device_type for kernel in kernels.get_registered_kernels_for_op(op).kernel}
    return bool(devices & {"CPU", "DEFAULT"})


def foreign_ops(directory: Path) -> list[str]:
    """Ops of the SavedModel that are not stock (unregistered), have no CPU kernel, or run Python."""
    problems = []
    for op in sorted(graph_ops(directory)):
        if op_def_registry.get(op) is None:
            problems.append(f"{op} (not a registered TensorFlow op)")
        elif op in PYTHON_OPS:
            problems.append(f"{op} (calls Python)")
        elif not _has_cpu_kernel(op):
            problems.append(f"{op} (no CPU kernel)")
    return problems
