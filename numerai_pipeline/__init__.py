"""numerai-pipeline: an orchestrated end-to-end ML pipeline for the Numerai tournament."""

__version__ = "0.1.0"
