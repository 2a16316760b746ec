"""User-facing errors: one clear line, mapped to an exit code by the CLI.

Every error a user can cause (a bad name or value, missing or corrupt data, an unusable
checkpoint, a busy cell, a diverged run) is raised as one of these classes with a message that
names the file or setting and says what to do; the CLI prints it as ``error: <message>`` on one
line (no traceback unless ``--debug``) and exits with ``exit_code``.
"""


class SurfBenchError(Exception):
    """An error caused by the user's input or environment; the CLI prints it as one line."""

    exit_code = 1


class UsageError(SurfBenchError):
    """Unknown name, bad override, wrong type: exit code 2 (like argparse/typer)."""

    exit_code = 2


class DataError(SurfBenchError):
    """Missing, empty, corrupt or malformed dataset files."""


class TrainingDiverged(SurfBenchError):
    """A NaN or infinite loss; the last good checkpoint is kept."""


class CellBusy(SurfBenchError):
    """Another process holds the lock of this cell."""


class CheckpointError(SurfBenchError):
    """A checkpoint that cannot be used: unreadable, truncated, written with other settings, or
    (for an initialising checkpoint such as MixIT's) missing or trained on another dataset."""


class Interrupted(SurfBenchError):
    """SIGTERM or Ctrl-C during training: the state was checkpointed; the same command resumes."""

    exit_code = 130


class ContractError(SurfBenchError):
    """A method plugin broke the Method contract (docs/plugins.md): wrong shape, dtype, non-finite or
    inconsistent estimates, found at the first batch before anything large is allocated."""


def short_error(exc: BaseException) -> str:
    """``Type: message`` on one line, at most about 200 characters, for one-line errors."""
    text = " ".join(str(exc).split())
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
