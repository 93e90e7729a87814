"""Offline electromagnetic shower simulation with the GFlash parametrization (hep-ex/0001020).

``simulate(get_geometry("calogan"), "e+", energies_gev, rng)`` returns showers in the array layout and
units of a public dataset: ``calogan`` (CaloGAN, arXiv:1705.02355) or ``challenge2`` (CaloChallenge
dataset 2); ``binning_xml`` writes the CaloChallenge binning file of a cylindrical geometry.
"""

from jetlab.generate.showers.geometry import GEOMETRIES, ShowerUsageError, binning_xml, get_geometry
from jetlab.generate.showers.simulate import PARTICLES, simulate

__all__ = ["GEOMETRIES", "PARTICLES", "ShowerUsageError", "binning_xml", "get_geometry", "simulate"]
