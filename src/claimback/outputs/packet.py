"""The claim packet (DESIGN §6): one folder a support agent can check, rendered from one evidence dict.

Order matters: every file is written, then every file is scanned for secrets, and only then is
MANIFEST.sha256 written (and the zip built). A finding removes what this run wrote and raises, so a
packet either passes the scan as a whole or does not exist.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimback.analysis.loss import LossReport
from claimback.core.times import parse_utc
from claimback.errors import BadInput, ClaimbackError
from claimback.outputs.evidence import (
    CATEGORY_LABELS,
    CSV_COLUMNS,
    EXPOSURE,
    NOT_CHARGED,
    build_evidence,
    csv_rows,
    local_label,
    local_span,
    utc_label,
)
from claimback.analysis.outages import span_label
from claimback.outputs.escape import csv_cell, json_text, md_text, safe_links
from claimback.outputs.redact import Redactor, redact_tree
from claimback.core.secrets import SecretFinding, scan_file

MESSAGE_LIMIT = 1500
MAX_TABLE_ROWS = 300  # HTML/Markdown tables; JSON and CSV always hold every row
MANIFEST = "MANIFEST.sha256"
FILES = ("report.html", "report.md", "evidence.json", "evidence.csv", "message.txt")


@dataclass
class PacketResult:
    dir: str
    files: list[str]
    sha256: dict[str, str]
    zip_path: str | None = None
    zip_sha256: str | None = None
    outage_found: bool = False
    windows: list[str] = field(default_factory=list)
    measured_tokens: int = 0
    estimated_tokens: int = 0
    message_chars: int = 0


class SecretFound(ClaimbackError):
    """A key-like string reached a packet file: the packet was removed (exit 1)."""


def _template_cache(markdown: bool) -> Any:
    """Compiled templates kept in the cache dir: compiling the three templates cost ~0.1 s of every
    packet. Jinja re-compiles when a template's source changes (its checksum is in each entry); the
    folder name carries what else shapes the compiled code (Jinja and Python versions, the environment
    options below), so a changed option never meets code compiled without it. Reads are regular-file
    only and capped (core/files.py); a cache that cannot be read or written only costs the compile."""
    import hashlib as _hashlib
    import sys

    import jinja2
    from jinja2.bccache import Bucket, BytecodeCache

    from claimback.config import cache_dir
    from claimback.core.files import atomic_write, read_regular_bytes

    shape = repr((jinja2.__version__, sys.version_info[:2], markdown, _ENV_OPTIONS, "html.j2", "StrictUndefined"))
    folder = cache_dir() / "templates" / _hashlib.sha256(shape.encode()).hexdigest()[:16]

    class Cache(BytecodeCache):
        def load_bytecode(self, bucket: Bucket) -> None:
            try:
                bucket.bytecode_from_string(read_regular_bytes(folder / f"{bucket.key}.cache", 4 * 1024 * 1024))
            except Exception:  # missing, unreadable or damaged: compile as without a cache
                bucket.reset()

        def dump_bytecode(self, bucket: Bucket) -> None:
            try:
                atomic_write(folder / f"{bucket.key}.cache", bucket.bytecode_to_string(), durable=False)
            except OSError:
                pass

    return Cache()


_ENV_OPTIONS = {"trim_blocks": True, "lstrip_blocks": True, "keep_trailing_newline": True}


def _environment(markdown: bool = False) -> Any:
    """The templates' environment; `markdown` escapes every {{ value }} for Markdown (report.md)."""
    import jinja2

    env = _environment_class()(
        finalize=md_text if markdown else None,
        loader=jinja2.PackageLoader("claimback.outputs", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined, bytecode_cache=_template_cache(markdown), **_ENV_OPTIONS,
    )
    env.filters.update({
        "tokens": lambda n: "-" if n is None else f"{int(n):,}",
        "usd": lambda v: "unknown" if v is None else f"${float(v):,.2f}",
        "pct": lambda v: "unknown" if v is None else f"{float(v):g} %",
        "utc": utc_label,
        "span": span_label,
        "utc_time": lambda ts: "" if not ts else parse_utc(ts).strftime("%H:%M UTC"),
        "utc_time_date": lambda ts: "" if not ts else parse_utc(ts).strftime("%Y-%m-%d %H:%M"),
        "hms": lambda ts: "" if not ts else parse_utc(ts).strftime("%Y-%m-%d %H:%M:%S"),
        "local": lambda ts: local_label(ts),
        "local_time": lambda ts: "" if not ts else parse_utc(ts).astimezone().strftime("%H:%M"),
        "short": lambda s: (s or "-")[:8],
        # `req_011CWjK86SWe…`: enough to tell ids apart and find the row in evidence.csv.
        "short_id": lambda s: "-" if not s else (s if len(s) <= 18 else s[:16] + "…"),
        "label": lambda key: CATEGORY_LABELS.get(key, key),
        "confirmed": lambda c: {"both": "the status page and your logs", "statuspage": "the status page only",
                                "logs": "your logs (no official incident)"}.get(c, c),
        # report.md escapes every value (finalize); elsewhere this keeps a table cell on one line.
        "md": (lambda text: text) if markdown else (lambda text: str(text).replace("|", "\\|").replace("\n", " ")),
    })
    return env


_ENVIRONMENT: list[Any] = []


def _environment_class() -> Any:
    """jinja2.Environment whose `x.name` on a plain dict is the dict's item without first raising
    AttributeError: Jinja tries the attribute first, and the packet's ~95 k row fields (f.ts,
    r.session_id, ...) at 5 GB each paid a raised and caught exception. Names dict has as attributes
    (items, keys, get, ...) still resolve as Jinja resolves them, so every template renders the same."""
    if not _ENVIRONMENT:
        import jinja2

        dict_names = frozenset(dir(dict))

        class Environment(jinja2.Environment):
            def getattr(self, obj: Any, attribute: str) -> Any:
                if type(obj) is dict and attribute not in dict_names:
                    try:
                        return obj[attribute]
                    except KeyError:
                        return self.undefined(obj=obj, name=attribute)
                return super().getattr(obj, attribute)

        _ENVIRONMENT.append(Environment)
    return _ENVIRONMENT[0]


PLAN_LABELS = {"pro": "Pro", "max5": "Max 5x", "max20": "Max 20x", "api": "API key (billed per token)"}


def _more(items: list[str], shown: int) -> str:
    return f" (+{len(items) - shown} more in evidence.csv)" if len(items) > shown else ""


def render_message(env: Any, ev: dict[str, Any], tz: Any = None) -> str:
    """The support draft, shortened step by step until it fits MESSAGE_LIMIT characters."""
    windows = sorted(ev["windows"], key=lambda w: -(w["measured_tokens"] + w["estimated_tokens"]))
    main = windows[0] if windows else None
    incidents = [i for w in windows for i in w["incidents"]]
    measured_parts = []
    if main is not None:
        for key in CATEGORY_LABELS:
            if key in (EXPOSURE, NOT_CHARGED):
                continue
            tokens = sum(w["loss"][key]["tokens"] for w in windows)
            if tokens:
                measured_parts.append(f"{CATEGORY_LABELS[key].lower()} {tokens:,}")
    lost_ids: list[str] = []
    failed_ids: list[str] = []
    session_ids: list[str] = []
    for w in windows:
        ordered = [r["request_id"] for r in w["lost_requests"] if r["category"] == "killed_subagents"]
        ordered += [r["request_id"] for r in w["lost_requests"]]
        for rid in ordered:
            if rid and rid not in lost_ids:
                lost_ids.append(rid)
        for f in w["failures"]:
            if f["request_id"] and f["request_id"] not in failed_ids and f["class"] == "outage":
                failed_ids.append(f["request_id"])
        for sid in [b["session_id"] for b in w["by_session"]] + [x["session_id"] for x in w["sessions"]]:
            if sid and sid != "-" and sid not in session_ids:
                session_ids.append(sid)
    quota = main["quota"] if main else None
    plan = PLAN_LABELS.get((quota or {}).get("plan") or "", "[your plan: Pro, Max 5x or Max 20x]")
    local = {w["id"]: local_span(w["logs_start"], w["logs_end"], tz) for w in windows}
    template = env.get_template("message.txt.j2")
    text = ""
    for detail in ({"windows": 3, "incidents": 3, "request_ids": 4, "sessions": 3},
                   {"windows": 2, "incidents": 2, "request_ids": 3, "sessions": 2},
                   {"windows": 1, "incidents": 1, "request_ids": 2, "sessions": 2},
                   {"windows": 1, "incidents": 1, "request_ids": 1, "sessions": 1},
                   {"windows": 1, "incidents": 1, "request_ids": 0, "sessions": 1}):
        text = template.render(ev=ev, windows=windows, main=main, incidents=incidents,
                               parts=", ".join(measured_parts), quota=quota, plan=plan, local=local,
                               lost_ids=lost_ids, failed_ids=failed_ids, session_ids=session_ids,
                               detail=detail, more=_more).strip() + "\n"
        if len(text) <= MESSAGE_LIMIT:
            return text
    return text[:MESSAGE_LIMIT - 2].rstrip() + "…\n"


def _csv_text(ev: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in csv_rows(ev):
        writer.writerow({k: "" if v is None else csv_cell(v) for k, v in row.items()})
    return buffer.getvalue()


def render_files(ev: dict[str, Any]) -> dict[str, str]:
    """Every packet file's text, from the one evidence dict."""
    from claimback.outputs.chart import timeline_svg

    env = _environment()
    charts = {w["id"]: timeline_svg(w["timeline"], f"Window {w['id']}: tokens and failures, UTC")
              for w in ev["windows"]}
    by_session = {w["id"]: {b["session_id"]: b for b in w["by_session"]} for w in ev["windows"]}
    context = {"ev": ev, "charts": charts, "max_rows": MAX_TABLE_ROWS, "by_session": by_session}
    return {
        "report.html": env.get_template("report.html.j2").render(**context),
        "report.md": _environment(markdown=True).get_template("report.md.j2").render(**context),
        "evidence.json": json_text(ev) + "\n",
        "evidence.csv": _csv_text(ev),
        "message.txt": render_message(env, ev),
    }


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare_dir(out_dir: Path, force: bool) -> bool:
    """Check and create the output folder; True when this run created it."""
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f"{out_dir} exists and is not a directory")
    if out_dir.is_dir():
        if any(out_dir.iterdir()) and not force:
            raise BadInput(f"{out_dir} already exists and is not empty; choose another --out or pass --force "
                           "to overwrite the packet files in it")
        if not os.access(out_dir, os.W_OK | os.X_OK):
            raise ClaimbackError(f"cannot write the packet to {out_dir}: permission denied")
        return False
    try:
        out_dir.mkdir(parents=True)
    except OSError as exc:
        raise ClaimbackError(f"cannot create the packet folder {out_dir}: {exc.strerror or exc}") from None
    return True


def _remove(out_dir: Path, names: list[str], created: bool) -> None:
    for name in names:
        try:
            (out_dir / name).unlink()
        except FileNotFoundError:
            pass
    if created:
        try:
            out_dir.rmdir()
        except OSError:
            pass  # something else is in it now: leave it


def scan_packet(out_dir: Path, names: list[str]) -> list[SecretFinding]:
    findings: list[SecretFinding] = []
    memo: dict[str, list[str]] = {}  # the files repeat each other's lines: each distinct one scanned once
    for name in names:
        findings += scan_file(out_dir / name, name, memo)
    return findings


def write_packet(ledger: Any, loss_report: LossReport, out_dir: str | Path, *, force: bool = False,
                 zip: bool = False, include_paths: bool = False, include_text: bool = False,
                 since: str | None = None, until: str | None = None, originals: dict[str, Any] | None = None,
                 selected: str | None = None, demo: bool = False, extra_homes: tuple[str, ...] = ()) -> PacketResult:
    """Write the packet for `loss_report` into `out_dir`. `ledger` is a Ledger or a Workspace."""
    ledger = getattr(ledger, "ledger", ledger)
    out = Path(out_dir).expanduser()
    zip_path = out.parent / (out.name + ".zip") if zip else None
    if zip_path is not None and zip_path.exists() and not force:
        raise BadInput(f"{zip_path} already exists; choose another --out or pass --force")
    created = prepare_dir(out, force)
    written: list[str] = []
    try:
        redactor = Redactor(include_paths=include_paths, include_text=include_text, extra_homes=extra_homes)
        ev = build_evidence(ledger, loss_report, originals=originals, redactor=redactor, since=since, until=until,
                            demo=demo, selected=selected)
        ev = safe_links(redact_tree(ev))
        files = render_files(ev)
        for name in FILES:
            (out / name).write_text(files[name], encoding="utf-8", newline="\n")
            written.append(name)
        findings = scan_packet(out, written)
        if findings:
            _remove(out, written, created)
            first = findings[0]
            where = ", ".join(sorted({f"{f.path}:{f.line} ({f.kind})" for f in findings})[:5])
            hint = (" It came from text you asked to include (--include-text/--include-paths); remove the key "
                    "from that text or leave the option out." if include_text or include_paths else "")
            raise SecretFound(f"secret-like text ({first.kind}) found in the packet at {where}; nothing was kept "
                              f"— the packet was removed.{hint}")
        sums = {name: sha256_file(out / name) for name in written}
        manifest = "".join(f"{sums[name]}  {name}\n" for name in written)
        (out / MANIFEST).write_text(manifest, encoding="utf-8", newline="\n")
        written.append(MANIFEST)
        zip_sum = None
        if zip_path is not None:
            with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name in written:
                    archive.write(out / name, f"{out.name}/{name}")
            zip_sum = sha256_file(zip_path)
    except OSError as exc:
        _remove(out, written, created)
        raise ClaimbackError(f"cannot write the packet to {out}: {exc.strerror or exc}") from None
    return PacketResult(
        dir=str(out), files=written, sha256=sums, zip_path=str(zip_path) if zip_path else None, zip_sha256=zip_sum,
        outage_found=ev["outage_found"], windows=[w["id"] for w in ev["windows"]],
        measured_tokens=ev["totals"]["measured_tokens"], estimated_tokens=ev["totals"]["estimated_tokens"],
        message_chars=len(files["message.txt"]),
    )
