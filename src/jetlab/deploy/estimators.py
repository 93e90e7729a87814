"""Fitted estimators as ONNX graphs, the same contract as the exported networks: input ``x`` (N, F)
(the run's features in the dtype its batches hold: float32, float64 for EFPs, which span many orders
of magnitude) -> output ``probs`` (N, C) float32.

- ``bdt``: LightGBM's trees converted by onnxmltools (``TreeEnsembleClassifier`` of ``ai.onnx.ml``);
  only its probabilities are kept, renamed ``probs``.
- ``efp_linear``: ``[log max(x, 1e-30)] -> (x - μ)/σ -> x W + b -> softmax`` (binary: ``σ(-s), σ(s)``),
  written node by node with :mod:`onnx.helper`.
- cuts: ``s = sign · x₀`` or ``-|x₀ - c|`` (window), then ``σ(-s/scale), σ(s/scale)`` (clipped at ±50).

:func:`jetlab.export.export_run` checks every graph against the estimator's own ``predict_proba``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jetlab.errors import UsageError
from jetlab.models.classify.estimators import BoostedTrees, Estimator, LinearDiscriminant, OneCut

__all__ = ["estimator_to_onnx"]

_OPSET = 17


def estimator_to_onnx(est: Estimator, n_features: int, dtype: np.dtype | type = np.float32) -> bytes:
    """The serialized ONNX model of fitted ``est`` on ``n_features`` input columns of ``dtype``."""
    build = {"lightgbm": _trees, "linear": _linear, "cut": _cut}.get(est.kind)
    if build is None:
        raise UsageError(f"{type(est).__name__}: no ONNX form")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise UsageError(f"{type(est).__name__}: features of dtype {np.dtype(dtype)} have no ONNX form")
    return build(est, n_features, np.dtype(dtype))


def _trees(est: BoostedTrees, n_features: int, dtype: np.dtype) -> bytes:
    import onnx
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    model = onnxmltools.convert_lightgbm(est.booster, initial_types=[("x", FloatTensorType([None, n_features]))],
                                         zipmap=False, target_opset=15)  # 15: the converter's newest
    graph = model.graph
    if dtype == np.float64:  # the trees take float32 only: cast first (the export check catches a flipped split)
        for node in graph.node:
            node.input[:] = ["x32" if i == "x" else i for i in node.input]
        graph.node.insert(0, onnx.helper.make_node("Cast", ["x"], ["x32"], to=onnx.TensorProto.FLOAT))
        graph.input[0].type.tensor_type.elem_type = onnx.TensorProto.DOUBLE
    probs = next(o for o in graph.output if o.name != "label")  # (N, C) probabilities
    graph.node.append(onnx.helper.make_node("Identity", [probs.name], ["probs"]))
    del graph.output[:]
    graph.output.append(onnx.helper.make_tensor_value_info("probs", onnx.TensorProto.FLOAT, [None, est.n_classes]))
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _linear(est: LinearDiscriminant, n_features: int, dtype: np.dtype) -> bytes:
    from onnx import helper

    consts = {"mean": est.mean, "std": est.std, "w": est.coef.T, "b": est.intercept, "eps": np.array(1e-30)}
    nodes, x = [], "x"
    if est.hparams["log"]:
        nodes += [helper.make_node("Max", ["x", "eps"], ["x_pos"]), helper.make_node("Log", ["x_pos"], ["x_log"])]
        x = "x_log"
    nodes += [helper.make_node("Sub", [x, "mean"], ["centred"]), helper.make_node("Div", ["centred", "std"], ["z"]),
              helper.make_node("MatMul", ["z", "w"], ["zw"]), helper.make_node("Add", ["zw", "b"], ["s"])]
    nodes += _two_class("s") if est.coef.shape[0] == 1 else [helper.make_node("Softmax", ["s"], ["p"], axis=1)]
    return _model(nodes, consts, n_features, est.n_classes, "efp_linear", dtype)


def _cut(est: OneCut, n_features: int, dtype: np.dtype) -> bytes:
    from onnx import helper

    consts = {"lo": np.array([0]), "hi": np.array([1]), "axis": np.array([1]), "centre": np.array(est.centre),
              "sign": np.array(est.sign), "scale": np.array(est.scale), "min": np.array(-50.0),
              "max": np.array(50.0)}
    nodes = [helper.make_node("Slice", ["x", "lo", "hi", "axis"], ["v"])]  # (N, 1) the one variable
    if est.hparams["mode"] == "window":
        nodes += [helper.make_node("Sub", ["v", "centre"], ["d"]), helper.make_node("Abs", ["d"], ["ad"]),
                  helper.make_node("Neg", ["ad"], ["raw"])]
    else:
        nodes += [helper.make_node("Mul", ["v", "sign"], ["raw"])]
    nodes += [helper.make_node("Div", ["raw", "scale"], ["scaled"]),
              helper.make_node("Clip", ["scaled", "min", "max"], ["s"])]
    return _model(nodes + _two_class("s"), consts, n_features, 2, "cut", dtype)


def _two_class(score: str) -> list[Any]:
    """(N, 1) score s -> ``p`` (N, 2) = (σ(-s), σ(s)), the softmax of (0, s)."""
    from onnx import helper

    return [helper.make_node("Neg", [score], ["neg"]), helper.make_node("Sigmoid", ["neg"], ["p0"]),
            helper.make_node("Sigmoid", [score], ["p1"]), helper.make_node("Concat", ["p0", "p1"], ["p"], axis=1)]


def _model(nodes: list[Any], consts: dict[str, np.ndarray], n_features: int, n_classes: int, name: str,
           dtype: np.dtype) -> bytes:
    """A graph ``x`` (N, F) of ``dtype`` -> ``probs`` (N, C) float32 from ``nodes`` (which end in ``p``);
    ``consts`` become initializers (integer arrays int64, the rest ``dtype``)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    init = [numpy_helper.from_array(np.asarray(v, np.int64 if np.asarray(v).dtype.kind == "i" else dtype), k)
            for k, v in consts.items()]
    elem = helper.np_dtype_to_tensor_dtype(dtype)
    nodes = [*nodes, helper.make_node("Cast", ["p"], ["probs"], to=TensorProto.FLOAT)]
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", elem, [None, n_features])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [None, n_classes])], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)], producer_name="jetlab")
    onnx.checker.check_model(model)
    return model.SerializeToString()
