"""Every path a command reads or writes, checked in one place; and writing a file whole or not at all.

The rules hold for every command because every command goes through these
functions: an empty path, a path that is a folder where a file is needed (or
the other way round), a device, a pipe or a symbolic link where a result would
go, a name too long for the file system and a folder that is not writable are
each refused with one line naming the option and the path, before any work.
A result is written to a temporary file beside its target and renamed over
it, so it is whole or absent; a target that is not a regular file is never
replaced.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from spaces.errors import NasError, RunFailure

#: Longest file name most file systems take (ext4, XFS, APFS, NTFS: 255 bytes or characters).
MAX_NAME_BYTES = 255
#: Names that go into file names (study names): at most this long once made safe, so a suffix still fits.
MAX_SAFE_NAME = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def kind_of(path: Path) -> str:
    """What is at ``path``, in words (for messages): a regular file, a folder, a symbolic link, a device..."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return "missing"
    for test, words in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a pipe"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return words
    return "not a regular file"


def _label(option: str, path: object) -> str:
    """``"--out x"``, or ``"x"`` alone where the option is named elsewhere (argparse's ``argument --out:``)."""
    return f"{option} {path}" if option else str(path)


def _non_empty(path: str | os.PathLike, option: str, example: str) -> Path:
    text = os.fspath(path)
    if not str(text).strip():
        raise NasError(f"{option or 'the path'} is empty; give a path, e.g. {example}")
    if "\x00" in str(text):
        raise NasError(f"{_label(option, repr(text))} holds a NUL character; give a plain path")
    _name_fits(Path(text), option)  # before any stat: a too-long name makes even exists() raise
    return Path(text)


def _writable_folder(folder: Path, option: str, target: Path, *, probe: bool = True) -> None:
    """The nearest existing folder at or above ``folder`` is a folder we may write in."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise NasError(f"{_label(option, target)}: {existing} is {kind_of(existing)}, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK) or (probe and not can_create_in(existing)):
        raise NasError(
            f"{_label(option, target)}: folder {existing} is not writable (read-only or no permission); "
            "give a path in a folder you can write"
        )


def can_create_in(folder: Path) -> bool:
    """Whether a file can really be made in ``folder`` (a probe made and removed at once): ``os.access`` says yes
    to root on a read-only mount, /proc or /sys, where every later write would fail after the work was done."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".nas-probe-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


def _name_fits(target: Path, option: str) -> None:
    for part in target.parts:
        if len(os.fsencode(part)) > MAX_NAME_BYTES:
            raise NasError(
                f"{option or 'path'}: the name {part[:40]!r}... is {len(os.fsencode(part))} bytes; "
                f"file systems take at most {MAX_NAME_BYTES}"
            )


def output_file(
    path: str | os.PathLike, *, option: str = "--out", example: str = "result.json", probe: bool = True
) -> Path:
    """Check that a result may be written to ``path``: new or a regular file, in an existing writable folder.

    ``probe``: make and remove a file there to be sure (False where the caller's own temp file is the probe).
    """
    target = _non_empty(path, option, example)
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise NasError(
            f"{_label(option, target)} is {kind_of(target)}, not a regular file; it is never replaced: "
            "give the path of a new or regular file"
        )
    parent = target.parent
    if not parent.exists():
        raise NasError(
            f"{_label(option, target)}: folder {parent} does not exist; create it first or give another path"
        )
    _writable_folder(parent, option, target, probe=probe)
    return target


def output_folder(path: str | os.PathLike, *, option: str = "--out", example: str = "results") -> Path:
    """Check that results may go into the folder ``path`` (created later, with its parents, where missing)."""
    target = _non_empty(path, option, example)
    if target.exists() and not target.is_dir():
        raise NasError(f"{_label(option, target)} is {kind_of(target)}; give a folder (new or existing)")
    _writable_folder(target, option, target)
    return target


def _readable(path: str | os.PathLike, option: str, example: str, missing: str, folder: bool) -> Path:
    """An existing, readable file or folder (``folder``); ``missing`` says how to make one that does not exist."""
    source = _non_empty(path, option, example)
    if not source.exists():
        raise NasError(
            f"{_label(option, source)} does not exist" + (f"; {missing.format(path=source)}" if missing else "")
        )
    if not (source.is_dir() if folder else source.is_file()):
        wanted = "folder" if folder else "file"
        raise NasError(f"{_label(option, source)} is {kind_of(source.resolve())}, not a {wanted}; give a {wanted}")
    if not os.access(source, os.R_OK | (os.X_OK if folder else 0)):
        raise NasError(f"{_label(option, source)} is not readable (no permission)")
    return source


def input_file(path: str | os.PathLike, *, option: str, example: str = "file", missing: str = "") -> Path:
    """Check that ``path`` is a readable regular file (or a symbolic link to one); ``missing`` says how to make one."""
    return _readable(path, option, example, missing, folder=False)


def input_folder(path: str | os.PathLike, *, option: str, example: str = "folder", missing: str = "") -> Path:
    """Check that ``path`` is a readable folder (or a symbolic link to one); ``missing`` says how to make one."""
    return _readable(path, option, example, missing, folder=True)


def safe_file_name(name: str) -> str:
    """``name`` (a study name from a shared ledger) made safe to put in a file name.

    Slashes, dots at the start, control characters, spaces and anything else
    outside ``A-Za-z0-9._+-`` become ``_``; a long name is cut and given a short
    digest of the whole, so two names never share a file and nothing escapes the
    output folder.
    """
    safe = _UNSAFE.sub("_", name).lstrip(".") or "_"
    if safe == name and len(safe) <= MAX_SAFE_NAME:
        return safe
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{safe[: MAX_SAFE_NAME - 9]}-{digest}"


def write_atomically(path: str | os.PathLike, write: Callable[[str], None], *, what: str = "") -> Path:
    """Call ``write(temp_path)`` on a temp file beside ``path``, then rename it into place.

    A reader never sees a half-written file, and a failure leaves the old file
    (if any) untouched and no temp file behind; it raises one clear NasError.
    """
    target = output_file(path, option=what or "output", probe=False)  # the mkstemp below is the probe
    label = f"{what} {target}" if what else str(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:100]}.", suffix=target.suffix[:20], dir=target.parent)
    except OSError as error:
        raise NasError(f"cannot write {label}: {_reason(error)}{disk_full_note(target.parent)}") from None
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())  # on disk before the rename makes it the file
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; a result file gets the usual permissions
        os.replace(tmp, target)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        failure = RunFailure if error.errno in _RUN_TIME_ERRNOS else NasError
        raise failure(f"cannot write {label}: {_reason(error)}{disk_full_note(target.parent)}") from None
    except BaseException:  # interrupted, or the writer failed: no temp file stays behind
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


#: Write failures that are not the path's fault (a full disk or quota, an I/O error): exit 1 rather than 2.
_RUN_TIME_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO}


def _reason(error: OSError) -> str:
    if error.errno == errno.EROFS:
        return "the file system is read-only"
    if error.errno == errno.ENAMETOOLONG:
        return "the file name is too long for the file system"
    return error.strerror or str(error)


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
