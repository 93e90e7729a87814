"""Jet physics: kinematics helpers and substructure observables (pure functions)."""
