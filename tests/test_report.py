"""Dataset plots and summary (jetlab.report.plots, .summary, .style) on synthetic jets."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from jetlab.classes import CLASS_TITLES, CLASSES
from jetlab.io.jets import Jets
from jetlab.report.plots import hlf_to_plot, plot_dataset, shared_bins
from jetlab.report.style import CLASS_COLORS, CLASS_LABELS, feature_label, new_figure, save
from jetlab.report.summary import format_summary, summarize
from jetlab.schema import HLF16, HLF_NAMES
from tests.conftest import make_jets

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def fake_jet_images(jets: Jets, bins: int = 32, extent: float = 0.8) -> np.ndarray:
    """Stand-in for jetlab.represent.image.jet_images: (N, 1, B, B) pT fractions, [i_eta, i_phi]."""
    pt, m = jets.particle("pt"), jets.mask                                    # (N, P)
    deta = jets.particle("eta") - jets.jet[:, 1:2]
    dphi = (jets.particle("phi") - jets.jet[:, 2:3] + np.pi) % (2 * np.pi) - np.pi
    ie = np.floor((deta + extent) / (2 * extent) * bins).astype(int)
    ip = np.floor((dphi + extent) / (2 * extent) * bins).astype(int)
    ok = m & (ie >= 0) & (ie < bins) & (ip >= 0) & (ip < bins)
    n = len(jets)
    flat = (np.arange(n)[:, None] * bins * bins + ie * bins + ip)[ok]
    w = (pt / np.where(m, pt, 0).sum(1, keepdims=True))[ok]
    return np.bincount(flat, w, minlength=n * bins * bins).reshape(n, 1, bins, bins).astype(np.float32)


@pytest.fixture
def stub_images(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Replace jetlab.represent.image by a stub module; returns the list of calls it received."""
    calls: list[dict] = []

    def jet_images(jets: Jets, bins: int = 32, extent: float = 0.8, **preprocessing: bool) -> np.ndarray:
        calls.append({"n": len(jets), "bins": bins, "extent": extent, **preprocessing})
        return fake_jet_images(jets, bins, extent)

    module = types.ModuleType("jetlab.represent.image")
    module.jet_images = jet_images  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "jetlab.represent.image", module)
    return calls


def assert_pngs(paths: list[Path], names: list[str]) -> None:
    assert [p.name for p in paths] == names
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000, p
    assert not [q for q in paths[0].parent.iterdir() if q.name.endswith(".tmp")]


# ------------------------------------------------------------------------------------------ plots
def test_plot_dataset_writes_all_pngs_via_jet_images(tmp_path: Path, stub_images: list[dict]) -> None:
    jets = make_jets(n=200)
    paths = plot_dataset(jets, tmp_path / "plots", image_bins=24)
    assert_pngs(paths, ["hlf.png", "images.png", "multiplicity.png", "mass.png"])
    # the default path makes images with jet_images, once per class (one chunk each), extent 0.8
    assert len(stub_images) == 5 and sum(c["n"] for c in stub_images) == 200
    assert all(c["bins"] == 24 and c["extent"] == 0.8 for c in stub_images)


def test_plot_dataset_subset_of_classes_and_precomputed_images(tmp_path: Path) -> None:
    jets = make_jets(n=150).select_classes(["w", "t"])
    images = fake_jet_images(jets, bins=20)
    paths = plot_dataset(jets, tmp_path, images=images, max_per_class=40)
    assert_pngs(paths, ["hlf.png", "images.png", "multiplicity.png", "mass.png"])


def test_plot_dataset_without_hlf_skips_hlf_and_mass(tmp_path: Path) -> None:
    jets = make_jets(n=60, n_classes=1)                   # gluons only
    jets.labels[:5] = -1                                   # unlabelled jets are not drawn
    jets.hlf, jets.hlf_names = np.zeros((60, 0), np.float32), []
    paths = plot_dataset(jets, tmp_path, images=fake_jet_images(jets, bins=16)[:, 0])
    assert_pngs(paths, ["images.png", "multiplicity.png"])


def test_plot_dataset_checks_image_count(tmp_path: Path) -> None:
    jets = make_jets(n=20)
    with pytest.raises(ValueError, match="images"):
        plot_dataset(jets, tmp_path, images=np.zeros((3, 1, 8, 8), np.float32))


def test_plot_dataset_nothing_labelled_writes_nothing(tmp_path: Path) -> None:
    jets = make_jets(n=10)
    jets.labels[:] = -1
    assert plot_dataset(jets, tmp_path) == []


def test_plot_dataset_with_real_jet_images(tmp_path: Path) -> None:
    pytest.importorskip("jetlab.represent.image")     # written by another module's owner
    jets = make_jets(n=50)
    jets.hlf, jets.hlf_names = np.zeros((50, 0), np.float32), []   # images only: keep the test fast
    paths = plot_dataset(jets, tmp_path, image_bins=16)
    assert_pngs(paths, ["images.png", "multiplicity.png"])


def test_hlf_selection_follows_course_order() -> None:
    assert hlf_to_plot(list(reversed(HLF_NAMES))) == list(HLF16) + ["j_tau21_b1", "j_tau32_b1"]
    assert hlf_to_plot(["j_mass_mmdt", "j_pt"]) == ["j_mass_mmdt"]


def test_shared_bins() -> None:
    a, b = np.arange(0, 30.0), np.arange(10, 50.0)
    edges = shared_bins([a, b], bins=60)                   # integer data: half-integer edges
    assert edges[0] == -0.5 and np.allclose(np.diff(edges), 1.0) and edges[-1] >= 49
    assert np.allclose(np.diff(shared_bins([a, b], bins=40)), 2.0)  # 50 values in <= 40 bins
    cont = shared_bins([np.random.default_rng(0).normal(size=1000)], bins=25)
    assert cont.size == 26 and -3.5 < cont[0] < -2 and 2 < cont[-1] < 3.5
    assert np.all(np.diff(shared_bins([np.full(10, 3.3)])) > 0)    # degenerate range widened
    assert shared_bins([np.array([np.nan, np.inf])]).size == 41  # nothing finite


# ------------------------------------------------------------------------------------------ style
def test_style_tables_and_labels() -> None:
    assert tuple(CLASS_COLORS) == CLASSES == tuple(CLASS_LABELS)
    assert len(set(CLASS_COLORS.values())) == len(CLASSES)
    assert feature_label("j_mass_mmdt").endswith("[GeV]")
    assert feature_label("j_d2_a1_b2_mmdt") == r"$D_2^{\alpha=1,\beta=2}$ (mMDT)"
    assert feature_label("unknown_thing") == "unknown_thing"
    assert all(isinstance(feature_label(n), str) for n in HLF_NAMES)


def test_save_is_atomic_png(tmp_path: Path) -> None:
    fig = new_figure(3, 2)
    fig.subplots().plot([0, 1], [1, 0])
    out = save(fig, tmp_path / "sub" / "x.png")
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in out.parent.iterdir()] == ["x.png"]


# ---------------------------------------------------------------------------------------- summary
def test_summarize_counts_and_json() -> None:
    jets = make_jets(n=53)
    jets.meta.update(path="/data/set", shard={"seed": np.int64(7), "pt_range": (950.0, 1050.0)},
                     shards=[{"file": f"s{i}.h5"} for i in range(100)])
    s = summarize(jets)
    expected = np.bincount(jets.labels, minlength=5)
    assert s["jets_per_class"] == {c: int(k) for c, k in zip(CLASSES, expected, strict=True)}
    assert s["n_jets"] == 53 and s["max_particles"] == 30 and s["n_hlf16"] == 16
    assert s["format"] == "synthetic" and s["path"] == "/data/set"
    assert s["particle_features"] == jets.particle_names and s["hlf_features"] == jets.hlf_names
    assert s["jet"]["pt"]["min"] <= s["jet"]["pt"]["median"] <= s["jet"]["pt"]["max"]
    for k, c in enumerate(CLASSES):
        assert s["n_particles_mean"][c] == pytest.approx(jets.n_particles[jets.labels == k].mean(), abs=0.01)
    assert s["meta"]["shard"] == {"seed": 7, "pt_range": [950.0, 1050.0]}
    assert s["meta"]["shards"] == "<100 items>"
    assert json.loads(json.dumps(s)) == s


def test_summarize_subset_and_empty() -> None:
    s = summarize(make_jets(n=40).select_classes(["q", "t"]))
    assert s["jets_per_class"] == {"q": 8, "t": 8} and list(s["n_particles_mean"]) == ["q", "t"]
    empty = summarize(make_jets(n=10)[:0])
    assert empty["n_jets"] == 0 and empty["jets_per_class"] == {} and empty["jet"]["pt"] is None
    assert "total" in format_summary(empty)


def test_format_summary_lists_every_class() -> None:
    text = format_summary(summarize(make_jets(n=50)))
    rows = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    for c in CLASSES:
        assert c in rows and CLASS_TITLES[c] in rows[c] and "10" in rows[c]
    assert "synthetic" in text and "50" in text
    widths = {len(rows[c]) for c in CLASSES}
    assert len(widths) == 1                                # the class table is aligned
