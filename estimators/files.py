"""Writing a file whole or not at all: what every command that writes a result uses."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from spaces.errors import NasError


def write_atomically(path: str | os.PathLike, write: Callable[[str], None], *, what: str = "") -> Path:
    """Call ``write(temp_path)`` on a temp file beside ``path``, then rename it into place.

    A reader never sees a half-written file, and a failure leaves the old file
    (if any) untouched and no temp file behind; it raises one clear NasError.
    """
    target = Path(path)
    label = f"{what} {target}" if what else str(target)
    if not target.parent.is_dir():
        raise NasError(f"cannot write {label}: folder {target.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())  # on disk before the rename makes it the file
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; a result file gets the usual permissions
        os.replace(tmp, target)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise NasError(f"cannot write {label}: {error.strerror or error}{disk_full_note(target.parent)}") from None
    except BaseException:  # interrupted, or the writer failed: no temp file stays behind
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def disk_full_note(path: str | os.PathLike, needed: int = 1 << 20) -> str:
    """``"; the disk holding PATH is full (N bytes free) ..."`` when it has less than ``needed`` free, else ``""``.

    LMDB and HDF5 report a full disk as a bare I/O error; this says what it is.
    """
    import shutil

    folder = Path(path)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return ""
    if free >= needed:
        return ""
    return f"; the disk holding {path} is full ({free:,} bytes free): free space and re-run the same command to resume"


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current
