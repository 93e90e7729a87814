"""Fitted baselines (bdt, efp_linear, one-variable cuts) through train / evaluate / compare like every model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from jetlab.cli import main
from jetlab.io import open_jets
from jetlab.models import count_parameters, create, get_spec, list_models
from jetlab.models.classify.estimators import LinearDiscriminant, OneCut
from tests.conftest import make_separable_jets, write_dataset
from tests.reference_metrics import mann_whitney_auc

FITTED = ("bdt", "efp_linear", "cut_tau32", "cut_d2", "cut_mass")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("est") / "d", make_separable_jets(500))


@pytest.fixture(scope="module")
def runs(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every fitted model trained and evaluated through the CLI on the binary task t vs g,q."""
    root = tmp_path_factory.mktemp("est_runs")
    out = {}
    for name in FITTED:
        run = root / name
        assert main(["train", "--model", name, "--data", str(data), "--classes", "t:g,q", "--out", str(run)]) == 0
        assert main(["evaluate", str(run)]) == 0
        out[name] = run
    return out


def test_fitted_models_are_registered_with_the_fit_engine() -> None:
    fitted = {s.name for s in list_models(task="classify", engine="fit")}
    assert set(FITTED) <= fitted
    assert not fitted & {s.name for s in list_models(engine="torch")}
    assert count_parameters(create("bdt")) == 0  # unfitted: no leaves yet


def test_runs_hold_text_state_and_metrics(runs: dict[str, Path]) -> None:
    for name, run in runs.items():
        saved = json.loads((run / "estimator.json").read_text())  # JSON: no pickle anywhere in the run
        assert saved["hyper_parameters"]["class_names"] == ["g+q", "t"]
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["model"] == name and metrics["params"] > 0
        assert (run / "roc.png").is_file() and not list(run.glob("checkpoints"))


def test_bdt_and_efp_linear_learn_the_separable_task(runs: dict[str, Path]) -> None:
    for name in ("bdt", "efp_linear"):
        auc = json.loads((runs[name] / "metrics.json").read_text())["metrics"]["auc"]
        value = next(iter(auc.values()))
        value = value["value"] if isinstance(value, dict) else value
        assert value > 0.9, (name, auc)


def test_cut_score_is_the_variable(runs: dict[str, Path], data: Path) -> None:
    """The cut's test AUC equals the AUC of the raw variable (sign-corrected) on the same test jets."""
    pred = np.load(runs["cut_tau32"] / "predictions.npz")
    metrics = json.loads((runs["cut_tau32"] / "metrics.json").read_text())
    p1, target = pred["probs"][:, 1], pred["targets"].astype(bool)
    auc = mann_whitney_auc(p1[target], p1[~target])  # by hand: metrics.json comes from scikit-learn
    value = next(iter(metrics["metrics"]["auc"].values()))
    assert auc == pytest.approx(value["value"] if isinstance(value, dict) else value, abs=1e-9)
    jets = open_jets(data)
    tau = jets.feature("j_tau32_b1")
    is_t = jets.labels == 4
    raw = mann_whitney_auc(tau[is_t], tau[~is_t])
    # on the whole dataset the variable separates; the cut picked the better sign on the training split
    assert max(raw, 1 - raw) > 0.8 and auc > 0.8


def test_mass_window_is_centred_on_the_signal() -> None:
    x = np.concatenate([np.random.default_rng(0).normal(175, 10, 500), np.random.default_rng(1).uniform(0, 400, 500)])
    y = np.repeat([1, 0], 500)
    cut = OneCut(2, mode="window")
    cut.fit(x[:, None], y, x[:, None], y)
    assert cut.centre == pytest.approx(175, abs=2)
    p = cut.predict_proba(np.array([[175.0], [120.0], [300.0]]))[:, 1]
    assert p[0] > p[1] > p[2]
    restored = OneCut(2, mode="window").load_state(json.loads(json.dumps(cut.state())))
    np.testing.assert_array_equal(restored.predict_proba(x[:, None]), cut.predict_proba(x[:, None]))


def test_fisher_matches_scikit_learn() -> None:
    r = np.random.default_rng(3)
    x = np.concatenate([r.normal(0, 1, (300, 4)), r.normal(0.7, 1.3, (300, 4))])
    y = np.repeat([0, 1], 300)
    lda = LinearDiscriminant(2, method="fisher", log=False, C=1.0)
    lda.fit(x, y, x, y)
    xs = (x - x.mean(0)) / x.std(0)
    ref = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(xs, y).predict_proba(xs)
    np.testing.assert_allclose(lda.predict_proba(x), ref, atol=1e-9)


def test_cut_on_a_multiclass_task_is_one_line_error(data: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--model", "cut_mass", "--data", str(data), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "binary" in err


def _onnx_equals_fitted(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``jetlab export`` then ``evaluate --backend onnx`` give the fitted model's own probabilities."""
    own = np.load(run / "predictions.npz")["probs"]
    assert main(["export", str(run), "--onnx", str(run / "model.onnx")]) == 0
    record = json.loads((run / "export.json").read_text())
    assert record["inputs"] == ["x"] and record["max_abs_diff"] < 1e-5 and record["n_checked"] > 0
    assert main(["evaluate", str(run), "--backend", "onnx"]) == 0
    np.testing.assert_allclose(np.load(run / "predictions.npz")["probs"], own, atol=1e-5)
    capsys.readouterr()


def test_multiclass_bdt_exports_to_onnx(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "bdt5"
    assert main(["train", "--model", "bdt", "--data", str(data), "--out", str(run), "--max-jets", "200"]) == 0
    assert main(["evaluate", str(run)]) == 0
    probs = np.load(run / "predictions.npz")["probs"]
    assert probs.shape[1] == 5 and np.allclose(probs.sum(1), 1, atol=1e-5)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--backend", "onnx"]) == 2  # nothing exported yet: one line, a hint
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "jetlab export" in err
    _onnx_equals_fitted(run, capsys)


@pytest.mark.parametrize("name", FITTED)
def test_every_fitted_model_exports_to_onnx(name: str, runs: dict[str, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / name  # a copy: the shared run keeps its torch-backend predictions
    shutil.copytree(runs[name], run)
    _onnx_equals_fitted(run, capsys)


@pytest.mark.parametrize(("name", "n_classes", "dtype"), [("bdt", 2, np.float64), ("bdt", 3, np.float32),
                                                       ("efp_linear", 3, np.float64), ("efp_linear", 2, np.float32)])
def test_onnx_form_equals_predict_proba(name: str, n_classes: int, dtype: type) -> None:
    """The graphs on their own: float64 inputs (EFPs; cast for the trees), multiclass softmax, logistic."""
    from jetlab.deploy.estimators import estimator_to_onnx
    from jetlab.export import onnx_session
    from jetlab.models.registry import InputDims

    r = np.random.default_rng(0)
    x = r.lognormal(size=(600, 6)).astype(dtype)
    y = np.minimum((x[:, 0] * x[:, 1]).astype(int), n_classes - 1)
    hp = {"n_estimators": 40} if name == "bdt" else {"method": "logistic" if n_classes == 2 else "fisher"}
    est = create(name, n_classes=n_classes, dims=InputDims(hlf=6), **hp)
    est.fit(x[:400], y[:400], x[400:], y[400:])
    got = onnx_session(estimator_to_onnx(est, 6, dtype)).run(["probs"], {"x": x})[0]
    assert got.dtype == np.float32 and got.shape == (600, n_classes)
    np.testing.assert_allclose(got, est.predict_proba(x.astype(np.float64)), atol=1e-6)


def test_compare_mixes_fitted_and_trained_runs(runs: dict[str, Path], tmp_path: Path) -> None:
    assert main(["compare", *map(str, runs.values()), "--out", str(tmp_path / "cmp")]) == 0
    table = (tmp_path / "cmp" / "landscape.md").read_text()
    for name in FITTED:
        assert name in table
    assert get_spec("bdt").family in table


def test_binary_evaluate_prints_sculpting_with_its_floor(runs: dict[str, Path],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """``jetlab evaluate`` of a binary run shows the mass sculpting next to the JSD floor, as metrics.json has it."""
    capsys.readouterr()
    assert main(["evaluate", str(runs["cut_tau32"]), "--out", str(runs["cut_tau32"] / "again")]) == 0
    printed = json.loads(capsys.readouterr().out)
    stored = json.loads((runs["cut_tau32"] / "again" / "metrics.json").read_text())["metrics"]["sculpting"]
    assert set(printed["sculpting"]) == {"eff_s", "rejection", "jsd", "jsd_floor", "jsd_floor_std"}
    assert printed["sculpting"] == {k: stored[k] for k in printed["sculpting"]}
    if stored["jsd"] is not None:  # None only when no background jet passes (nothing to compare)
        assert 0 < printed["sculpting"]["jsd_floor"] < 1
    else:
        assert stored["n_background_pass"] == 0 and printed["sculpting"]["jsd_floor"] is None
