"""The columnar reader: ROOT or Parquet files described by a YAML mapping (docs/columnar.md)."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pyarrow.parquet as pq
import pytest
import uproot
import yaml

import jetlab.io
from jetlab.classes import JETCLASS
from jetlab.cli import main
from jetlab.errors import FormatError, InputError, JetlabError
from jetlab.io.readers import get_reader, read_foreign, sniff
from jetlab.io.readers.columnar import load_mapping
from jetlab.io.source import open_source
from jetlab.schema import KINEMATIC_FEATURES
from tests.foreign_root import CLASSES3, by_pt, write_columnar, write_jetclass, write_tree, write_yaml

DOCS = Path(__file__).resolve().parents[1] / "docs" / "columnar.md"


@pytest.fixture(params=["root", "rntuple", "parquet"])
def written(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / "dataset.yaml"
    kind = "parquet" if request.param == "parquet" else "root"
    return path, write_columnar(path, kind=kind, rntuple=request.param == "rntuple")


@pytest.fixture
def root_reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any, Any]]:
    """Every TBranch.array call: (file, branch, entry_start, entry_stop)."""
    calls: list[tuple[str, str, Any, Any]] = []
    original = uproot.behaviors.TBranch.TBranch.array

    def array(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append((Path(self.file.file_path).name, self.name, kwargs.get("entry_start"), kwargs.get("entry_stop")))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(uproot.behaviors.TBranch.TBranch, "array", array)
    return calls


def _check(jets: Any, truth: dict[str, Any], rows: slice = slice(None)) -> None:
    """``jets`` hold exactly the truth's jets ``rows``."""
    np.testing.assert_array_equal(jets.n_particles, truth["counts"][rows])
    width = int(truth["counts"][rows].max())
    assert jets.constituents.shape[1] == width
    for name in ("px", "py", "pz", "E", "pt", "charge"):
        np.testing.assert_allclose(jets.particle(name), by_pt(truth, name)[rows, :width], rtol=1e-5, atol=1e-4,
                                   err_msg=name)  # fmt: skip
    assert (np.diff(jets.particle("pt"), axis=1) <= 0).all() and (jets.constituents[~jets.mask] == 0).all()
    np.testing.assert_allclose(jets.jet, truth["jet"][rows], rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(jets.labels, truth["labels"][rows])


# ------------------------------------------------------------------------------------------ reading
def test_sniffed_and_read_back(written: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    path, truth = written
    assert sniff(path) == "columnar" and sniff(truth["files"][0]) is None
    jets = read_foreign(path)
    _check(jets, truth)
    assert jets.particle_names == [*KINEMATIC_FEATURES, "charge"]
    assert jets.hlf_names == ["j_mass_mmdt"]
    np.testing.assert_allclose(jets.feature("j_mass_mmdt"), truth["msoftdrop"], rtol=1e-6)
    assert jets.scheme.name == "flavour" and list(jets.scheme.classes) == CLASSES3
    assert jets.scheme.title("charm") == "c quark"
    assert jets.meta["format"] == "columnar" and jets.meta["path"] == str(path)
    assert len(jetlab.io.open(path)) == 12
    assert sniff(path.rename(tmp_path / "mapping.txt")) == "columnar"  # content decides


def test_row_ranges_cross_files(written: tuple[Path, dict[str, Any]]) -> None:
    path, truth = written
    assert truth["rows"] == [6, 6]
    for start, stop in ((0, 4), (4, 9), (7, 12), (3, 3), (-4, None), (10, 99)):
        jets = read_foreign(path, start=start, stop=stop)
        assert len(jets) == len(range(12)[start:stop])
        if len(jets):
            _check(jets, truth, slice(start, stop))


def test_root_reads_only_the_files_and_entries_asked(tmp_path: Path, root_reads: list[tuple[str, str, Any, Any]]
                                                     ) -> None:  # fmt: skip
    path = tmp_path / "d.yaml"
    write_columnar(path)
    read_foreign(path, start=4, stop=9)
    assert {(f, a, b) for f, _, a, b in root_reads} == {("ntuple_0.root", 4, 6), ("ntuple_1.root", 0, 3)}
    root_reads.clear()
    read_foreign(path, start=7, stop=8)
    assert {(f, a, b) for f, _, a, b in root_reads} == {("ntuple_1.root", 1, 2)}


def test_parquet_reads_only_the_row_groups_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "d.yaml"
    truth = write_columnar(path, kind="parquet", row_group=3)  # 2 files x 2 row groups of 3 jets
    calls: list[list[int]] = []
    original = pq.ParquetFile.read_row_groups

    def read_row_groups(self: pq.ParquetFile, groups: list[int], *args: Any, **kwargs: Any) -> Any:
        calls.append(list(groups))
        return original(self, groups, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", read_row_groups)
    _check(read_foreign(path, start=7, stop=9), truth, slice(7, 9))
    assert calls == [[0]]  # rows 1..2 of the second file
    calls.clear()
    read_foreign(path, start=2, stop=10)
    assert calls == [[0, 1], [0, 1]]


def test_count_scheme_and_source_read_no_arrays(written: tuple[Path, dict[str, Any]],
                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    path, truth = written

    def boom(*_: Any, **__: Any) -> None:
        raise AssertionError("arrays read")

    for cls, name in ((uproot.behaviors.TBranch.TBranch, "array"), (uproot.behaviors.TBranch.HasBranches, "arrays"),
                      (uproot.behaviors.RNTuple.HasFields, "arrays"), (pq.ParquetFile, "read_row_groups"),
                      (pq.ParquetFile, "read")):  # fmt: skip
        monkeypatch.setattr(cls, name, boom)
    src = open_source(path)
    assert len(src) == 12 and [(f.fmt, f.n_jets) for f in src.files] == [("columnar", 12)]
    assert list(src.scheme.classes) == CLASSES3 and get_reader("columnar").count(path) == 12
    monkeypatch.undo()
    np.testing.assert_array_equal(src.labels(), truth["labels"])
    chunks = [src.read(i, lo, hi) for i, lo, hi in src.chunks(5)]
    assert [len(c) for c in chunks] == [5, 5, 2]
    np.testing.assert_array_equal(src.load().labels, truth["labels"])


def test_labels_read_only_label_branches(tmp_path: Path, root_reads: list[tuple[str, str, Any, Any]]) -> None:
    path = tmp_path / "d.yaml"
    truth = write_columnar(path, one_hot=True)
    labels = get_reader("columnar").labels(path)  # type: ignore[misc]
    np.testing.assert_array_equal(labels, truth["labels"])
    assert {b for _, b, _, _ in root_reads} == {"is_light", "is_charm", "is_bottom"}


def test_cartesian_particles_one_hot_labels_and_jet_sum(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    truth = write_columnar(path, kind="parquet", cartesian=True, one_hot=True, jet=False)
    jets = read_foreign(path)
    _check(jets, truth)  # the jet is the particle sum
    np.testing.assert_allclose(jets.particle("eta"), by_pt(truth, "eta"), atol=1e-6)


def test_max_particles_and_a_known_scheme(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    truth = write_columnar(path)
    mapping = truth["yaml"] | {"max_particles": 5, "name": "jetclass"}
    mapping["labels"] = {"classes": list(JETCLASS.classes), "branch": "Jet_flavour"}
    jets = read_foreign(write_yaml(path, mapping))
    assert jets.max_particles == 5 and (jets.n_particles == np.minimum(truth["counts"], 5)).all()
    np.testing.assert_allclose(jets.particle("pt"), by_pt(truth, "pt")[:, :5], rtol=1e-6)
    assert jets.scheme is JETCLASS  # same name and classes: the registered scheme


def test_cli_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_columnar(tmp_path / "d.yaml")
    assert main(["info", str(tmp_path / "d.yaml")]) == 0
    assert "format     columnar" in capsys.readouterr().out


def test_docs_examples(tmp_path: Path) -> None:
    """The mappings of docs/columnar.md are valid; its JetClass mapping reads what the jetclass reader reads."""
    first, parquet, jetclass = (yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), re.S))
    for i, mapping in enumerate((first, parquet)):
        for pattern in mapping["files"]:
            (tmp_path / pattern.replace("*", "0")).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / pattern.replace("*", "0")).write_bytes(b"")
        m = load_mapping(write_yaml(tmp_path / f"doc{i}.yaml", mapping))
        assert len(m.files) == 1 and m.columns.scheme.classes == tuple(mapping["labels"]["classes"])
    root = tmp_path / "JetClass_Pythia_train_100M_HToBB_000.root"
    write_jetclass(root)
    native, mapped = read_foreign(root), read_foreign(write_yaml(tmp_path / "jetclass.yaml", jetclass))
    assert mapped.scheme is JETCLASS and mapped.particle_names == native.particle_names
    for name in ("constituents", "n_particles", "jet", "labels"):
        np.testing.assert_array_equal(getattr(mapped, name), getattr(native, name), err_msg=name)
    np.testing.assert_array_equal(mapped.hlf, native.hlf[:, [native.hlf_names.index(n) for n in mapped.hlf_names]])


# ------------------------------------------------------------------------------------------ bad mappings
def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set (value None: delete) a dotted key of the mapping."""

    def edit(m: dict[str, Any]) -> None:
        *parents, last = key.split(".")
        for p in parents:
            m = m[p]
        if value is None:
            del m[last]
        else:
            m[last] = value

    return edit


BAD: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "unknown_key": (_set("partciles", {}), "partciles: unknown key (did you mean 'particles'?)"),
    "unknown_label_key": (_set("labels.brnach", "x"), "labels.brnach: unknown key"),
    "unknown_jet_key": (_set("jet.energy", "Jet_E"), "jet.energy: unknown key"),
    "format": (_set("format", "root"), "format: must be 'columnar'"),
    "no_files": (_set("files", ["nothing_*.root"]), "files: 'nothing_*.root' matches no file"),
    "files_type": (_set("files", 3), "files: expected"),
    "missing_branch": (_set("particles.pt", "PF_ptt"), "no branch 'PF_ptt' (particles.pt); close: 'PF_pt'"),
    "missing_hlf_branch": (_set("hlf.j_zlogz", "Jet_zlogz"), "'Jet_zlogz' (hlf.j_zlogz)"),
    "flat_particles": (_set("particles.charge", "Jet_pt"), "'Jet_pt' (particles.charge) holds one number"),
    "jagged_jet": (_set("jet.pt", "PF_pt"), "'PF_pt' (jet.pt) holds a list per jet"),
    "mixed_kinematics": (_set("particles.px", "PF_pt"), "particles: give pt, eta, phi [, mass] or px, py, pz, E"),
    "no_kinematics": (_set("particles", {"charge": "PF_charge"}), "particles: give pt, eta, phi"),
    "particles_list": (_set("particles", ["PF_pt"]), "particles: expected a mapping"),
    "jet_energy_alone": (lambda m: m.update(jet={"E": "Jet_mass"}), "jet.E: the jet mass from E needs"),
    "no_tree": (_set("tree", None), "tree: missing, needed to read the ROOT file"),
    "wrong_tree": (_set("tree", "Evnts"), "no tree 'Evnts'"),
    "label_floats": (_set("labels.branch", "Jet_msoftdrop"), "labels.branch 'Jet_msoftdrop' holds"),
    "label_range": (lambda m: m.update(labels={"classes": ["light", "heavy"], "branch": "Jet_flavour"}),
                    "holds 2 at entry 2; expected class ids 0..1 (-1: no class)"),
    "label_both": (_set("labels.one_hot", {"light": "Jet_flavour"}), "labels: give exactly one of branch"),
    "one_hot_classes": (lambda m: m.update(labels={"classes": CLASSES3, "one_hot": {"light": "PF_pt"}}),
                        "labels.one_hot: needs one branch for each class"),
    "not_one_hot": (lambda m: m.update(labels={"classes": CLASSES3, "one_hot": {c: "Jet_flavour" for c in CLASSES3}}),
                    "labels.one_hot: branches Jet_flavour"),
    "duplicate_classes": (_set("labels.classes", ["light", "Light", "b"]), "labels.classes: "),
    "descriptions": (_set("labels.descriptions", ["one"]), "labels.descriptions: expected 3 strings"),
    "max_particles": (_set("max_particles", 0), "max_particles: expected a positive integer"),
    "name": (_set("name", ""), "name: expected"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_mapping_is_one_line_naming_the_yaml_and_key(tmp_path: Path, case: str) -> None:
    edit, needle = BAD[case]
    path = tmp_path / "d.yaml"
    mapping = copy.deepcopy(write_columnar(path, n=6)["yaml"])
    edit(mapping)
    write_yaml(path, mapping)
    with pytest.raises((FormatError, InputError)) as info:
        read_foreign(path, "columnar")
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: ") and needle in message, message


@pytest.mark.parametrize(("text", "needle"), [("format: columnar\nformat: columnar\n", "given twice (line 2)"),
                                              ("format: columnar\nfiles: [a\n", "invalid YAML"),
                                              ("- format\n- columnar\n", "not a YAML mapping")])  # fmt: skip
def test_bad_yaml_text(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(text)
    with pytest.raises(FormatError) as info:
        read_foreign(path, "columnar")
    assert "\n" not in str(info.value) and str(path) in str(info.value) and needle in str(info.value)


def test_bad_data(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    mapping = write_columnar(path, n=4, n_files=1)["yaml"]
    a, b = ak.Array([[1.0], [2.0, 3.0], [1.0], [1.0]]), ak.Array([[1.0, 2.0], [3.0], [1.0], [1.0]])
    write_tree(tmp_path / "ntuple_0.root", {"PF_pt": a, "PF_eta": b, "PF_phi": a, "PF_mass": a, "PF_charge": a,
                                            "Jet_msoftdrop": np.ones(4), "Jet_flavour": np.zeros(4, np.int32)},
               "Events", group=False)  # fmt: skip
    write_yaml(path, mapping | {"jet": None})
    with pytest.raises(FormatError, match="'PF_pt' and 'PF_eta' differ in particles per jet"):
        read_foreign(path)
    raw = (tmp_path / "ntuple_0.root").read_bytes()
    (tmp_path / "ntuple_0.root").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(JetlabError) as info:
        read_foreign(path)
    assert str(path) in str(info.value) and "ntuple_0.root" in str(info.value) and "\n" not in str(info.value)
    (tmp_path / "ntuple_0.root").write_text("pt,eta\n")
    with pytest.raises(JetlabError, match="neither a ROOT nor a Parquet file"):
        read_foreign(path)
