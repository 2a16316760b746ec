"""User-facing errors: one clear line, mapped to an exit code by the CLI."""


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
