"""Data for training: batch building per representation, splits, Lightning DataModule."""
