"""Reading files that someone else controls: regular files only, never blocking, never unbounded.

Settings, caches, overrides and transcripts live in directories a user (or an attacker) can fill with a
FIFO, a device such as /dev/zero, or a multi-gigabyte file. Every read of such a file goes through here so
that no command, and above all no hook on Claude Code's hot path, can hang or fill memory on one.
Standard library only: the hook imports this on every call.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing (or pathlib) costs ms on the hook path
if TYPE_CHECKING:
    from pathlib import Path

# Large enough for any real settings or cache file, small enough that a hostile one costs milliseconds.
DEFAULT_LIMIT = 8 * 1024 * 1024


class UnsafeFile(OSError):
    """The path is not a regular file, or is larger than the caller allows."""


def open_regular(path: str | os.PathLike[str]) -> int:
    """A read-only descriptor on `path`, refused unless it is a regular file.

    The open is non-blocking (a FIFO would otherwise wait for a writer) and the type is checked on the
    descriptor, after the open, so a file swapped for a FIFO between a stat and the open is still caught.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafeFile(f"not a regular file: {os.fspath(path)}")
    return fd


def read_regular_bytes(path: str | os.PathLike[str], limit: int = DEFAULT_LIMIT) -> bytes:
    """The whole content of a regular file of at most `limit` bytes; `UnsafeFile` otherwise."""
    fd = open_regular(path)
    with open(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise UnsafeFile(f"larger than {limit} bytes: {os.fspath(path)}")
    return data


def read_regular_text(path: str | os.PathLike[str], limit: int = DEFAULT_LIMIT) -> str:
    """`read_regular_bytes` decoded as UTF-8 (invalid bytes become U+FFFD, as a reader should not fail)."""
    return read_regular_bytes(path, limit).decode("utf-8", errors="replace")


def read_tail_lines(path: str | os.PathLike[str], size_limit: int) -> list[bytes]:
    """The complete lines among the last `size_limit` bytes of a regular file (a cut first line dropped)."""
    fd = open_regular(path)
    with open(fd, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        start = max(0, size - size_limit)
        fh.seek(start)
        data = fh.read(size_limit)
    lines = data.split(b"\n")
    if start > 0:
        lines = lines[1:]
    return lines


def atomic_write(path: str | os.PathLike[str], data: bytes, mode: int | None = None, *,
                 durable: bool = True) -> None:
    """Replace `path` with `data` so that a reader sees the old content or the new, never half of it.

    The temporary file sits beside the target (same file system, so the rename is atomic) and is removed
    when anything fails. `mode` sets the new file's permissions (default: the umask's). `durable` syncs
    the data to disk before the rename: settings a user wrote by hand must survive a crash, a cache that
    is refetched anyway need not pay for it.
    """
    target = os.fspath(path)
    folder = os.path.dirname(target) or "."
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(target)}.claimback-{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 if mode is None else mode)
        with open(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def display_path(path: str | os.PathLike[str] | None, cwd: Path | None = None) -> str | None:
    """`~/…` under the home directory, `./…` under the project; never the user name."""
    if path is None:
        return None
    text = os.fspath(path)
    if cwd is not None:
        from pathlib import Path

        try:
            return "./" + Path(text).resolve().relative_to(cwd.resolve()).as_posix()
        except (ValueError, OSError):
            pass
    home = os.path.expanduser("~")
    if home and home != "/" and (text == home or text.startswith(home + os.sep)):
        return "~" + text[len(home):]
    return text
