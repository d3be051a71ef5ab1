"""NumeraiClient through the real numerapi client against the fake Numerai server."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numerapi
import pytest
from numerapi import base_api

from numerai_pipeline.numerai_api import NumeraiApiError, NumeraiAuthError, NumeraiClient
from numerai_pipeline.numerai_api import client as client_module
from numerai_pipeline_tests.fake_numerai_server import FakeNumerai

TRAIN = "v5.0/train.parquet"


def test_public_queries(client: NumeraiClient, fake_numerai: FakeNumerai) -> None:
    url_before = base_api.API_TOURNAMENT_URL
    assert "v5.0/train.parquet" in client.list_datasets()
    assert client.get_current_round() == fake_numerai.current_round
    assert client.check_round_open() is True
    fake_numerai.faults.round_open = False
    assert client.check_round_open() is False
    assert fake_numerai.operations() == ["listDatasets", "rounds", "rounds", "rounds"]
    assert url_before == base_api.API_TOURNAMENT_URL


def test_get_models_needs_and_uses_credentials(client: NumeraiClient) -> None:
    assert client.has_credentials
    assert client.get_models() == {"my_model": "model-id-1"}


def test_download_full_file(client: NumeraiClient, served_dir: Path, tmp_path: Path) -> None:
    dest = client.download_dataset(TRAIN, tmp_path / "out" / "train.parquet")
    assert dest.read_bytes() == (served_dir / TRAIN).read_bytes()
    assert not dest.with_name("train.parquet.part").exists()


def test_partial_download_is_resumed_with_range(
    client: NumeraiClient, fake_numerai: FakeNumerai, served_dir: Path, tmp_path: Path
) -> None:
    source = (served_dir / TRAIN).read_bytes()
    dest = tmp_path / "train.parquet"
    half = len(source) // 2
    dest.with_name("train.parquet.part").write_bytes(source[:half])
    client.download_dataset(TRAIN, dest)
    assert [r.range for r in fake_numerai.file_requests(TRAIN)] == [f"bytes={half}-"]
    assert dest.read_bytes() == source


def test_complete_file_is_not_downloaded_again(
    client: NumeraiClient, fake_numerai: FakeNumerai, tmp_path: Path
) -> None:
    dest = client.download_dataset(TRAIN, tmp_path / "train.parquet")
    os.utime(dest, (1_000_000, 1_000_000))
    client.download_dataset(TRAIN, dest)
    assert [r.range for r in fake_numerai.file_requests(TRAIN)] == [None, "bytes=0-0"]
    assert dest.stat().st_mtime == 1_000_000


def test_file_of_other_size_is_replaced(
    client: NumeraiClient, served_dir: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "train.parquet"
    dest.write_bytes(b"stale")
    client.download_dataset(TRAIN, dest)
    assert dest.read_bytes() == (served_dir / TRAIN).read_bytes()


def test_server_ignoring_range_restarts_cleanly(
    client: NumeraiClient, fake_numerai: FakeNumerai, served_dir: Path, tmp_path: Path
) -> None:
    source = (served_dir / TRAIN).read_bytes()
    dest = tmp_path / "train.parquet"
    dest.with_name("train.parquet.part").write_bytes(source[:100])
    fake_numerai.faults.ignore_range = True
    client.download_dataset(TRAIN, dest)
    assert dest.read_bytes() == source


def test_dropped_download_is_retried_and_resumed(
    client: NumeraiClient,
    fake_numerai: FakeNumerai,
    served_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client_module, "_CHUNK_BYTES", 256)
    source = (served_dir / TRAIN).read_bytes()
    fake_numerai.faults.drop_next_download_after = 1000
    dest = client.download_dataset(TRAIN, tmp_path / "train.parquet")
    # the chunks read completely before the drop (3 x 256 bytes) are kept and resumed from
    assert [r.range for r in fake_numerai.file_requests(TRAIN)] == [None, "bytes=768-"]
    assert dest.read_bytes() == source


def test_stock_numerapi_download_resumes_against_fake_server(
    fake_numerai: FakeNumerai, served_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fake speaks numerapi's own protocol too (its `.temp` file and Range resume)."""
    monkeypatch.setattr(base_api, "API_TOURNAMENT_URL", fake_numerai.url)
    source = (served_dir / TRAIN).read_bytes()
    dest = tmp_path / "train.parquet"
    Path(f"{dest}.temp").write_bytes(source[:500])
    numerapi.NumerAPI(show_progress_bars=False).download_dataset(TRAIN, str(dest))
    assert "bytes=500-" in [r.range for r in fake_numerai.file_requests(TRAIN)]
    assert dest.read_bytes() == source


def test_server_errors_are_retried_then_succeed(
    client: NumeraiClient, fake_numerai: FakeNumerai, caplog: pytest.LogCaptureFixture
) -> None:
    fake_numerai.faults.fail_next_n_with_500 = 2
    with caplog.at_level(logging.WARNING):
        assert client.get_models() == {"my_model": "model-id-1"}
    assert fake_numerai.operations() == ["account"] * 3
    assert caplog.text.count("HTTP 500") == 2


def test_server_errors_forever_give_a_clear_error(
    client: NumeraiClient, fake_numerai: FakeNumerai
) -> None:
    fake_numerai.faults.fail_next_n_with_500 = 100
    with pytest.raises(NumeraiApiError, match=r"list_datasets failed after 3 attempts: HTTP 500"):
        client.list_datasets()


def test_server_errors_on_file_download(
    client: NumeraiClient, fake_numerai: FakeNumerai, tmp_path: Path
) -> None:
    fake_numerai.faults.fail_next_n_with_500 = 100
    with pytest.raises(NumeraiApiError, match=r"download_dataset\(v5.0/train.parquet\) failed"):
        client.download_dataset(TRAIN, tmp_path / "train.parquet")
    assert not (tmp_path / "train.parquet").exists()


def test_slow_answer_times_out(fake_numerai: FakeNumerai) -> None:
    fake_numerai.faults.delay_seconds = 1.0
    client = fake_numerai.client(timeout_seconds=0.2, max_retries=1)
    with pytest.raises(NumeraiApiError, match=r"get_current_round failed .*no answer within 0.2s"):
        client.get_current_round()


def test_bad_credentials(fake_numerai: FakeNumerai) -> None:
    client = fake_numerai.client(secret_key="wrong-secret")
    with pytest.raises(NumeraiAuthError, match="NUMERAI_SECRET_KEY") as info:
        client.get_models()
    assert "wrong-secret" not in str(info.value)
    assert fake_numerai.operations() == ["account"]


def test_forbidden_status_is_an_auth_error(
    client: NumeraiClient, fake_numerai: FakeNumerai
) -> None:
    fake_numerai.faults.auth_error = True
    with pytest.raises(NumeraiAuthError, match=r"get_models: credentials rejected \(HTTP 403"):
        client.get_models()


def test_missing_credentials(fake_numerai: FakeNumerai, tmp_path: Path) -> None:
    client = fake_numerai.client(public_id=None, secret_key=None)
    assert not client.has_credentials
    with pytest.raises(NumeraiAuthError, match="set NUMERAI_PUBLIC_ID and NUMERAI_SECRET_KEY"):
        client.get_models()
    with pytest.raises(NumeraiAuthError, match="set NUMERAI_PUBLIC_ID and NUMERAI_SECRET_KEY"):
        client.upload_predictions(tmp_path / "p.csv", "model-id-1")
    assert fake_numerai.requests == []


@pytest.mark.parametrize(
    ("mode", "detail"),
    [
        ("empty", "answer has no 'data'"),
        ("missing_fields", "missing field 'listDatasets'"),
        ("not_json", "answer is not JSON"),
    ],
)
def test_malformed_answers(
    client: NumeraiClient, fake_numerai: FakeNumerai, mode: str, detail: str
) -> None:
    fake_numerai.faults.malformed = mode  # type: ignore[assignment]
    with pytest.raises(NumeraiApiError, match=f"list_datasets gave a malformed answer: {detail}"):
        client.list_datasets()


def test_graphql_error_is_named(client: NumeraiClient, tmp_path: Path) -> None:
    with pytest.raises(
        NumeraiApiError, match=r"returned an error: dataset v5.0/nope.json not found"
    ):
        client.download_dataset("v5.0/nope.json", tmp_path / "nope.json")


def test_secret_never_leaks(fake_numerai: FakeNumerai, caplog: pytest.LogCaptureFixture) -> None:
    secret = "wrong-but-still-secret-99"
    client = fake_numerai.client(secret_key=secret, max_retries=1, timeout_seconds=0.3)
    messages = [repr(client), str(client)]
    with caplog.at_level(logging.DEBUG):
        for fails, delay in [(0, 0.0), (100, 0.0), (0, 1.0)]:
            fake_numerai.faults.fail_next_n_with_500 = fails
            fake_numerai.faults.delay_seconds = delay
            with pytest.raises(NumeraiApiError) as info:
                client.get_models()
            messages += [str(info.value), repr(info.value)]
    assert "credentials=set" in messages[0]
    assert all(secret not in m for m in messages)
    assert secret not in caplog.text
