"""Trained weights kept where every worker of a search can read them: Optuna's artifact store.

A search with inherited weights (``nas search --inherit``) keeps every
candidate's trained state dict, since any of them may win its step and become
the parent of the next step's candidates.  The weights go to an Optuna
artifact store (by default a folder beside the SQLite ledger; for a database
ledger a folder every worker mounts, given with ``--checkpoints``; from
Python any :mod:`optuna.artifacts` store, object storage included), and the
trial that trained them records a reference: the artifact id, its SHA-256
and its size.  A reader checks the digest, so a truncated or altered file is
reported as corrupt, never loaded.

The artifact id is the content's digest: a candidate trained again after a
kill (deterministic training) writes the same file under the same id, and a
file half-written by a killed process is never referenced by a finished
trial, because the trial is completed only after the write returns.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from spaces.errors import NasError

#: What a trial's ``checkpoint`` attribute holds.
CheckpointRef = Mapping[str, Any]


class CheckpointUnavailable(NasError):
    """A parent's checkpoint is missing or corrupt: the candidate cannot start from it."""


class CheckpointUnwritable(NasError):
    """A trained candidate's weights cannot be stored (a full or unreachable disk)."""


class CheckpointStore:
    """State dicts in an Optuna artifact store (anything with ``write``, ``open_reader`` and ``remove``).

    ``folder``: where a :class:`~optuna.artifacts.FileSystemArtifactStore` keeps its files, so a write can go to
    a temporary file renamed into place (Optuna's own write truncates the file first) and be skipped where the
    same weights are already there.
    """

    def __init__(self, artifacts: Any, where: str, folder: Path | None = None) -> None:
        self.artifacts, self.where, self.folder = artifacts, where, folder

    @classmethod
    def in_folder(cls, folder: str | os.PathLike) -> "CheckpointStore":
        """A store in ``folder``: a local disk, or a shared one every worker mounts (made when a study names it)."""
        from optuna.artifacts import FileSystemArtifactStore

        from estimators.files import output_folder

        path = output_folder(folder, option="--checkpoints", example="checkpoints").expanduser().resolve()
        return cls(FileSystemArtifactStore(path), str(path), path)

    @contextlib.contextmanager
    def created_for(self) -> Iterator[None]:
        """The folder made before the study names it, so a worker that reads the name finds the folder even before
        the first save; removed again (if this made it and it stayed empty) when the body raises."""
        if self.folder is None or self.folder.is_dir():
            yield
            return
        self.folder.mkdir(parents=True)
        try:
            yield
        except BaseException:
            with contextlib.suppress(OSError):
                self.folder.rmdir()  # only an empty folder: nothing this search wrote is lost
            raise

    def save(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Write a state dict; its reference (``id``, ``sha256``, ``bytes``) for the trial's attributes.

        Raises :class:`CheckpointUnwritable` with the reason where the store cannot take it (a full disk)."""
        import torch

        buffer = io.BytesIO()
        torch.save(dict(state), buffer)
        body = buffer.getvalue()
        digest = hashlib.sha256(body).hexdigest()
        ref = {"id": f"weights-{digest[:32]}.pt", "sha256": digest, "bytes": len(body)}
        try:
            self._write(ref["id"], body, digest)
        except OSError as error:
            raise CheckpointUnwritable(
                f"cannot write checkpoint {ref['id']} to {self.where}: {error.strerror or error}"
            ) from None
        return ref

    def _write(self, artifact_id: str, body: bytes, digest: str) -> None:
        if self.folder is None:
            self.artifacts.write(artifact_id, io.BytesIO(body))
            return
        target = self.folder / artifact_id
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == digest:
            return  # the same weights, already whole (a retrained candidate): never truncated under a reader
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = f"{artifact_id}.{os.getpid()}.partial"
        self.artifacts.write(partial, io.BytesIO(body))
        os.replace(self.folder / partial, target)  # whole or absent, whatever kills the writer

    def has(self, ref: CheckpointRef) -> bool:
        """Whether the artifact ``ref`` names is in this store (another worker's mount of the same folder)."""
        from optuna.artifacts.exceptions import ArtifactNotFound

        try:
            with self.artifacts.open_reader(ref["id"]):
                return True
        except (ArtifactNotFound, OSError, ValueError):
            return False

    def load(self, ref: CheckpointRef | None) -> dict[str, Any]:
        """The state dict ``ref`` names, checked against its digest; :class:`CheckpointUnavailable` if it cannot be."""
        import torch
        from optuna.artifacts.exceptions import ArtifactNotFound

        if not isinstance(ref, Mapping) or not isinstance(ref.get("id"), str) or not isinstance(ref.get("sha256"), str):
            raise CheckpointUnavailable(f"the parent trial records no checkpoint (got {ref!r})")
        try:
            with self.artifacts.open_reader(ref["id"]) as reader:
                body = reader.read()
        except (ArtifactNotFound, FileNotFoundError):
            raise CheckpointUnavailable(f"checkpoint {ref['id']} is missing from {self.where}") from None
        except (OSError, ValueError) as error:
            raise CheckpointUnavailable(f"checkpoint {ref['id']} cannot be read from {self.where}: {error}") from None
        if hashlib.sha256(body).hexdigest() != ref["sha256"]:
            raise CheckpointUnavailable(
                f"checkpoint {ref['id']} in {self.where} is corrupt (its SHA-256 differs "
                "from the one its trial recorded)"
            )
        try:
            return torch.load(io.BytesIO(body), map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - any unpickling failure is a corrupt checkpoint
            raise CheckpointUnavailable(f"checkpoint {ref['id']} in {self.where} cannot be loaded: {error}") from None


def check_same_store(store: CheckpointStore, refs: list[CheckpointRef], stored: str) -> None:
    """Refuse a resumed search or a worker whose checkpoint folder lacks what the study's trials reference.

    A folder other than the one the study names is fine where it holds the same files (the same shared disk,
    mounted elsewhere); otherwise every candidate would silently train from scratch.
    """
    missing = [ref for ref in refs if not store.has(ref)]
    if missing:
        raise NasError(
            f"the checkpoint folder {store.where} lacks {len(missing)} of the {len(refs)} checkpoints "
            f"this search's trials reference (it keeps them in {stored}); give --checkpoints the folder "
            "the search uses, or where this machine mounts it"
        )


def default_folder(url: str) -> str | None:
    """Where a search's checkpoints go without ``--checkpoints``: beside its SQLite (or journal) file; None for a
    database, whose workers may be on other machines: they need a folder named for all of them."""
    from .storage import local_file

    path = local_file(url)
    return None if path is None else f"{path}.artifacts"
