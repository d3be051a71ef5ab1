"""The Numerai API as a resource: credentials from env vars only, never shown or logged."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from dagster import ConfigurableResource, EnvVar

from numerai_pipeline.numerai_api import NumeraiClient
from numerai_pipeline.rounds.calendar import RoundCalendar

if TYPE_CHECKING:
    from numerai_pipeline.resources.data_source import NumeraiDataSource


class NumeraiResource(ConfigurableResource):
    """numerapi behind timeouts, bounded retries and clear errors (env: NUMERAI_PUBLIC_ID,
    NUMERAI_SECRET_KEY, NUMERAI_API_URL, NUMERAI_MODEL_NAME, NUMERAI_MODEL_UPLOAD,
    NUMERAI_MODEL_UPLOAD_IMAGE)."""

    public_id: str = ""
    secret_key: str = ""
    api_url: str = ""
    model_name: str = ""
    model_upload: bool = False
    """Upload each new champion's model-upload pickle as the model's hosted model."""
    model_upload_image: str = ""
    """Numerai's docker image for the hosted model, by name (default: this Python's)."""
    max_retries: int = 3
    backoff_seconds: float = 2.0
    timeout_seconds: float = 60.0

    def client(self) -> NumeraiClient:
        return NumeraiClient(
            public_id=self.public_id or None,
            secret_key=self.secret_key or None,
            api_url=self.api_url or None,
            max_retries=self.max_retries,
            backoff_seconds=self.backoff_seconds,
            timeout_seconds=self.timeout_seconds,
        )


def numerai_resource_from_env(
    model_upload: bool = False, **overrides: float | int
) -> NumeraiResource:
    """Credentials as Dagster `EnvVar`s (the UI shows the variable's name, not its value);
    `model_upload` switches the hosted model's upload on, `overrides` set the retry and timeout
    knobs."""

    def env(name: str) -> str | EnvVar:
        return EnvVar(name) if os.environ.get(name) else ""

    return NumeraiResource(
        public_id=env("NUMERAI_PUBLIC_ID"),
        secret_key=env("NUMERAI_SECRET_KEY"),
        api_url=os.environ.get("NUMERAI_API_URL", ""),
        model_name=os.environ.get("NUMERAI_MODEL_NAME", ""),
        model_upload=model_upload,
        model_upload_image=os.environ.get("NUMERAI_MODEL_UPLOAD_IMAGE", ""),
        **overrides,
    )


def calendar_for(numerai: NumeraiResource, data_source: NumeraiDataSource) -> RoundCalendar:
    """Numerai's calendar through its API when the data comes from it, an API is configured or
    credentials are set (what is uploaded must carry Numerai's round numbers); the offline rule
    otherwise (synthetic or local data, no network, nothing to upload)."""
    client = numerai.client()
    uses_api = data_source.source == "numerai" or bool(numerai.api_url) or client.has_credentials
    return RoundCalendar(client if uses_api else None)
