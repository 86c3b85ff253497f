"""Explaining a disagreement: patterns, the layer picture, shapes, the first wrong line."""
