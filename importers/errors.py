"""Result and error types shared by every importer."""

from __future__ import annotations

from dataclasses import dataclass, field

from importers.record import Record


class ImportFormatError(Exception):
    """The file as a whole cannot be read (empty, unknown format, wrong format forced).

    Attributes:
        filename: The uploaded file's name.
        line: The 1-based line where reading failed, or None when no line applies.
        reason: What is wrong, in words a reviewer understands.
    """

    def __init__(self, filename: str, reason: str, line: int | None = None) -> None:
        self.filename = filename
        self.line = line
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.filename}, line {self.line}" if self.line else self.filename
        return f"{where}: {self.reason}"

    def __reduce__(self) -> tuple[type, tuple[str, str, int | None]]:
        # Keep the error picklable (jobs may ship it between processes).
        return (self.__class__, (self.filename, self.reason, self.line))


class PdfError(ImportFormatError):
    """A PDF cannot give its text (encrypted, corrupt, or scanned images only)."""


@dataclass
class Problem:
    """One record that could not be read; the rest of the file still imports."""

    locator: str
    reason: str


@dataclass
class ParseResult:
    """What `importers.parse` returns.

    ``columns`` and ``mapping`` are filled for tabular input only: the file's column names and
    the column -> Record field mapping used, so a UI can show it and re-parse with a fix.
    """

    format: str
    encoding: str
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
