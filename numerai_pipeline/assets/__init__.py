"""The Dagster assets, one module per asset group.

Every asset's code version is a digest of the package's source: after a code change Dagster calls
what it materialized stale, and `numerai-pipeline run` materializes it again."""

import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]


def package_digest() -> str:
    """A digest of every Python file of the package (paths and contents)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


CODE_VERSION = package_digest()
