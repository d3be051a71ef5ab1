"""Feature value conventions shared by the models and the feature screen."""

from __future__ import annotations

import numpy as np

from numerai_pipeline.core.schema import ordinal_values


def test_ordinal_values_centre_the_bins_and_read_missing_as_the_middle():
    bins = np.array([[-1, 0, 1, 2, 3, 4]], dtype=np.int8)
    assert ordinal_values(bins).tolist() == [[0.0, -1.0, -0.5, 0.0, 0.5, 1.0]]
    assert ordinal_values(bins).dtype == np.float32
