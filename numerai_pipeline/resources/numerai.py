"""The Numerai API as a resource: credentials from env vars only, never shown or logged."""

from __future__ import annotations

import os

from dagster import ConfigurableResource, EnvVar

from numerai_pipeline.numerai_api import NumeraiClient


class NumeraiResource(ConfigurableResource):
    """numerapi behind timeouts, bounded retries and clear errors (env: NUMERAI_PUBLIC_ID,
    NUMERAI_SECRET_KEY, NUMERAI_API_URL, NUMERAI_MODEL_NAME)."""

    public_id: str = ""
    secret_key: str = ""
    api_url: str = ""
    model_name: str = ""
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


def numerai_resource_from_env(**overrides: float | int) -> NumeraiResource:
    """Credentials as Dagster `EnvVar`s (the UI shows the variable's name, not its value);
    `overrides` set the retry and timeout knobs."""

    def env(name: str) -> str | EnvVar:
        return EnvVar(name) if os.environ.get(name) else ""

    return NumeraiResource(
        public_id=env("NUMERAI_PUBLIC_ID"),
        secret_key=env("NUMERAI_SECRET_KEY"),
        api_url=os.environ.get("NUMERAI_API_URL", ""),
        model_name=os.environ.get("NUMERAI_MODEL_NAME", ""),
        **overrides,
    )
