"""Errors that reach the user as one clear line, with the exit code of DESIGN §10."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_WARNINGS = 3
EXIT_TEMPORARY = 75


class ClaimbackError(Exception):
    """An expected failure: the CLI prints the message (no traceback) and exits with `exit_code`."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class BadInput(ClaimbackError):
    """The user pointed us at something we cannot read or use (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class LedgerError(ClaimbackError):
    """The ledger cannot be opened, written or migrated."""
