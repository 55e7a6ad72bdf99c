"""Where Claude Code keeps transcripts (DESIGN §3.1), and which file is which."""

from __future__ import annotations

import os
import stat
from collections import namedtuple
from collections.abc import Iterable, Iterator
from pathlib import Path

from claimback.errors import BadInput


# A named tuple, not a frozen dataclass: this module is on the path of the unchanged `usage … --json`
# re-run (claimback.fastcli), where importing `dataclasses` (and the `inspect` it loads) was ~10 ms.
class TranscriptFile(namedtuple("TranscriptFile", "path kind project session_id agent_id")):
    __slots__ = ()
    path: Path
    kind: str  # "session" | "subagent"
    project: str  # the project slug directory under projects/
    session_id: str | None  # known from the layout; old-layout subagent files learn it from records
    agent_id: str | None


def _projects_dir(root: Path) -> Path:
    """A root may be a config dir holding `projects/`, or a `projects/` dir (or any dir) itself."""
    candidate = root / "projects"
    return candidate if candidate.is_dir() else root


def default_roots() -> list[Path]:
    """Roots from CLAUDE_CONFIG_DIR (comma list), else both default locations that exist."""
    configured = os.environ.get("CLAUDE_CONFIG_DIR", "").strip()
    if configured:
        roots = []
        for part in (p.strip() for p in configured.split(",")):
            if not part:
                continue
            root = Path(part).expanduser()
            if not root.is_dir():
                raise BadInput(
                    f"transcript root {root} (from CLAUDE_CONFIG_DIR) does not exist or is not a "
                    "directory; fix CLAUDE_CONFIG_DIR or pass --source PATH"
                )
            roots.append(_projects_dir(root))
        return roots
    home = Path.home()
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return [p for p in (xdg / "claude" / "projects", home / ".claude" / "projects") if p.is_dir()]


def resolve_roots(sources: Iterable[str | os.PathLike[str]] = (), *, include_defaults: bool = True
                  ) -> list[Path]:
    roots: list[Path] = []
    for source in sources:
        path = Path(source).expanduser()
        if not path.exists():
            raise BadInput(f"--source {path} does not exist (CLAUDE_CONFIG_DIR is not consulted for --source)")
        if not os.access(path, os.R_OK):
            raise BadInput(f"--source {path} is not readable")
        if not path.is_dir() and not (path.is_file() and path.suffix == ".jsonl"):
            # Read as nothing, it made a report that looked complete.
            raise BadInput(f"--source {path} is neither a directory nor a .jsonl transcript")
        roots.append(_projects_dir(path) if path.is_dir() else path)
    if include_defaults and not roots:
        roots = default_roots()
    seen: set[Path] = set()
    unique = []
    for root in roots:
        key = root.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(root)
    return unique


def report_roots(sources: Iterable[str | os.PathLike[str]] = (), *, require_transcripts: bool = False
                 ) -> tuple[list[Path], str | None]:
    """The roots a reporting command reads, and why none were read although some were configured (a
    CLAUDE_CONFIG_DIR that does not exist): such a command goes on with the ledger alone and warns.
    `--source` paths that cannot be read, or no transcripts at all with `require_transcripts`, are errors."""
    warning = None
    try:
        roots = resolve_roots(sources)
    except BadInput as exc:
        if require_transcripts or sources:
            raise
        roots = []
        if os.environ.get("CLAUDE_CONFIG_DIR", "").strip():
            warning = str(exc)
    if require_transcripts and not roots:
        raise BadInput(
            "no Claude Code transcripts found in ~/.config/claude/projects or ~/.claude/projects; "
            "set CLAUDE_CONFIG_DIR or pass --source PATH"
        )
    return roots, warning


def roots_warning_line(warning: str | None) -> str | None:
    """The one warning of every command that reads the user's transcript roots, when the configured ones
    could not be read: the report goes on with the ledger alone, but must not look complete."""
    return f"warning: {warning}; reporting on the ledger as it is" if warning else None


def classify_path(path: Path, root: Path) -> TranscriptFile:
    name = path.name
    parent = path.parent
    # projects/<slug>/<session>/subagents/agent-<id>.jsonl, or deeper for Workflow runs:
    # projects/<slug>/<session>/subagents/workflows/<run>/agent-<id>.jsonl (next to a journal.jsonl).
    subagents = next((p for p in path.parents if p.name == "subagents" and p.is_relative_to(root)), None)
    if name.startswith("agent-"):
        agent_id = name[len("agent-"):-len(".jsonl")]
        if subagents is not None:
            session_dir = subagents.parent
            return TranscriptFile(path, "subagent", session_dir.parent.name, session_dir.name, agent_id)
        return TranscriptFile(path, "subagent", parent.name, None, agent_id)  # older flat layout
    if subagents is not None:  # a run's bookkeeping (journal.jsonl): part of its session, not a session
        session_dir = subagents.parent
        return TranscriptFile(path, "session", session_dir.parent.name, session_dir.name, None)
    project = parent.name if parent != root.parent else root.name
    return TranscriptFile(path, "session", project, path.stem, None)


def iter_transcripts(roots: Iterable[Path]) -> Iterator[TranscriptFile]:
    """Every regular `*.jsonl` file under the roots, recursively, without following directory symlinks.

    A FIFO, socket or device named `*.jsonl` would block or never end a line (ingest would hang or fill
    memory), and a file symlink may point anywhere: only regular files are read, and a symlink only when
    its target is a regular file inside one of the roots (we never read outside them)."""
    for path, _, root in walk_transcripts(roots):
        yield classify_path(Path(path), root)


def walk_transcripts(roots: Iterable[Path]) -> Iterator[tuple[str, os.stat_result | None, Path]]:
    """What iter_transcripts reads, as (path as str(Path) spells it, its stat, its root), in the same
    order, without building a Path per file or classifying it: an unchanged re-run looks at 800+ files
    of which it reads none (ledger/changes.py). The stat is the one the check made (the target's for a
    symlink); None for a root that is a file itself."""
    roots = list(roots)
    inside = [r.resolve() for r in roots]
    for root in roots:
        if root.is_file():
            if root.suffix == ".jsonl":
                yield str(root), None, root.parent
            continue
        for dirpath, dirnames, filenames in os.walk(root, onerror=None):
            dirnames.sort()
            base = str(Path(dirpath))  # once per directory: os.walk keeps a leading "./" that Path drops
            for filename in sorted(filenames):
                if filename.endswith(".jsonl"):
                    path = filename if base == "." else os.path.join(base, filename)
                    st = _readable_transcript(path, inside)
                    if st is not None:
                        yield path, st, root


def _readable_transcript(path: str, roots: list[Path]) -> os.stat_result | None:
    """The file's stat when it is to be read: a regular file, or a symlink to one inside the roots."""
    try:
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            return st
        if not stat.S_ISLNK(st.st_mode):
            return None
        target = Path(path).resolve(strict=True)
        st = os.stat(target)
        return st if stat.S_ISREG(st.st_mode) and any(target.is_relative_to(r) for r in roots) else None
    except (OSError, RuntimeError):  # gone, unreadable, or a symlink loop
        return None
