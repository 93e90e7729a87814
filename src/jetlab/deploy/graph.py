"""ONNX graphs of trained networks, and ONNX Runtime sessions to run them (the library behind ``jetlab export``).

Networks export through torch's exporters; fitted baselines (``bdt``, ``efp_linear``, cuts) through
:mod:`jetlab.deploy.estimators` (LightGBM trees by onnxmltools), with the same inputs and output.

The exported graph takes plain named tensors and returns class probabilities::

    representation  inputs (float32 unless said)                       output
    hlf             x (B, H)                                            probs (B, C), softmax
    efp             x (B, G) float64 (EFPs span many orders of magnitude) probs (B, C)
    image           x (B, 1, n, n)                                      probs (B, C)
    particles       the keys the model reads among x (B, P, F),         probs (B, C)
                    mask (B, P) bool (True = real particle), points
                    (B, P, 2), p4 (B, P, 4), z (B, P), scalars (B, P, S)
    graph           x, mask, points (the kNN graph is built inside)     probs (B, C)

B is dynamic for every model, P (particles per jet) for particle and graph models: a graph exported
with P = 64 runs on batches padded to any P. Set and graph models whose eager code trims padding take a
dense path while exporting (:func:`jetlab.models.layers.exporting`), with the same scores; ParticleNet's
edge convolutions pack the real particles (``NonZero``, a data-dependent size) in the graph too.

Where things live: ``jetlab export RUN --onnx FILE`` (:mod:`jetlab.export`) writes FILE (atomically) and
records it in ``RUN/export.json`` (ONNX path, input names, class names, representation, the checked
difference). ``jetlab evaluate RUN --backend onnx`` reads ``RUN/export.json`` to find FILE;
``RUN/model.onnx`` is the conventional FILE.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import tempfile
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from jetlab.errors import InputError, UsageError

__all__ = ["INPUT_NAMES", "EXPORT_RECORD", "TOLERANCE", "Exportable", "export_model", "input_names", "onnx_session",
           "feeds", "check", "max_abs_diff", "require_agreement"]

INPUT_NAMES = ("x", "mask", "points", "p4", "z", "scalars")  # graph inputs, in this order
EXPORT_RECORD = "export.json"  # RUN/export.json: where a run's ONNX model is and what it takes
TOLERANCE = 1e-4  # max |p_onnx - p_torch| accepted by the check


class _Recorder(dict):
    """A batch dict that notes which keys the model reads."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


def _read(model: nn.Module, batch: dict[str, Any]) -> set[str]:
    """The batch keys ``model`` reads (one eval-mode forward pass)."""
    rec = _Recorder(batch)
    with torch.no_grad():
        model.eval()(rec)
    return rec.read


def input_names(read: set[str]) -> tuple[str, ...]:
    """The graph inputs, in :data:`INPUT_NAMES` order, for a model reading ``read`` (a graph needs x, mask, points)."""
    read = read | ({"x", "mask", "points"} if "graph" in read else set())
    return tuple(n for n in INPUT_NAMES if n in read)


class _DenseGraph:
    """The fields of a PyG batch a graph model reads, built from dense tensors with static shapes.

    Nodes are all B·P slots plus a sink node (B·P); kNN edges j → i as in
    :func:`jetlab.represent.to_pyg`, except that self-edges (padded slots, lone particles) point to
    the sink, and one self-loop per node is explicit (the convolutions' own ``add_self_loops``, which
    filter edges with data-dependent shapes, are off while exporting). Padded slots and the sink pool
    into an extra jet B, which the model drops.
    """

    def __init__(self, x: Tensor, points: Tensor, mask: Tensor, k: int) -> None:
        from jetlab.models.layers import dense_knn

        b, p = mask.shape
        sink = b * p
        idx = dense_knn(points, mask, k)  # (B, P, k) slot indices
        slot = torch.arange(sink, device=mask.device).view(b, p, 1)  # (B, P, 1) node id of each slot
        src = (idx + slot[:, :1]).flatten()  # (B·P·k,) neighbour node j
        dst = slot.expand(b, p, k).flatten()  # (B·P·k,) centre node i
        dst = torch.where(src == dst, sink, dst)  # self-edges → sink
        loops = torch.arange(sink + 1, device=mask.device)  # (B·P + 1,)
        self.x = torch.cat([x.reshape(sink, -1), x.new_zeros(1, x.shape[-1])])  # (B·P + 1, F)
        self.edge_index = torch.stack([torch.cat([src, loops]), torch.cat([dst, loops])])  # (2, E)
        jet = torch.arange(b, device=mask.device).view(b, 1).expand(b, p)  # (B, P)
        self.batch = torch.cat([torch.where(mask, jet, b).flatten(), loops.new_full((1,), b)])  # (B·P + 1,)


@contextlib.contextmanager
def _explicit_self_loops(model: nn.Module) -> Iterator[None]:
    """Switch off ``add_self_loops`` of PyG convolutions (the dense graph carries its loops)."""
    convs = [m for m in model.modules() if isinstance(getattr(m, "add_self_loops", None), bool)]
    before = [m.add_self_loops for m in convs]
    for m in convs:
        m.add_self_loops = False
    try:
        yield
    finally:
        for m, flag in zip(convs, before):
            m.add_self_loops = flag


class Exportable(nn.Module):
    """``model`` as a function of plain named tensors (:data:`INPUT_NAMES`) to softmax probabilities (B, C)."""

    def __init__(self, model: nn.Module, names: tuple[str, ...], graph_k: int | None = None) -> None:
        super().__init__()
        self.model, self.names, self.graph_k = model, names, graph_k
        self.eval()

    def forward(self, *inputs: Tensor) -> Tensor:
        batch: dict[str, Any] = dict(zip(self.names, inputs))
        if "mask" in batch:
            batch["mask"] = batch["mask"].bool()
        if self.graph_k is not None:
            batch["graph"] = _DenseGraph(batch["x"], batch["points"], batch["mask"], self.graph_k)
        return torch.softmax(self.model(batch).float(), dim=1)  # (B, C)


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and its causes, outermost first."""
    out: list[BaseException] = []
    while error is not None and error not in out:
        out.append(error)
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return out


def _operator(*errors: BaseException) -> str:
    """Why the exporters failed, in one line: ``operator aten::name unsupported`` when an error names one,
    else the innermost error and the jetlab source line that led to it."""
    for error in errors:
        text = "\n".join(str(e) for e in _chain(error))
        for pattern in (r"No ONNX function found for <OpOverload\(op='(\w+)\.(\w+)'", r"operator '?(aten)::(\w+)'?",
                        r"target=torch\.ops\.(aten)\.(\w+)", r"(aten)::(\w+)"):
            if found := re.search(pattern, text):
                return f"operator {found.group(1)}::{found.group(2)} unsupported"
        if found := re.search(r"data-dependent expression.*?Caused by: \((\S+)", text, re.DOTALL):
            return f"data-dependent shape at {found.group(1)}"
    inner = _chain(errors[0])[-1]
    what = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(inner)).split())[:160] or type(inner).__name__
    frames = [f for f in traceback.extract_tb(inner.__traceback__) if f"{os.sep}jetlab{os.sep}" in f.filename]
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno}: {frames[-1].line})" if frames else ""
    return f"{type(inner).__name__}: {what}{where}"


def _translations() -> dict[Any, Any]:
    """ONNX spellings of ops the dynamo exporter or ONNX Runtime lack (used by the pair features of ParT).

    ``hypot(x, y) = sqrt(x² + y²)``; ``atan2`` in float64 (ONNX Runtime has no float64 Atan): float32 atan2,
    then one Newton step ``θ += (y cos θ - x sin θ) / (x cos θ + y sin θ)`` in float64 (error ~ δ³, δ ~ 1e-7).
    """
    from onnxscript import ir
    from onnxscript import opset18 as op

    def hypot(x: Any, y: Any) -> Any:
        return op.Sqrt(op.Add(op.Mul(x, x), op.Mul(y, y)))

    def atan2_f(y: Any, x: Any) -> Any:
        atan, pi, zero = op.Atan(op.Div(y, x)), op.CastLike(math.pi, y), op.CastLike(0.0, y)
        theta = op.Where(op.Less(x, zero), op.Where(op.Less(y, zero), op.Sub(atan, pi), op.Add(atan, pi)), atan)
        return op.Where(op.IsNaN(theta), zero, theta)  # atan2(0, 0) = 0 as in torch

    def atan2(y: Any, x: Any) -> Any:
        if y.dtype != ir.DataType.DOUBLE:
            return atan2_f(y, x)
        t = op.Cast(atan2_f(op.Cast(y, to=ir.DataType.FLOAT), op.Cast(x, to=ir.DataType.FLOAT)),
                    to=ir.DataType.DOUBLE)
        c, s = op.Cos(t), op.Sin(t)
        step = op.Div(op.Sub(op.Mul(y, c), op.Mul(x, s)), op.Add(op.Mul(x, c), op.Mul(y, s)))
        return op.Where(op.Equal(op.Add(op.Abs(x), op.Abs(y)), op.CastLike(0.0, y)), t, op.Add(t, step))

    return {torch.ops.aten.hypot.default: hypot, torch.ops.prims.hypot.default: hypot,
            torch.ops.aten.atan2.default: atan2}


def _dynamic_shapes(args: tuple[Tensor, ...], sets: bool) -> tuple[tuple[dict[int, Any], ...]]:
    """Batch (axis 0) dynamic everywhere, particles (axis 1) too for set inputs; one entry for ``*inputs``."""
    dyn = torch.export.Dim.DYNAMIC
    return (tuple({0: dyn, 1: dyn} if sets and a.dim() >= 2 else {0: dyn} for a in args),)


class _ExportFailed(Exception):
    """Both exporters failed; ``args`` holds their exceptions (dynamo first)."""


def _export_to(wrapper: Exportable, args: tuple[Tensor, ...], path: Path, sets: bool, opset: int | None
               ) -> tuple[str, BaseException | None]:
    """Write ``wrapper`` to ``path`` with the dynamo exporter, else the TorchScript one.

    Returns the exporter used and, for the TorchScript fallback, why dynamo failed. Raises dynamo's error
    when both fail.
    """
    names = wrapper.names
    errors: list[BaseException] = []
    with warnings.catch_warnings(), _quiet_loggers("torch.onnx", "torch.export", "torch._dynamo", "onnxscript"):
        warnings.simplefilter("ignore")
        try:
            with _explicit_self_loops(wrapper):
                torch.onnx.export(wrapper, args, str(path), input_names=list(names), output_names=["probs"],
                                  opset_version=opset, dynamo=True, external_data=False, verbose=False, report=False,
                                  dynamic_shapes=_dynamic_shapes(args, sets), custom_translation_table=_translations())
            return "dynamo", None
        except Exception as e:  # noqa: BLE001 - any exporter failure: try the other exporter, then report
            errors.append(e)
        axes = {n: {0: "batch", 1: "particles"} if sets and a.dim() >= 2 else {0: "batch"} for n, a in zip(names, args)}
        try:
            with _explicit_self_loops(wrapper):
                torch.onnx.export(wrapper, args, str(path), input_names=list(names), output_names=["probs"],
                                  opset_version=opset or 17, dynamo=False, dynamic_axes=axes | {"probs": {0: "batch"}},
                                  do_constant_folding=True)
            return "torchscript", errors[0]
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    raise _ExportFailed(*errors)


@contextlib.contextmanager
def _quiet_loggers(*names: str) -> Iterator[None]:
    """Silence the exporters' logging (progress lines, skipped torchvision ops) while exporting."""
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def onnx_session(path: str | Path | bytes, threads: int | None = None, providers: list[str] | None = None) -> Any:
    """An ONNX Runtime session (of a file, or of a serialized model) with all graph optimizations; ``threads``
    intra-op threads (None: ORT's choice)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    model = path if isinstance(path, bytes) else str(path)
    return ort.InferenceSession(model, opts, providers=providers or ["CPUExecutionProvider"])


def feeds(names: tuple[str, ...], batch: dict[str, Any]) -> dict[str, np.ndarray]:
    """The graph inputs as numpy; slots that are padding in every jet are dropped first (P is a dynamic axis,
    and the dense exported graph would otherwise compute them, as the eager models' trimming does not)."""
    arrays = {n: batch[n].numpy() if isinstance(batch[n], Tensor) else np.asarray(batch[n]) for n in names}
    if "mask" in arrays:
        used = np.flatnonzero(arrays["mask"].any(axis=0))  # slots real in some jet
        p = int(used[-1]) + 1 if used.size else 1
        arrays = {n: a[:, :p] if a.ndim >= 2 else a for n, a in arrays.items()}
    return {n: np.ascontiguousarray(a) for n, a in arrays.items()}


def export_model(model: nn.Module, batch: dict[str, Any], path: str | Path, *, name: str = "model",
                 graph_k: int | None = None, opset: int | None = None) -> dict[str, Any]:
    """Export ``model`` (eval mode) for the inputs it reads in ``batch``; check ORT against torch on ``batch``.

    ``graph_k``: for graph models (which read ``batch["graph"]``), the kNN k of their representation.
    Writes ``path`` atomically. Returns ``{"onnx", "inputs", "exporter", "reference", "max_abs_diff",
    "n_checked"}`` (``reference``: what ONNX Runtime was checked against);
    raises :class:`UsageError` (one line, naming the operator) when the model cannot be exported and
    :class:`InputError` when ONNX Runtime disagrees with torch by more than 1e-4.
    """
    path = Path(path)
    read = _read(model, batch)
    names = input_names(read)
    wrapper = Exportable(model, names, graph_k if "graph" in read else None)
    args = tuple(batch[n] for n in names)
    sets = "mask" in batch  # particles / graph representations: P is dynamic too
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx.tmp", dir=path.parent)
    os.close(fd)
    try:
        try:
            exporter, dynamo_error = _export_to(wrapper, args, Path(tmp), sets, opset)
        except _ExportFailed as e:
            raise UsageError(f"{name}: cannot export to ONNX: {_operator(*e.args)}") from None
        try:
            diff = check(tmp, wrapper, batch)
        except Exception as e:  # noqa: BLE001 - e.g. an op the TorchScript exporter wrote but ORT lacks
            reason = _operator(dynamo_error) if dynamo_error is not None else _operator(e)
            raise UsageError(f"{name}: cannot export to ONNX: {reason}") from None
        require_agreement(diff, name, "torch", len(args[0]), path)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it owner-only; the model is for others to read
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return {"onnx": str(path), "inputs": list(names), "exporter": exporter, "reference": "torch", "max_abs_diff": diff,
            "n_checked": int(args[0].shape[0])}


@torch.no_grad()
def check(onnx_path: str | Path, wrapper: Exportable, batch: dict[str, Any]) -> float:
    """max |ORT - torch| of the probabilities on ``batch`` (torch runs the model's own eager path)."""
    sess = onnx_session(onnx_path)
    got = sess.run(["probs"], feeds(wrapper.names, batch))[0]  # (B, C)
    want = torch.softmax(wrapper.model(batch).float(), dim=1).numpy()  # (B, C)
    return max_abs_diff(got, want)


def max_abs_diff(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")


def require_agreement(diff: float, name: str, reference: str, n: int, path: Path) -> None:
    """Refuse (one line) an export whose ONNX Runtime probabilities are more than :data:`TOLERANCE` from
    ``reference``'s on ``n`` jets."""
    if not diff <= TOLERANCE:  # NaN fails too
        raise InputError(f"{name}: onnxruntime and {reference} disagree by {diff:.2e} (> {TOLERANCE:.0e}) on "
                         f"{n} jets; not written to {path}")
