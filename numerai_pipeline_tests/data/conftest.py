"""Helpers for the data layer tests: small parquet writers and file damage."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def write_frame(path: Path, frame: pd.DataFrame, **kwargs) -> Path:
    """Write a pandas frame (index kept) to parquet."""
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=True), path, **kwargs)
    return path


def corrupt_column_chunk(path: Path, row_group: int, column: int) -> None:
    """Overwrite one column chunk's pages with garbage (the footer stays valid)."""
    chunk = pq.ParquetFile(path).metadata.row_group(row_group).column(column)
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    with open(path, "r+b") as f:
        f.seek(start)
        f.write(b"\xff" * chunk.total_compressed_size)


def truncate_half(path: Path) -> Path:
    """Cut a file in half, as an interrupted download would."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path
