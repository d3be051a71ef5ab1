"""Combining models: blends of per-era gaussianized predictions, their nested walk-forward
selection, and the champion that is submitted."""
