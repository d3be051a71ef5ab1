"""What a person sees on the console: Dagster's event log without tracebacks (unless the log level
is DEBUG), and, when a run fails, why, in the words of the check or error that stopped it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dagster import AssetCheckSeverity, Field, logger
from dagster._loggers import create_console_logger
from dagster._utils.log import coerce_valid_log_level

USER_ERRORS = {
    "DatasetError",
    "SubmissionError",
    "RoundClosedError",
    "NumeraiApiError",
    "NumeraiAuthError",
}
"""Errors whose message already says what is wrong and what to do: shown without their class."""


class _WithoutTracebacks(logging.Filter):
    """Dagster appends an error's traceback to a failure's log line: keep the line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and isinstance(record.msg, str):
            record.msg = record.msg.split("\n\n", 1)[0]
        return True


@logger(
    {
        "log_level": Field(str, is_required=False, default_value="INFO"),
        "name": Field(str, is_required=False, default_value="dagster"),
    },
    description="Dagster's colored console logger; failures without tracebacks unless DEBUG.",
)
def console_logger(init_context) -> logging.Logger:
    level = coerce_valid_log_level(init_context.logger_config["log_level"])
    console = create_console_logger(name=init_context.logger_config["name"], level=level)
    if level > logging.DEBUG:
        for handler in console.handlers:
            handler.addFilter(_WithoutTracebacks())
    return console


@dataclass(frozen=True)
class Failure:
    """Why a run stopped: where, and the message that says what to do."""

    where: str
    message: str
    user_error: bool


def _root_cause(error) -> tuple[str, str]:
    """(class name, message) of the innermost cause of a serialized error."""
    while error.cause is not None:
        error = error.cause
    return error.cls_name or "", error.message.strip()


def run_failures(result) -> list[Failure]:
    """The failed blocking checks and failed steps of an in-process run's result."""
    failures = [
        Failure(
            f"{evaluation.asset_key.to_user_string()} check {evaluation.check_name}",
            evaluation.description or "failed",
            True,
        )
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed and evaluation.blocking
    ]
    for event in result.get_step_failure_events():
        cls_name, message = _root_cause(event.step_failure_data.error)
        if cls_name == "DagsterAssetCheckFailedError" and failures:
            continue  # the check's own message is above
        user = cls_name in USER_ERRORS
        text = message if user else f"{cls_name}: {message}"
        failures.append(
            Failure(
                event.step_key or "run", text.removeprefix(f"{cls_name}: ") if user else text, user
            )
        )
    return failures


def describe_failures(stage: str, run_id: str, failures: list[Failure]) -> str:
    """The lines printed last when a stage fails: where, then each message."""
    lines = [
        f"numerai-pipeline: stage '{stage}' failed (Dagster run {run_id}; `make ui` shows its log)."
    ]
    if any(not f.user_error for f in failures):
        lines.append("An unexpected error: rerun with --log-level DEBUG for its traceback.")
    lines += [f"{f.where}: {f.message}" for f in failures]
    return "\n".join(lines)


def run_notes(result) -> list[str]:
    """The messages of checks that failed with WARN severity: accepted, but worth a word."""
    return [
        f"note ({evaluation.asset_key.to_user_string()} {evaluation.check_name}): "
        f"{evaluation.description}"
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
    ]
