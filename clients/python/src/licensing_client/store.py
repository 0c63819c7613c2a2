"""What the library keeps on disk: the last verified answer (its exact body bytes and
signature, verified again whenever it is read) and the highest trusted time seen.

Every write goes to a temporary file in the same directory, flushed, then moved over the
old file with :func:`os.replace`: a crash leaves the old file or the new one, never half.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any


def default_cache_dir() -> Path:
    """The user's cache directory for this library (XDG on Linux, Library/Caches on macOS,
    LOCALAPPDATA on Windows)."""
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache")
    return base / "licensing_client"


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


class Store:
    """The files of one product on one machine under ``directory``."""

    def __init__(self, directory: Path, product: str) -> None:
        self.directory = Path(directory)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in product)
        self.answer_path = self.directory / f"{safe}.license.json"
        self.clock_path = self.directory / f"{safe}.clock.json"
        self.identity_path = self.directory / f"{safe}.identity.json"

    # --- The cached answer (unverified here: the client verifies what it reads) ---

    def save_answer(self, *, body: bytes, signature: str, nonce: str | None) -> None:
        record = {"kind": "answer", "body": base64.b64encode(body).decode(), "signature": signature, "nonce": nonce}
        write_atomically(self.answer_path, json.dumps(record).encode())

    def save_license_file(self, text: str) -> None:
        write_atomically(self.answer_path, json.dumps({"kind": "file", "text": text}).encode())

    def load(self) -> dict[str, Any] | None:
        """The cached record as written, or None when there is none. Raises ValueError
        when the file is there but unreadable."""
        try:
            raw = self.answer_path.read_bytes()
        except FileNotFoundError:
            return None
        record = json.loads(raw)
        if not isinstance(record, dict):
            raise ValueError("not a cache record")
        return record

    def forget(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.answer_path.unlink()

    # --- Which license this machine activated (kept across refusals, until deactivated) ---

    def save_identity(self, identity: dict[str, str]) -> None:
        write_atomically(self.identity_path, json.dumps(identity).encode())

    def identity(self) -> dict[str, str] | None:
        try:
            value = json.loads(self.identity_path.read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("license_key", "username"):
            return {str(k): str(v) for k, v in value.items()}
        return None

    def forget_identity(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.identity_path.unlink()

    # --- The highest trusted time ---

    def trusted_time(self) -> float | None:
        try:
            value = json.loads(self.clock_path.read_bytes()).get("trusted_time")
        except (FileNotFoundError, ValueError, AttributeError):
            return None
        return float(value) if isinstance(value, int | float) else None

    def raise_trusted_time(self, moment: float) -> None:
        current = self.trusted_time()
        if current is None or moment > current:
            write_atomically(self.clock_path, json.dumps({"trusted_time": moment}).encode())
