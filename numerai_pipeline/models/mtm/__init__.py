"""The Masked Trajectory Model (Wu et al., ICML 2023) over the tokens of a Numerai row."""

from numerai_pipeline.models.mtm.config import MTMConfig
from numerai_pipeline.models.mtm.model import MTMModel

__all__ = ["MTMConfig", "MTMModel"]
