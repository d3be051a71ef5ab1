"""Checks across a dataset's files, run before anything is trained on them: era labels are numbers
and in order (train < validation < live), no era label is shared between files, live ids are new,
features.json names the files' features, the meta-model file belongs to the validation data. And
what is accepted but worth a word: eras too small to use, feature values read as missing."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from numerai_pipeline.core.eras import sorted_eras
from numerai_pipeline.core.schema import ID_COL, DatasetError, feature_columns
from numerai_pipeline.data.eras import MIN_ERA_ROWS
from numerai_pipeline.data.loading import parquet_columns, read_features_json
from numerai_pipeline.data.reference_models import read_meta_model
from numerai_pipeline.data.sources import DatasetFiles
from numerai_pipeline.data.validation import CONTINUOUS_NOTE, CheckResult, FileScan


def _era_problems(scans: dict[str, FileScan]) -> list[str]:
    """Non-numeric labels in train/validation, labels shared between files, eras out of order."""
    labels = {name: [e for e in scan.tally.era_rows if e] for name, scan in scans.items()}
    problems = []
    for name in ("train", "validation"):
        odd = [e for e in labels.get(name, []) if not str(e).isdigit()]
        if odd:
            problems.append(
                f"{len(odd)} era labels of {name}.parquet are not numbers (e.g. {odd[0]!r}); "
                'eras are numbered weeks ("0001", 1 or "era1"), or a CV fold would score them '
                "out of order"
            )
    names = list(labels)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = sorted_eras(set(labels[first]) & set(labels[second]))
            if shared:
                problems.append(
                    f"{len(shared)} era labels appear in both {first}.parquet and "
                    f"{second}.parquet (e.g. {shared[0]}); their rows would be merged into one era"
                )
    numbers = {n: [int(e) for e in ls if str(e).isdigit()] for n, ls in labels.items()}
    for earlier, later in (("train", "validation"), ("validation", "live"), ("train", "live")):
        if (
            numbers.get(earlier)
            and numbers.get(later)
            and max(numbers[earlier]) >= min(numbers[later])
        ):
            problems.append(
                f"{later}.parquet has eras (from {min(numbers[later]):04d}) before the last era of "
                f"{earlier}.parquet ({max(numbers[earlier]):04d}); eras must go train < "
                "validation < live"
            )
    return problems


def _live_id_problems(scans: dict[str, FileScan], live_path) -> list[str]:
    """Live ids that also identify train or validation rows."""
    known = np.concatenate([scans[n].id_hashes for n in ("train", "validation") if n in scans])
    live = pq.read_table(live_path, columns=[ID_COL])[ID_COL].to_numpy(zero_copy_only=False)
    reused = np.isin(pd.util.hash_array(live.astype(object)), known)
    if not reused.any():
        return []
    return [
        f"{int(reused.sum())} live ids are also train or validation ids (e.g. "
        f"{live[reused][0]!r}); live rows are this round's stocks, each with a new id"
    ]


def _features_json_problems(files: DatasetFiles) -> list[str]:
    """Feature names of features.json that train.parquet lacks."""
    if files.features_json is None:
        return []
    sets = read_features_json(files.features_json)["feature_sets"]
    present = set(feature_columns(parquet_columns(files.train)))
    named = {f for members in sets.values() for f in members}
    absent = sorted(named - present)
    if not absent:
        return []
    return [
        f"features.json names {len(absent)} features that train.parquet lacks (e.g. "
        f"{absent[0]!r}); the two come from different data versions"
    ]


def _meta_model_problems(files: DatasetFiles, scans: dict[str, FileScan]) -> list[str]:
    """A meta-model file that cannot be read or shares no ids with the validation data."""
    if files.meta_model is None:
        return []
    try:
        meta = read_meta_model(files.meta_model)
    except DatasetError as exc:
        return [str(exc)]
    validation = scans.get("validation")
    if validation is not None and len(meta):
        hashes = pd.util.hash_array(meta.index.to_numpy(dtype=object))
        if not np.isin(hashes, validation.id_hashes).any():
            return [
                f"{files.meta_model} shares no ids with validation.parquet: it belongs to "
                "another data version"
            ]
    return []


def check_consistency(files: DatasetFiles, scans: dict[str, FileScan], remedy: str) -> CheckResult:
    """The checks across files (the module docstring), on files each readable on its own."""
    readable = {name: scan for name, scan in scans.items() if scan.readable}
    problems = _era_problems(readable) + _features_json_problems(files)
    problems += _meta_model_problems(files, readable)
    if "live" in readable and ("train" in readable or "validation" in readable):
        problems += _live_id_problems(readable, files.live)
    if problems:
        return CheckResult("consistent", False, f"{files.root}: {'; '.join(problems)}: {remedy}")
    return CheckResult("consistent", True, "eras in order, files agree with each other")


def dataset_notes(scans: dict[str, FileScan]) -> CheckResult:
    """What is accepted but worth a word: eras with fewer than `MIN_ERA_ROWS` labeled rows (left
    out of training and scoring), continuous features (binned when read) and feature values read
    as missing."""
    notes = []
    labeled: Counter = Counter()
    for scan in scans.values():
        labeled.update(scan.tally.labeled_era_rows)
    small = sorted_eras([era for era, n in labeled.items() if era and n < MIN_ERA_ROWS])
    if small:
        notes.append(
            f"{len(small)} eras have fewer than {MIN_ERA_ROWS} labeled rows and are left out of "
            f"training and scoring: {', '.join(small[:5])}{' ...' if len(small) > 5 else ''}"
        )
    continuous = [name for name, scan in scans.items() if scan.tally.continuous]
    if continuous:
        notes.append(
            f"{', '.join(f'{n}.parquet' for n in continuous)}: features are {CONTINUOUS_NOTE}"
        )
    for name, scan in scans.items():
        if scan.tally.missing_values:
            notes.append(
                f"{name}.parquet: {scan.tally.missing_values} feature values are -1 or NaN and are "
                "read as missing (Numerai itself stores a missing feature as the middle bin, 2)"
            )
    return CheckResult("notes", not notes, "; ".join(notes) or "nothing to note")
