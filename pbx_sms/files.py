"""Files pbx-sms creates (the SQLite database, the log gateway's file): never open to other users.

They hold phone numbers, message texts and (SQLite) the rules and the outbox. The umask alone does
not protect them: SQLite creates its database with 0644 filtered by the umask (world-readable under
the usual 022, world-writable under 000), and copies that mode onto its -wal, -shm and -journal
files. So a file is created here with an explicit mode, and one found open to others (left by an
older release, or created by hand) loses those bits when pbx-sms opens it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TextIO

# Owner and group (the daemon's own group: the unit's UMask=0007 keeps it), never others; a stricter
# umask narrows it further.
CREATED_FILE_MODE = 0o660
OTHERS_BITS = stat.S_IRWXO


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty with ``CREATED_FILE_MODE`` unless it exists; True when it was created here.

    An existing file open to others is restricted (``restrict_file``). Errors (a missing directory, no
    permission) are left to the caller's own open, which reports them in its terms.
    """
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, CREATED_FILE_MODE)
    except FileExistsError:
        restrict_file(path)
        return False
    except OSError:
        return False
    os.close(handle)
    return True


def open_private_append(path: Path) -> TextIO:
    """``path`` opened for appending text, created with ``CREATED_FILE_MODE``; OSError as ``open`` raises it."""
    handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, CREATED_FILE_MODE)
    try:
        restrict_file(path, handle)
        return os.fdopen(handle, "a", encoding="utf-8")
    except BaseException:
        os.close(handle)
        raise


def restrict_file(path: Path, handle: int | None = None) -> None:
    """Take other users' bits off a file this process owns; a file of another user is left as it is."""
    try:
        status = os.fstat(handle) if handle is not None else os.stat(path)
        if status.st_mode & OTHERS_BITS and status.st_uid == os.geteuid():
            mode = stat.S_IMODE(status.st_mode) & ~OTHERS_BITS
            if handle is not None:
                os.fchmod(handle, mode)
            else:
                os.chmod(path, mode)
    except OSError:
        pass
