"""The int8 feature matrix the models train on: selected features plus engineered group features."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from numerai_pipeline.core.eras import in_era_order, sorted_eras
from numerai_pipeline.core.schema import (
    DATA_TYPE_COL,
    ERA_COL,
    FEATURE_PREFIX,
    MISSING_FEATURE,
    TARGET_COL,
    DatasetError,
    feature_columns,
    target_columns,
)
from numerai_pipeline.core.training_data import TrainingData
from numerai_pipeline.data.loading import (
    Source,
    era_quintiles,
    parquet_columns,
    read_features_json,
    read_numerai_era_chunks,
    read_numerai_parquet,
    read_numerai_rows,
)
from numerai_pipeline.data.sources import DatasetFiles
from numerai_pipeline.storage.atomic import atomic_path

ENGINEERED_PREFIX = FEATURE_PREFIX + "eng_"
SIZE_SETS = ("small", "medium", "all")
ROW_GROUP_BYTES = 64 * 2**20
"""About the int8 bytes of one written row group: a reader decodes a row group at once (pyarrow's
default of 1M rows is 2.4 GB of 2,400 features), and small ones let era filters skip data."""
CHUNK_BYTES = 256 * 2**20
"""About the int8 feature bytes of the labeled rows that `build_feature_matrix` converts and
writes at once (whole eras: engineered features are binned per era)."""


def row_group_rows(n_columns: int) -> int:
    """Rows per written row group for `n_columns` (mostly int8) columns."""
    return max(1024, ROW_GROUP_BYTES // max(n_columns, 1))


def is_feature_group(set_name: str) -> bool:
    """Whether a features.json feature set is a thematic group ("intelligence", "rain"), not a
    selection by size ("small", "medium", "all") or by equivalence to older releases
    ("v2_equivalent_features", "v3_equivalent_features", "fncv3_features")."""
    return set_name not in SIZE_SETS and not set_name.endswith("_features")


@dataclass(frozen=True)
class FeatureMatrix:
    """Where the feature matrix lives and what is in it (the asset's value; the data is on disk)."""

    labeled: Path
    live: Path
    features: list[str]
    engineered: list[str]
    targets: list[str]
    groups: dict[str, list[str]] = field(default_factory=dict)
    unresolved: Path | None = None
    """Features of the unresolved eras' rows (no targets yet), when there are any."""
    neutralizers: list[str] = field(default_factory=list)
    """The features predictions are neutralized against (`neutralizer_features`)."""
    main_target: str = TARGET_COL
    """The real name of the main target: the auxiliary column `target` copies (Numerai's v5.2
    `target_ender_20`), or `target` when none does."""

    @property
    def all_features(self) -> list[str]:
        return self.features + self.engineered


MAX_NEUTRALIZERS = 256
"""Neutralizing against every one of 2,400 features is a least-squares fit of 2,400 columns per era
of every candidate blend; past this many features a smaller set is taken."""


def neutralizer_features(features: list[str], sets: dict[str, list[str]]) -> list[str]:
    """The features to neutralize against: all of them up to `MAX_NEUTRALIZERS`; else
    features.json's `small` set (Numerai's most important features) where it has one, else an
    evenly spaced selection of `MAX_NEUTRALIZERS`."""
    if len(features) <= MAX_NEUTRALIZERS:
        return list(features)
    chosen = set(features)
    small = [f for f in sets.get("small", []) if f in chosen]
    if small:
        return small
    step = -(-len(features) // MAX_NEUTRALIZERS)
    return list(features[::step])


def select_feature_set(
    files: DatasetFiles, feature_set: str
) -> tuple[list[str], dict[str, list], list[str]]:
    """Feature names of `feature_set` ("all" = every feature column), the thematic groups of
    features.json restricted to them (groups with fewer than 2 chosen features are dropped) and
    the features to neutralize against."""
    available = feature_columns(parquet_columns(files.train))
    meta = read_features_json(files.features_json) if files.features_json else {}
    sets: dict[str, list[str]] = meta.get("feature_sets", {})
    if feature_set == "all":
        chosen = available
    elif feature_set in sets:
        present = set(available)
        chosen = [f for f in sets[feature_set] if f in present]
    else:
        raise DatasetError(
            f"feature set {feature_set!r} is not in features.json; "
            f"choose one of: all, {', '.join(sorted(sets))}"
        )
    if not chosen:
        raise DatasetError(f"feature set {feature_set!r} selects no feature columns of the data")
    chosen_set = set(chosen)
    groups = {
        name: [f for f in members if f in chosen_set]
        for name, members in sets.items()
        if is_feature_group(name) and len(set(members) & chosen_set) >= 2
    }
    return chosen, groups, neutralizer_features(chosen, sets)


def target_alias(targets: pd.DataFrame) -> str:
    """The auxiliary target column equal to `target` (NaN where it is NaN), else `target`."""
    main = targets[TARGET_COL].to_numpy()
    for name in targets.columns:
        if name != TARGET_COL and np.array_equal(targets[name].to_numpy(), main, equal_nan=True):
            return name
    return TARGET_COL


def group_features(frame: pd.DataFrame, groups: dict[str, list[str]]) -> pd.DataFrame:
    """Per-group mean and dispersion of each row, binned per era into int8 0..4.

    Features of a group are noisy views of one latent factor: their mean denoises it, their
    spread flags stocks on which the group disagrees. Missing values (-1) are left out.
    """
    eras = frame[ERA_COL].to_numpy()
    columns = {}
    for name, members in sorted(groups.items()):
        block = frame[members].to_numpy(dtype=np.float32)
        block[block == MISSING_FEATURE] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nan_to_num(np.nanmean(block, axis=1), nan=2.0)
            spread = np.nan_to_num(np.nanstd(block, axis=1), nan=0.0)
        columns[f"{ENGINEERED_PREFIX}{name}_mean"] = era_quintiles(mean, eras)
        columns[f"{ENGINEERED_PREFIX}{name}_spread"] = era_quintiles(spread, eras)
    return pd.DataFrame(columns, index=frame.index)


def _labeled_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with a resolved main target that are not live (copies only when something drops)."""
    keep = frame[TARGET_COL].notna().to_numpy()
    if DATA_TYPE_COL in frame:
        keep &= (frame[DATA_TYPE_COL] != "live").to_numpy()
    return frame if keep.all() else frame[keep]


def _to_table(frame: pd.DataFrame, columns: list[str], groups: dict[str, list[str]]) -> pa.Table:
    """The frame's `columns` (absent ones as NaN) plus engineered group features, as arrow."""
    for column in columns:
        if column not in frame:
            frame[column] = np.float32(np.nan) if column != DATA_TYPE_COL else ""
    table = pa.Table.from_pandas(frame[columns] if list(frame.columns) != columns else frame)
    for name, values in group_features(frame, groups).items():
        table = table.append_column(name, pa.array(values.to_numpy()))
    return table


def build_feature_matrix(
    files: DatasetFiles,
    dest: Path,
    *,
    eras: Sequence[str],
    feature_set: str = "all",
    engineer: bool = True,
    unresolved_eras: Sequence[str] = (),
) -> FeatureMatrix:
    """Read the chosen features and targets of labeled `eras`, and the features of live and of
    `unresolved_eras` (rows whose targets have not resolved), and write them as int8 parquet.

    The labeled rows are read, extended and appended to the output in chunks of whole eras
    (`CHUNK_BYTES`), from one scan of each file: peak memory is a few chunks, not the data.
    """
    features, groups, neutralizers = select_feature_set(files, feature_set)
    groups = groups if engineer else {}
    targets = target_columns(parquet_columns(files.train))
    if TARGET_COL not in targets:
        raise DatasetError(f"{files.train} has no `target` column; it cannot be used for training")
    columns = [ERA_COL, DATA_TYPE_COL, *features, *targets]
    paths = {name: dest / f"{name}.parquet" for name in ("labeled", "live", "unresolved")}
    rows, main_target = 0, None
    engineered = [
        f"{ENGINEERED_PREFIX}{g}_{kind}" for g in sorted(groups) for kind in ("mean", "spread")
    ]
    with atomic_path(paths["labeled"]) as tmp:
        writer = None
        for path in (files.train, files.validation):
            present = set(target_columns(parquet_columns(path)))
            if TARGET_COL not in present:
                continue
            wanted = features + [t for t in targets if t in present]
            max_rows = max(CHUNK_BYTES // len(wanted), 1)  # wanted holds `target` at least
            for chunk in read_numerai_era_chunks(path, wanted, list(eras), max_rows):
                main_target = main_target or target_alias(chunk.values)
                table = _to_table(_labeled_rows(chunk.to_frame()), columns, groups)
                del chunk
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table.cast(writer.schema), row_group_rows(table.num_columns))
                rows += table.num_rows
                del table
        if writer is not None:
            writer.close()
        if rows == 0:
            raise DatasetError("no labeled rows in the selected eras; check the era selection")
    _write_features(
        read_numerai_parquet(files.live, columns=features), features, groups, paths["live"]
    )
    unresolved = None
    if unresolved_eras:
        frame = read_numerai_parquet(files.validation, columns=features, eras=list(unresolved_eras))
        if len(frame):
            unresolved = _write_features(frame, features, groups, paths["unresolved"])
    if unresolved is None:
        paths["unresolved"].unlink(missing_ok=True)  # an earlier build's, now stale
    return FeatureMatrix(
        paths["labeled"],
        paths["live"],
        features,
        engineered,
        targets,
        groups,
        unresolved,
        neutralizers,
        main_target or TARGET_COL,
    )


def _write_features(
    frame: pd.DataFrame, features: list[str], groups: dict[str, list[str]], path: Path
) -> Path:
    """Write unlabeled rows (era, data type, features, engineered features) to `path`."""
    columns = [c for c in (ERA_COL, DATA_TYPE_COL) if c in frame] + features
    return _write_table(_to_table(frame, columns, groups), path)


def _write_table(table: pa.Table, path: Path) -> Path:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, row_group_size=row_group_rows(table.num_columns))
    return path


def load_training_data(
    matrix: FeatureMatrix, eras: Sequence[str] | None = None, features: list[str] | None = None
) -> TrainingData:
    """Labeled rows of `eras` (all when None) as int8 arrays, sorted by era; `features` picks
    columns (default: every feature, engineered ones included)."""
    features = matrix.all_features if features is None else features
    rows = read_numerai_rows(
        matrix.labeled, columns=features + matrix.targets, eras=list(eras) if eras else None
    )
    block = rows.features  # the int8 block as read: no second copy
    targets = rows.values.to_numpy(dtype=np.float32)  # the targets as read: a view, no copy
    eras = rows.labels[ERA_COL].to_numpy(dtype=object)
    ids = rows.labels.index.to_numpy(dtype=object)
    if not in_era_order(eras):  # rows are written in era order: reorder only if needed
        order = np.argsort(pd.Categorical(eras, categories=sorted_eras(eras)).codes, kind="stable")
        block, targets, eras, ids = block[order], targets[order], eras[order], ids[order]
    return TrainingData(
        features=block,
        targets=targets,
        eras=eras,
        feature_names=features,
        target_names=matrix.targets,
        ids=ids,
    )


def live_feature_table(
    features: list[str], groups: dict[str, list[str]], source: Source
) -> pa.Table:
    """Unlabeled rows (a file, or rows in memory) as the model features: `era` (and
    `data_type`), the int8 `features` and the engineered group features binned within each
    era, by id. The one conversion of live rows, whether the pipeline or a model-upload
    `predict` makes it."""
    frame = read_numerai_parquet(source, columns=features)
    return _to_table(frame, [c for c in (ERA_COL, DATA_TYPE_COL) if c in frame] + features, groups)


def build_live_features(matrix: FeatureMatrix, live: Path, dest: Path) -> Path:
    """The feature matrix's features of a live file's rows (int8, engineered features included,
    binned within the live era), written to `dest`."""
    return _write_table(live_feature_table(matrix.features, matrix.groups, live), dest)


def load_live_features(matrix: FeatureMatrix, path: Path | None = None) -> pd.DataFrame:
    """Live rows (the feature matrix's own, or those `build_live_features` wrote to `path`): the
    model features (int8) and `era`, indexed by id."""
    return read_numerai_parquet(path or matrix.live, columns=matrix.all_features)


def load_unlabeled_features(matrix: FeatureMatrix) -> np.ndarray:
    """int8 features (engineered included) of every row without a target: live rows, then the
    unresolved eras' rows."""
    paths = [matrix.live] + ([matrix.unresolved] if matrix.unresolved else [])
    blocks = [read_numerai_rows(p, columns=matrix.all_features).features for p in paths]
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
