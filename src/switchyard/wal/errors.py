"""The WAL's exception tree: what a caller of the journal, a reader or recovery may catch.

Corruption and fatal write errors are operating errors with a clear message naming the file
and offset (STYLE 2.5); a broken invariant is an `assert`, never one of these.
"""


class WALError(Exception):
    """Base of every error the WAL raises on purpose."""


class WALCorruption(WALError):
    """The log cannot be trusted at `file`:`offset`; recovery refuses to start (DESIGN §4)."""

    def __init__(self, file: str, offset: int, reason: str, *, intact: bool = False) -> None:
        super().__init__(f"WAL corrupt at {file} offset {offset}: {reason}")
        self.file = file
        self.offset = offset
        self.reason = reason
        self.intact = intact  # checksums hold but content is wrong: never a torn write


class WALLocked(WALError):
    """Another writer (a live gateway or its exiting writer process) holds the WAL lock."""


class JournalError(WALError):
    """The journal cannot accept or persist records (fatal write/fsync error, or closed)."""


class JournalFatal(JournalError):
    """A write or sync failed: nothing after the last durable seq was acknowledged."""
