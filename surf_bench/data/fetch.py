"""Downloads: resumable (HTTP Range), checksummed (md5 / sha256, else size), written to a ``.part``
file and renamed when complete; archives unpacked with path checks. Offline, the first connection
error becomes one DataError that says what to download and where to put it."""

from __future__ import annotations

import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from .manifest import file_digest

TIMEOUT_S = 20
CHUNK = 1 << 20


@dataclass(frozen=True)
class Remote:
    """One published file. ``md5``/``sha256`` as published; ``size`` in bytes when known."""

    url: str
    filename: str
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None


def verify(path: Path, remote: Remote) -> str | None:
    """None when ``path`` matches the remote's checksum (or size); else why not."""
    if remote.size is not None and path.stat().st_size != remote.size:
        return f"size {path.stat().st_size} bytes, expected {remote.size}"
    if remote.sha256 and file_digest(path, "sha256") != remote.sha256:
        return "sha256 mismatch"
    if remote.md5 and file_digest(path, "md5") != remote.md5:
        return "md5 mismatch"
    return None


def download(remote: Remote, folder: Path, dataset: str, log=print) -> Path:
    """``folder/remote.filename``, downloaded (or resumed) and verified."""
    folder = Path(folder)
    target = folder / remote.filename
    if target.is_file() and verify(target, remote) is None:
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{dataset}: cannot create {folder} ({exc.strerror})") from None
    part = target.with_name(target.name + ".part")
    for attempt in range(2):  # a corrupt resumed file is restarted once from zero
        _transfer(remote, part, dataset, folder, log)
        problem = verify(part, remote)
        if problem is None:
            os.replace(part, target)
            return target
        part.unlink(missing_ok=True)
        if attempt:
            raise DataError(
                f"{dataset}: {remote.url} downloaded but failed its check ({problem}); try again later"
            )
    raise AssertionError("unreachable")


def _transfer(remote: Remote, part: Path, dataset: str, folder: Path, log) -> None:
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(remote.url, headers={"User-Agent": "surf-bench"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the .part is already whole
            return
        raise DataError(
            f"{dataset}: {remote.url} answered HTTP {exc.code}; download it by hand and put "
            f"{remote.filename} under {folder}"
        ) from None
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(
            f"{dataset}: cannot download {remote.url} ({reason}); offline? Download it on a "
            f"connected machine, put {remote.filename} under {folder} and run `surf-bench fetch {dataset}` "
            "again (it checks and unpacks what is there)"
        ) from None
    with response:
        mode = "ab" if have and response.status == 206 else "wb"
        total = response.headers.get("Content-Length")
        log(
            f"{dataset}: downloading {remote.filename}"
            + (f" (resuming at {have} bytes)" if mode == "ab" else "")
        )
        try:
            with open(part, mode) as handle:
                shutil.copyfileobj(response, handle, CHUNK)
        except (TimeoutError, OSError) as exc:
            raise DataError(
                f"{dataset}: download of {remote.url} broke off ({exc}); run fetch again to resume it"
            ) from None
    if total is not None and remote.size is None:
        expected = int(total) + (have if mode == "ab" else 0)
        if part.stat().st_size != expected:
            raise DataError(
                f"{dataset}: {remote.filename} is incomplete ({part.stat().st_size} of {expected} "
                "bytes); run fetch again to resume it"
            )


def extract(archive: Path, dest: Path, dataset: str) -> None:
    """Unpack a .tar(.gz) or .zip into ``dest``, refusing members that leave ``dest``."""
    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    _inside(dest, name, archive)
                zf.extractall(dest)
            return
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for member in members:
                _inside(dest, member.name, archive)
                if member.issym() or member.islnk():
                    raise DataError(f"{archive}: holds a link ({member.name}); refusing to unpack it")
            if hasattr(tarfile, "data_filter"):
                tf.extractall(dest, members=members, filter="data")
            else:
                tf.extractall(dest, members=members)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DataError(
            f"{dataset}: {archive} is corrupt or truncated ({exc}); delete it and fetch again"
        ) from None


def _inside(dest: Path, name: str, archive: Path) -> None:
    if not (dest / name).resolve().is_relative_to(dest):
        raise DataError(f"{archive}: member {name!r} would unpack outside {dest}; refusing")
