"""Numerai's API through numerapi: retries, timeouts, clear errors, secrets kept out of messages."""

from numerai_pipeline.numerai_api.client import NumeraiApiError, NumeraiAuthError, NumeraiClient

__all__ = ["NumeraiApiError", "NumeraiAuthError", "NumeraiClient"]
