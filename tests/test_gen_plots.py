"""Real-vs-generated plots (jetlab.report.gen_plots) on synthetic jets and a perturbed copy."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from jetlab.errors import UsageError
from jetlab.io.jets import Jets
from jetlab.report.gen_plots import plot_real_vs_generated, ratio_with_errors
from tests.conftest import make_jets

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAMES = ["gen_jets.png", "gen_particles.png", "gen_efps.png", "gen_images.png"]


def perturbed(jets: Jets, seed: int = 1) -> Jets:
    """A 'generated' copy: particles smeared in η and pT, jet pT scaled by 3 %."""
    r = np.random.default_rng(seed)
    cons = jets.constituents.copy()
    names = jets.particle_names
    ieta, ipt = names.index("eta"), names.index("pt")
    cons[..., ieta] += r.normal(0.0, 0.05, cons.shape[:2]).astype(np.float32)
    cons[..., ipt] *= r.lognormal(0.0, 0.2, cons.shape[:2]).astype(np.float32)
    cons[~jets.mask] = 0.0
    jet = jets.jet.copy()
    jet[:, 0] *= 1.03
    return replace(jets, constituents=cons, jet=jet)


@pytest.mark.parametrize("n_classes", [1, 5])
def test_writes_four_pngs(tmp_path: Path, n_classes: int) -> None:
    real = make_jets(80, max_particles=20, n_classes=n_classes)
    fake = perturbed(make_jets(60, max_particles=20, seed=3, n_classes=n_classes))
    paths = plot_real_vs_generated(real, fake, tmp_path / "out", n_particles=16, bins=12)
    assert [p.name for p in paths] == NAMES
    for p in paths:
        assert p.read_bytes()[:8] == PNG_MAGIC
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_hlf_only_raises_usage_error(tmp_path: Path) -> None:
    real = make_jets(20, max_particles=10)
    hlf_only = replace(real, constituents=real.constituents[:, :0], n_particles=np.zeros(20, np.int32))
    with pytest.raises(UsageError, match="no constituents"):
        plot_real_vs_generated(real, hlf_only, tmp_path)
    with pytest.raises(UsageError, match="real sample"):
        plot_real_vs_generated(hlf_only, real, tmp_path)
    assert not list(tmp_path.iterdir())


def test_ratio_with_errors() -> None:
    ratio, err, band = ratio_with_errors(np.array([100, 0, 25]), np.array([50, 3, 0]), 200, 100)
    np.testing.assert_allclose(ratio[[0, 2]], [1.0, 0.0])
    assert np.isnan(ratio[1]) and np.isnan(band[1])
    np.testing.assert_allclose(err[0], np.sqrt(50) / 100 / 0.5)
    np.testing.assert_allclose(err[2], 1 / 100 / 0.125)               # empty generated bin: one count
    np.testing.assert_allclose(band[[0, 2]], [0.1, 0.2])
