"""The JetClass reader on tiny ROOT files in its exact layout (tests/foreign_root.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

import jetlab.io
from jetlab.classes import JETCLASS
from jetlab.cli import main
from jetlab.errors import FormatError, JetlabError
from jetlab.io.readers import get_reader, read_foreign, sniff
from jetlab.io.readers.jetclass import HLF_NAMES, MAX_PARTICLES
from jetlab.io.source import open_source
from jetlab.schema import KINEMATIC_FEATURES
from tests.foreign_root import FLAGS, by_pt, jetclass_branches, write_jetclass, write_tree

NAME = "JetClass_Pythia_train_100M_HToBB_000.root"
EXTRA = ["charge", "d0", "d0err", "dz", "dzerr", *FLAGS.values()]


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / NAME
    return path, write_jetclass(path)


@pytest.fixture
def branch_reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any, Any]]:
    """Every TBranch.array call: (file, branch, entry_start, entry_stop)."""
    calls: list[tuple[str, str, Any, Any]] = []
    original = uproot.behaviors.TBranch.TBranch.array

    def array(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append((Path(self.file.file_path).name, self.name, kwargs.get("entry_start"), kwargs.get("entry_stop")))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(uproot.behaviors.TBranch.TBranch, "array", array)
    return calls


def _no_arrays(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any, **__: Any) -> None:
        raise AssertionError("arrays read")

    monkeypatch.setattr(uproot.behaviors.TBranch.TBranch, "array", boom)
    monkeypatch.setattr(uproot.behaviors.TBranch.HasBranches, "arrays", boom)


# ------------------------------------------------------------------------------------------ reading
def test_sniffed_by_content(written: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    path, _ = written
    assert sniff(path) == "jetclass"
    assert sniff(path.rename(tmp_path / "jets.bin")) == "jetclass"


def test_particles_read_back_in_pt_order(written: tuple[Path, dict[str, Any]]) -> None:
    path, truth = written
    jets = read_foreign(path)
    assert jets.particle_names == [*KINEMATIC_FEATURES, *EXTRA]
    assert jets.constituents.shape == (10, 20, 17) and jets.constituents.dtype == np.float32
    np.testing.assert_array_equal(jets.n_particles, truth["counts"])
    assert (np.diff(jets.particle("pt"), axis=1) <= 0).all() and (jets.constituents[~jets.mask] == 0).all()
    for name in ("px", "py", "pz", "E", "pt", *EXTRA):
        np.testing.assert_allclose(jets.particle(name), by_pt(truth, name), rtol=1e-6, atol=1e-6, err_msg=name)
    px, py, pz = (jets.particle(k).astype(np.float64) for k in ("px", "py", "pz"))
    eta = np.arcsinh(np.divide(pz, np.hypot(px, py), out=np.zeros_like(pz), where=jets.mask))
    np.testing.assert_allclose(jets.particle("eta"), eta, atol=1e-5)
    np.testing.assert_allclose(jets.particle("phi"), np.where(jets.mask, np.arctan2(py, px), 0), atol=1e-6)
    flags = np.stack([jets.particle(n) for n in FLAGS.values()], -1)
    assert (flags.sum(-1) == jets.mask).all(), "one particle type each"


def test_jet_hlf_and_labels(written: tuple[Path, dict[str, Any]]) -> None:
    path, truth = written
    jets = read_foreign(path)
    np.testing.assert_allclose(jets.jet, truth["jet"], rtol=1e-4, atol=1e-4)  # mass from jet_energy
    assert jets.hlf_names == list(HLF_NAMES)
    b = truth["branches"]
    expected = {"j_pt": b["jet_pt"], "j_eta": b["jet_eta"], "j_mass": truth["jet"][:, 3],
                "j_mass_mmdt": b["jet_sdmass"], **{f"j_tau{i}_b1": b[f"jet_tau{i}"] for i in range(1, 5)},
                "j_tau21_b1": b["jet_tau2"] / b["jet_tau1"], "j_tau32_b1": b["jet_tau3"] / b["jet_tau2"],
                "j_multiplicity": truth["counts"]}  # fmt: skip
    for name, value in expected.items():
        np.testing.assert_allclose(jets.feature(name), value, rtol=1e-4, err_msg=name)
    np.testing.assert_array_equal(jets.labels, truth["labels"])
    assert jets.scheme is JETCLASS and len(jets.scheme.classes) == 10
    assert jets.counts() == {c: 1 for c in JETCLASS.classes}
    assert jets.meta["format"] == "jetclass" and jets.meta["path"] == str(path)


def test_row_ranges_read_only_those_entries(written: tuple[Path, dict[str, Any]],
                                            branch_reads: list[tuple[str, str, Any, Any]]) -> None:  # fmt: skip
    path, truth = written
    full = read_foreign(path)
    branch_reads.clear()
    part = read_foreign(path, start=3, stop=7)
    assert {(a, b) for _, _, a, b in branch_reads} == {(3, 7)}
    width = int(truth["counts"][3:7].max())  # padded to the rows read
    assert part.constituents.shape[1] == width
    np.testing.assert_array_equal(part.constituents, full.constituents[3:7, :width])
    np.testing.assert_array_equal(part.labels, truth["labels"][3:7])
    np.testing.assert_array_equal(part.hlf, full.hlf[3:7])
    np.testing.assert_array_equal(read_foreign(path, start=-2).labels, truth["labels"][-2:])
    assert len(read_foreign(path, start=8, stop=100)) == 2 and len(read_foreign(path, start=5, stop=5)) == 0


def test_count_and_labels_read_no_particles(written: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch,
                                            branch_reads: list[tuple[str, str, Any, Any]]) -> None:  # fmt: skip
    path, truth = written
    reader = get_reader("jetclass")
    assert reader.labels is not None
    np.testing.assert_array_equal(reader.labels(path), truth["labels"])
    assert {b for _, b, _, _ in branch_reads} == {f"label_{c}" for c in JETCLASS.classes}
    _no_arrays(monkeypatch)
    assert reader.count(path) == 10 and reader.scheme_of(path) is JETCLASS


def test_hardest_128_particles_kept(tmp_path: Path) -> None:
    truth = write_jetclass(tmp_path / NAME, n=3, p=MAX_PARTICLES + 5)
    jets = read_foreign(tmp_path / NAME)
    assert jets.max_particles == MAX_PARTICLES and jets.n_particles[0] == MAX_PARTICLES
    np.testing.assert_allclose(jets.particle("pt")[0], by_pt(truth, "pt")[0, :MAX_PARTICLES], rtol=1e-6)
    assert jets.feature("j_multiplicity")[0] == MAX_PARTICLES + 5  # jet_nparticles, before the cap


def test_open_and_a_directory_of_files(tmp_path: Path) -> None:
    truths = [write_jetclass(tmp_path / f"JetClass_{i}.root", n=n, seed=i) for i, n in enumerate((10, 7))]
    jets = jetlab.io.open(tmp_path / "JetClass_0.root")
    assert len(jets) == 10 and jets.scheme is JETCLASS
    src = open_source(tmp_path)
    assert len(src) == 17 and src.scheme is JETCLASS and len(src.scheme.classes) == 10
    assert [(f.fmt, f.n_jets) for f in src.files] == [("jetclass", 10), ("jetclass", 7)]
    labels = np.concatenate([t["labels"] for t in truths])
    np.testing.assert_array_equal(src.labels(), labels)
    chunks = [src.read(i, lo, hi) for i, lo, hi in src.chunks(4)]
    assert [len(c) for c in chunks] == [4, 4, 2, 4, 3]
    np.testing.assert_array_equal(np.concatenate([c.labels for c in chunks]), labels)
    loaded = src.load()
    assert len(loaded) == 17 and loaded.meta["path"] == str(tmp_path)
    np.testing.assert_array_equal(loaded.labels, labels)


def test_cli_info(written: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = written
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "format     jetclass" in out and "17 features" in out and "j_mass_mmdt" in out
    # report/summary.py names classes from the jetlab scheme (g, q, w, z, t) whatever the dataset's scheme;
    # once it uses jets.scheme: assert all(c in out for c in JETCLASS.classes)


# ------------------------------------------------------------------------------------------ bad input
def _one_line(error: pytest.ExceptionInfo[JetlabError], *needles: str) -> None:
    message = str(error.value)
    assert "\n" not in message and all(n in message for n in needles), message


def test_missing_branch_is_named(tmp_path: Path) -> None:
    write_jetclass(tmp_path / NAME, omit=("part_d0val",))
    assert sniff(tmp_path / NAME) == "jetclass"
    with pytest.raises(FormatError) as info:
        read_foreign(tmp_path / NAME)
    _one_line(info, str(tmp_path / NAME), "'part_d0val'", "particles.d0")


def test_labels_not_one_hot(tmp_path: Path) -> None:
    write_jetclass(tmp_path / NAME, replace={"label_Hbb": np.ones(10, bool)})
    with pytest.raises(FormatError) as info:
        read_foreign(tmp_path / NAME)
    _one_line(info, str(tmp_path / NAME), "not one-hot in 9 jets", "entry 0")
    with pytest.raises(FormatError, match="not one-hot"):
        get_reader("jetclass").labels(tmp_path / NAME)  # type: ignore[misc]


def test_nan_values(tmp_path: Path) -> None:
    branches, _ = jetclass_branches()
    flat = ak.to_numpy(ak.flatten(branches["part_px"])).copy()
    flat[3] = np.nan
    branches["part_px"] = ak.unflatten(flat, ak.num(branches["part_px"]))
    write_tree(tmp_path / NAME, branches)
    with pytest.raises(FormatError) as info:
        read_foreign(tmp_path / NAME)
    _one_line(info, str(tmp_path / NAME), "NaN")


def test_other_root_files(tmp_path: Path) -> None:
    write_jetclass(tmp_path / "events.root", tree="Events")
    assert sniff(tmp_path / "events.root") is None
    with pytest.raises(FormatError) as info:
        read_foreign(tmp_path / "events.root")
    _one_line(info, str(tmp_path / "events.root"), "columnar")
    with pytest.raises(FormatError) as info:
        read_foreign(tmp_path / "events.root", "jetclass")
    _one_line(info, "no tree 'tree'")


@pytest.mark.parametrize("seed", range(12))
def test_damaged_files_raise_only_jetlab_errors(written: tuple[Path, dict[str, Any]], seed: int) -> None:
    path, _ = written
    raw = bytearray(path.read_bytes())
    r = np.random.default_rng(seed)
    if seed < 4:
        raw = raw[: int(len(raw) * r.uniform(0.1, 0.95))]
    else:
        for at in r.integers(100, len(raw), 8):
            raw[at] ^= int(r.integers(1, 256))
    path.write_bytes(bytes(raw))
    try:
        jets = read_foreign(path, "jetclass")
    except JetlabError as e:
        assert str(e) and "\n" not in str(e) and str(path) in str(e)
    else:
        jets.validate("damaged")
