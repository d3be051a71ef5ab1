"""What was known at each era: the regime information a model can read from the sequence of eras.

Rows cannot be followed from era to era (ids are new every week), but eras can. For every era the
table holds a summary of its features (per feature group, how strongly the group's features moved
together across stocks that week, and the share of missing values: Numerai bins each feature per
era, so a feature's own mean and spread say nothing) and, for eras whose targets have resolved,
the per-era correlation of each feature with the main target. The step of the sequence at era e
carries e's summary and the correlations of the latest era at least one target span before e:
a target of era e' is known from era e' + span on, never earlier.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from numerai_pipeline.core.eras import era_runs, era_sort_key, sorted_eras
from numerai_pipeline.core.schema import ERA_COL, TARGET_COL, ordinal_values
from numerai_pipeline.core.targets import target_span_eras
from numerai_pipeline.core.training_data import TrainingData
from numerai_pipeline.data.loading import read_numerai_era_chunks, read_numerai_rows
from numerai_pipeline.features.engineering import FeatureMatrix
from numerai_pipeline.features.screening import per_era_feature_corr

SUMMARY_GROUPS = 16
"""Contiguous feature blocks summarised when the data names no feature groups."""


def summary_groups(feature_names: list[str], groups: dict[str, list[str]]) -> list[list[int]]:
    """Column indices of the groups whose co-movement is summarised: the named groups (from
    features.json), else `SUMMARY_GROUPS` contiguous blocks of the columns."""
    position = {name: i for i, name in enumerate(feature_names)}
    named = [[position[f] for f in members if f in position] for members in groups.values()]
    named = [g for g in named if len(g) >= 2]
    if named:
        return named
    blocks = np.array_split(np.arange(len(feature_names)), min(SUMMARY_GROUPS, len(feature_names)))
    return [b.tolist() for b in blocks if len(b)]


def era_summary(features: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """(G + 1,) float32 summary of one era's int8 rows: per group the cross-sectional variance
    of the row's mean ordinal value over the group (the mean pairwise covariance of its
    features: high when they move together), then the share of missing values."""
    values = ordinal_values(features)
    moves = [values[:, g].mean(axis=1).var() for g in groups]
    return np.array(moves + [float((features < 0).mean())], dtype=np.float32)


@dataclass(frozen=True)
class EraContext:
    """Per era (chronological): `summaries` (E, S) and `correlations` (E, F) with the main target
    (NaN rows: not resolved, or no target), `numbers` in weeks, and `span` the eras a target takes
    to resolve. `groups` are the summaries' column groups (to summarise new eras)."""

    eras: tuple[str, ...]
    numbers: np.ndarray
    summaries: np.ndarray
    correlations: np.ndarray
    groups: list[list[int]]
    span: int

    @property
    def n_inputs(self) -> int:
        """Width of one step of a sequence: summary, lagged correlations, a resolved flag."""
        return self.summaries.shape[1] + self.correlations.shape[1] + 1

    def step_inputs(self) -> np.ndarray:
        """(E, n_inputs): each era's summary, the correlations of the latest resolved era at
        least `span` before it (0 when none) and 1 if there is one."""
        resolved = np.flatnonzero(~np.isnan(self.correlations).all(axis=1))
        where = np.searchsorted(self.numbers[resolved], self.numbers - self.span, side="right") - 1
        lagged = np.zeros(self.correlations.shape, np.float32)
        known = where >= 0
        lagged[known] = np.nan_to_num(self.correlations[resolved[where[known]]])
        return np.hstack([self.summaries, lagged, known[:, None].astype(np.float32)])

    def sequences(self, eras: list[str], steps: int) -> np.ndarray:
        """(len(eras), steps, n_inputs): for each era the inputs of the `steps` latest table eras
        up to it, oldest first, zero-padded at the start; every era must be in the table."""
        inputs, position = self.step_inputs(), {e: i for i, e in enumerate(self.eras)}
        out = np.zeros((len(eras), steps, self.n_inputs), np.float32)
        for k, era in enumerate(eras):
            end = position[era] + 1
            window = inputs[max(0, end - steps) : end]
            out[k, steps - len(window) :] = window
        return out

    def extended(self, features: np.ndarray, eras: np.ndarray) -> EraContext:
        """The table with the eras of these rows that it lacks (live, newer eras) appended,
        summarised from the rows, without correlations; a non-numeric era label (live's "X")
        counts as the week after the table's last era."""
        new = [e for e in sorted_eras(np.unique(eras)) if e not in set(self.eras)]
        if not new:
            return self
        last = int(self.numbers[-1]) if len(self.numbers) else 0
        numbers = week_numbers(new, after=last)
        summaries = [era_summary(features[eras == e], self.groups) for e in new]
        return EraContext(
            self.eras + tuple(new),
            np.concatenate([self.numbers, numbers]).astype(np.int64),
            np.vstack([self.summaries, summaries]),
            np.vstack([self.correlations, np.full((len(new), self.correlations.shape[1]), np.nan)]),
            self.groups,
            self.span,
        )


def week_numbers(ordered: list[str], after: int = 0) -> np.ndarray:
    """Era numbers of chronologically ordered labels; a non-numeric label (live's "X") counts as
    the week after the last numbered era (or after `after`)."""
    last = max([int(e) for e in ordered if str(e).isdigit()] + [after])
    extra = iter(range(last + 1, last + 1 + len(ordered)))
    return np.array([int(e) if str(e).isdigit() else next(extra) for e in ordered], np.int64)


def build_era_context(
    chunks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    groups: list[list[int]],
    span: int,
) -> EraContext:
    """The table of the eras of `chunks`: (int8 features, main target with NaN = unresolved, era
    labels) of whole eras, each era one run of rows; one chunk at a time in memory."""
    labels: list[str] = []
    summaries, correlations = [], []
    for features, target, eras in chunks:
        runs = era_runs(eras)
        labels += [str(eras[run.start]) for run in runs]
        summaries += [era_summary(features[run], groups) for run in runs]
        corr_eras, corr = per_era_feature_corr(features, target, eras, deviation=False)
        by_era = dict(zip(corr_eras, corr.astype(np.float32), strict=True))
        correlations += [by_era[str(eras[run.start])] for run in runs]
    order = sorted(range(len(labels)), key=lambda i: era_sort_key(labels[i]))
    ordered = [labels[i] for i in order]
    if len(set(ordered)) < len(ordered):
        raise ValueError("an era appears in two chunks: pass whole eras, each once")
    return EraContext(
        tuple(ordered),
        week_numbers(ordered),
        np.stack([summaries[i] for i in order]),
        np.stack([correlations[i] for i in order]),
        groups,
        span,
    )


def era_context_of(matrix: FeatureMatrix) -> EraContext:
    """The table of every era of the feature matrix, read a chunk of eras at a time: the labeled
    eras (their main target gives the correlations), then the unresolved and live eras."""
    features = matrix.all_features
    groups = summary_groups(features, matrix.groups)

    def chunks() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        for rows in read_numerai_era_chunks(
            matrix.labeled, features + [TARGET_COL], row_major=True
        ):
            target = rows.values[TARGET_COL].to_numpy(dtype=np.float32)
            yield rows.features, target, rows.labels[ERA_COL].to_numpy(dtype=object)
        for path in (matrix.unresolved, matrix.live):
            if path is not None:
                rows = read_numerai_rows(path, columns=features)
                target = np.full(len(rows.features), np.nan, np.float32)
                yield rows.features, target, rows.labels[ERA_COL].to_numpy(dtype=object)

    return build_era_context(chunks(), groups, target_span_eras(TARGET_COL))


def era_context_of_rows(data: TrainingData, groups: dict[str, list[str]]) -> EraContext:
    """The table of the eras of rows already in memory (in era order), one era at a time."""
    chunks = (
        (data.features[run], data.main_target[run], data.eras[run]) for run in era_runs(data.eras)
    )
    span = target_span_eras(data.target_names[0])
    return build_era_context(chunks, summary_groups(data.feature_names, groups), span)
