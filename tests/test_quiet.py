"""A newcomer's first minute: commands print only jetlab's own output, and light commands stay light.

- ``jetlab --help``, ``models`` and ``info`` import neither torch_geometric nor Lightning (fresh interpreter);
- a tiny ``jetlab train`` of a graph network (PyG + Lightning) writes nothing on stderr: no warnings,
  no "GPU available" banner, no logging-service tips;
- :func:`jetlab._quiet.third_party_quiet` filters exactly the listed third-party notices and nothing else.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from jetlab._quiet import LIGHTNING_INFO_LOGGERS, THIRD_PARTY_NOISE, third_party_quiet
from jetlab.io.format import write_shard
from tests.conftest import make_jets, make_separable_jets, write_dataset

HEAVY = ("torch_geometric", "lightning", "sklearn", "matplotlib", "onnxruntime")
_PROBE = """
import contextlib, io, json, sys
from jetlab.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as e:
        code = e.code
print(json.dumps({"code": code, "loaded": [m for m in HEAVY if m in sys.modules]}))
""".replace("HEAVY", repr(HEAVY))


def _probe(*args: str) -> dict:
    res = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stderr == "", res.stderr[-2000:]
    return json.loads(res.stdout)


@pytest.mark.parametrize("args", [["--help"], ["models"], ["models", "--json"], ["info", "SHARD"]])
def test_light_commands_import_no_pyg_and_no_lightning(args: list[str], tmp_path: Path) -> None:
    shard = tmp_path / "w_0000.h5"
    write_shard(shard, make_jets(5, max_particles=6), {"class": "w", "index": 0})
    out = _probe(*[str(shard) if a == "SHARD" else a for a in args])
    assert out["code"] == 0
    assert "torch_geometric" not in out["loaded"] and "lightning" not in out["loaded"], out


def test_stated_parameter_counts_match_a_build() -> None:
    from jetlab.models import count_parameters, create, list_models

    stated = [s for s in list_models() if s.params is not None]
    assert {s.name for s in stated} >= {"gcn", "gat"}
    for spec in stated:
        assert count_parameters(create(spec.name)) == spec.params, spec.name


def test_tiny_train_prints_nothing_but_jetlab_output(tmp_path: Path) -> None:
    data = write_dataset(tmp_path / "d", make_separable_jets(60, max_particles=8))
    res = subprocess.run([sys.executable, "-m", "jetlab.cli", "train", "--model", "gcn", "--data", str(data),
                          "--out", str(tmp_path / "run"), "--epochs", "1", "--classes", "t:g,q", "--no-progress"],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stderr == "", res.stderr[-3000:]                 # no warnings, banners or tips from anyone
    lines = res.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{tmp_path / 'run'}: gcn trained 1 epochs"), res.stdout


# ------------------------------------------------------------------------------------------ the filters
def _shown(message: str, category: type[Warning], module: str) -> bool:
    """Would a warning attributed to ``module`` be shown after :func:`third_party_quiet`?"""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        third_party_quiet()
        warnings.warn_explicit(message, category, filename=f"/x/{module.replace('.', '/')}.py", lineno=1,
                               module=module, registry={})  # fmt: skip
    return len(seen) == 1


def test_third_party_filters_are_narrow() -> None:
    jit = "`torch.jit.script` is deprecated. Please switch to `torch.compile` or `torch.export`."
    leaf = "`isinstance(treespec, LeafSpec)` is deprecated, use `isinstance(treespec, TreeSpec)` instead."
    assert not _shown(jit, FutureWarning, "torch.jit._script")
    assert not _shown(leaf, FutureWarning, "lightning.pytorch.utilities._pytree")
    assert _shown(jit, FutureWarning, "jetlab.models.classify.gnn")                 # the same text from elsewhere
    assert _shown(leaf, FutureWarning, "my_analysis")
    assert _shown(jit, UserWarning, "torch.jit._script")                   # another category
    assert _shown("something else is deprecated", FutureWarning, "torch.jit._script")
    assert _shown("a jetlab warning", UserWarning, "jetlab.tasks.train")
    assert len(THIRD_PARTY_NOISE) == 2


def test_lightning_info_logs_are_off_and_its_warnings_on() -> None:
    parent = logging.getLogger("lightning.pytorch").level
    third_party_quiet()
    for name in LIGHTNING_INFO_LOGGERS:
        log = logging.getLogger(name)
        assert not log.isEnabledFor(logging.INFO) and log.isEnabledFor(logging.WARNING)
    assert logging.getLogger("lightning.pytorch").level == parent          # only the rank-zero loggers
