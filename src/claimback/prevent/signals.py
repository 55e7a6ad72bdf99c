"""Outage signals for the guard hook, preflight and `guard status` (DESIGN §7).

This module is on the hook's hot path (p95 budget 60 ms, process to exit), so it imports only the
standard library modules that `json` already pulls in, and reads small, bounded amounts of data:
the cached `unresolved.json` (status-cache contract in COMMON.md), the last 64 KiB of the current
transcript, and the tail of the StopFailure log. It never touches the network and never imports
click, rich, httpx, platformdirs or tomllib unless it must (see `load_policy`).
"""

from __future__ import annotations

import os
import sys
import time

# Transcripts and the StopFailure log are read regular-file-only and non-blocking: a FIFO named *.jsonl
# would otherwise hold the hook (and the Claude Code action waiting on it) until its timeout.
from claimback.core import jsonlite as json  # see core/jsonlite.py: the hook's start-up
from claimback.core.files import read_regular_bytes, read_regular_text, read_tail_lines
from claimback.core.times import datetime, timezone  # datetime's classes, see core/times.py
from claimback.core.times import format_epoch as iso  # noqa: F401 - callers' name for it
from claimback.core.times import parse_epoch as parse_ts

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~2 ms on the hook path
if TYPE_CHECKING:
    from typing import Any

    from claimback.sources.incident_text import Relevance


def _incident_text() -> Any:
    """`sources.incident_text`: the one judgment of incident relevance and model families, shared with
    the outage windows. Imported when something is to be judged: a quiet hook call whose answers are all
    kept (`Judgments`) imports neither it nor core/lazyre."""
    from claimback.sources import incident_text

    return incident_text

APP = "claimback"

# Policy defaults; `[guard]` in config.toml overrides any of them.
DEFAULT_POLICY: dict[str, Any] = {
    "pre_tool_use": "block",          # block | warn | off  (subagent launches: Agent|Task|Workflow)
    "user_prompt_submit": "warn",     # block | warn | off
    "session_start": "warn",          # warn | off
    "stop_failure": "record",         # record | off
    "components": ["Claude API", "Claude Code"],
    "min_impact": "minor",            # none | minor | major | critical
    "monitoring": "warn",             # an incident in "monitoring" (fix applied): block | warn | off
    "burst_failures": 3,              # outage-class failures within the window that make a burst
    "burst_window_minutes": 10,
    "stop_failures": 1,               # outage-class StopFailure records within the window
    "recovery_successes": 3,          # successful requests after the last failure: burst is over
    "max_cache_age_minutes": 15,      # older incident data is not trusted (fail open)
    "refresh_seconds": 60,            # background refresh when the cache is older than this
}

EVENT_KEYS = {
    "PreToolUse": "pre_tool_use",
    "UserPromptSubmit": "user_prompt_submit",
    "SessionStart": "session_start",
    "StopFailure": "stop_failure",
    "SessionEnd": "stop_failure",  # records a final error StopFailure never reported (see hook.py)
}

IMPACT_RANK = {"none": 0, "maintenance": 0, "minor": 1, "major": 2, "critical": 3}
OPEN_STATUSES = {"investigating", "identified", "monitoring", "in_progress", "verifying", "scheduled"}

# Fields that mark an outage-class failure (same facts as analysis.classify's OUTAGE rule; this copy
# avoids importing that module, with its regexes, on every hook call — classify() is the fallback for
# records that carry text only).
OUTAGE_STATUSES = {500, 502, 503, 504, 520, 522, 524, 529}
OUTAGE_TYPES = {"overloaded_error", "api_error", "server_error", "timeout_error"}
# A lost connection with no HTTP status (core/classify.py NETWORK): no proof of an outage on its own, so
# the guard counts it toward a burst only beside an HTTP-level outage failure (scan_lines / assess).
LOST_CONNECTION_CODES = {"ECONNRESET", "ETIMEDOUT", "EPIPE", "UND_ERR_SOCKET", "ECONNABORTED",
                         "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"}
OUTAGE_CODES = {"STREAMTRUNCATED"}  # a stream cut after the API answered 200
NOT_OUTAGE_TYPES = {"rate_limit", "rate_limit_error", "authentication_failed", "authentication_error",
                    "permission_error", "billing_error", "invalid_request", "invalid_request_error",
                    "max_output_tokens", "not_found_error"}

TAIL_BYTES = 64 * 1024
# How far ahead of this clock a timestamp may be and still count (NTP steps, a VM resuming): beyond it a
# time is not a fact about now.
CLOCK_SLACK_S = 120.0
# Subagent directory entries looked at on the hook's path (see transcript_signals).
MAX_SUBAGENT_LISTED = 2000

# Statuspage's unresolved.json and summary.json are a few KB; a cache file past this is not one.
MAX_STATUS_BYTES = 1024 * 1024
SUBAGENT_TAIL_BYTES = 16 * 1024
MAX_SUBAGENT_FILES = 8
_API_REQUEST = b'"api-request"'  # one HTTP attempt's type (2.1.33x); not "api-request-shape" / "-blob"
MAX_OPEN_ATTEMPTS = 64  # a tail holds a few; a hostile file cannot grow the list


# ---------------------------------------------------------------- directories (no platformdirs)

def _xdg(var: str, default: str) -> str:
    value = os.environ.get(var, "")
    return value if os.path.isabs(value) else os.path.join(os.path.expanduser("~"), default)


def fast_dirs() -> tuple[str, str, str]:
    """(config, data, cache) dirs, equal to `claimback.config`'s, without importing platformdirs.

    platformdirs costs ~12 ms to import; on Linux its user dirs are the XDG rule below (tested to
    agree). Elsewhere we pay for the import rather than guess.
    """
    home = os.environ.get("CLAIMBACK_HOME")
    if home:
        home = os.path.expanduser(home)
        return os.path.join(home, "config"), os.path.join(home, "data"), os.path.join(home, "cache")
    if sys.platform.startswith("linux"):
        return (os.path.join(_xdg("XDG_CONFIG_HOME", ".config"), APP),
                os.path.join(_xdg("XDG_DATA_HOME", os.path.join(".local", "share")), APP),
                os.path.join(_xdg("XDG_CACHE_HOME", ".cache"), APP))
    import platformdirs

    return (platformdirs.user_config_dir(APP), platformdirs.user_data_dir(APP),
            platformdirs.user_cache_dir(APP))


def guard_dir(data_dir: str) -> str:
    return os.path.join(data_dir, "guard")


# ---------------------------------------------------------------- time helpers

def hhmm(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%H:%M UTC")


def ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min ago"


# ---------------------------------------------------------------- policy

def _coerce_policy(raw: dict[str, Any]) -> dict[str, Any]:
    policy = dict(DEFAULT_POLICY)
    for key, value in raw.items():
        key = EVENT_KEYS.get(key, key)
        if key in DEFAULT_POLICY and type(value) is type(DEFAULT_POLICY[key]):
            policy[key] = value
        elif key in DEFAULT_POLICY and isinstance(DEFAULT_POLICY[key], int) and isinstance(value, float):
            policy[key] = value
    return policy


def load_policy(config_dir: str, data_dir: str) -> tuple[dict[str, Any], str | None]:
    """The `[guard]` policy and a note when the config file could not be used.

    tomllib costs ~10 ms to import, so the parsed policy is cached as JSON next to the decision log,
    keyed by the config file's mtime and size; the TOML is parsed only after it changes.
    """
    path = os.path.join(config_dir, "config.toml")
    try:
        st = os.stat(path)
    except OSError:
        return dict(DEFAULT_POLICY), None
    cache_path = os.path.join(guard_dir(data_dir), "policy-cache.json")
    key = [st.st_mtime_ns, st.st_size]
    try:
        cached = json.loads(read_regular_bytes(cache_path, 64 * 1024))
        if cached.get("key") == key:
            return _coerce_policy(cached.get("guard") or {}), cached.get("note")
    except (OSError, ValueError, AttributeError):
        pass
    note = None
    guard: dict[str, Any] = {}
    try:
        import tomllib

        raw = tomllib.loads(read_regular_text(path, 1024 * 1024))
        guard = raw.get("guard") or {}
        if not isinstance(guard, dict):
            guard, note = {}, "[guard] in config.toml is not a table; defaults used"
    except Exception as exc:  # noqa: BLE001 - a broken config must not break the hook
        note = f"config.toml unreadable ({type(exc).__name__}); guard defaults used"
    try:
        os.makedirs(guard_dir(data_dir), exist_ok=True)
        write_atomic(cache_path, json.dumps({"key": key, "guard": guard, "note": note}).encode())
    except OSError:
        pass
    return _coerce_policy(guard), note


def write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


# ---------------------------------------------------------------- status cache

def read_status_cache(cache_dir: str) -> tuple[list[dict[str, Any]] | None, float | None, str | None]:
    """(unresolved incidents, fetched_at epoch, problem). Missing or corrupt → (None, None, why).

    Falls back to summary.json (which also lists unresolved incidents) when it is the fresher file.
    """
    best: tuple[list[dict[str, Any]] | None, float | None, str | None] = (None, None, "no status cache")
    base = os.path.join(cache_dir, "status")
    for name in ("unresolved", "summary"):
        body_path = os.path.join(base, f"{name}.json")
        meta_path = os.path.join(base, f"{name}.meta.json")
        try:
            # Regular files only, non-blocking, capped: a FIFO or /dev/zero here hung the hook.
            meta = json.loads(read_regular_bytes(meta_path, 64 * 1024))
            fetched = parse_ts(meta.get("fetched_at"))
            body = json.loads(read_regular_bytes(body_path, MAX_STATUS_BYTES))
            incidents = body.get("incidents")
            if fetched is None or not isinstance(incidents, list):
                raise ValueError("bad shape")
        except FileNotFoundError:
            continue
        except (OSError, ValueError, AttributeError, TypeError, RecursionError):
            if best[0] is None:
                best = (None, None, f"corrupt status cache ({name})")
            continue
        if best[1] is None or fetched > best[1]:
            best = ([i for i in incidents if isinstance(i, dict)], fetched, None)
    return best


# ---------------------------------------------------------------- incidents

def relevance_inputs(incident: dict[str, Any]) -> tuple[str | None, str | None, list[str], list[str]]:
    """(name, impact, components, update bodies oldest first): what `incident_relevance` judges, read as
    the incident archive reads the same payload (`incident_text.statuspage_parts`)."""
    return _incident_text().statuspage_relevance_inputs(incident)


def classify_incident(incident: dict[str, Any], policy: dict[str, Any],
                      used_families: list[str], judgments: Judgments | None = None) -> str | None:
    """Why an unresolved incident matters to this session, or None when it does not.

    Returns 'active' (investigating/identified) or 'monitoring'. Whether the incident touches Claude
    Code's requests, and for which models, is `incident_relevance` (the same judgment the outage
    windows make); on top the guard policy applies: the incident is open, at least `min_impact`,
    lists one of the policy's components when it lists any (a login incident counts as claude.ai's,
    which the default policy leaves out: a running session keeps its token), and, when
    model-specific, names a model family this session uses (`used_families`, from `model_family`;
    none known → it counts). `judgments` (the hook's) keeps relevance results between calls.
    """
    status = str(incident.get("status") or "").lower()
    if status and status not in OPEN_STATUSES:
        return None
    if status == "scheduled":
        return None
    impact = str(incident.get("impact") or "none").lower()
    if IMPACT_RANK.get(impact, 1) < IMPACT_RANK.get(str(policy["min_impact"]).lower(), 1):
        return None
    name, impact, components, bodies = relevance_inputs(incident)
    rel = (judgments.relevance if judgments is not None else _incident_text().incident_relevance)(
        name, impact, components, bodies)
    if not rel.relevant:
        return None
    wanted = [str(w).lower() for w in policy["components"]]
    through = ["claude.ai"] if rel.login_only else components  # a login incident is claude.ai's
    if through and not any(w in c.lower() for c in through for w in wanted):
        return None
    if rel.scope == "models" and used_families and \
            not _incident_text().families_overlap(rel.model_families, used_families):
        return None
    return "monitoring" if status == "monitoring" else "active"


def incident_since(incident: dict[str, Any]) -> float | None:
    return parse_ts(incident.get("started_at")) or parse_ts(incident.get("created_at"))


# ---------------------------------------------------------------- judgments kept between hook calls

JUDGMENTS_NAME = "judgments.json"
MAX_JUDGMENTS = 32               # of each kind: a handful of incidents and model ids are live at a time
MAX_JUDGMENT_INPUT = 16 * 1024   # an input this long is judged afresh each time rather than kept
MAX_JUDGMENTS_BYTES = 1024 * 1024
MAX_JUDGMENT_SETS = 4            # installs (stamps) sharing one data dir


def _judgment_stamp() -> list[Any] | None:
    """What the kept judgments are valid for: this Python and this copy of incident_text's rules (its
    file, found beside this package's without importing it)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        st = os.stat(os.path.join(here, "sources", "incident_text.py"))
    except OSError:
        try:  # a sourceless install: the module's own file
            st = os.stat(_incident_text().__file__)
        except (OSError, TypeError):
            return None
    return [sys.version, st.st_mtime_ns, st.st_size]


def _relevance_entry(entry: Any) -> bool:
    """[[name, impact, components, first two bodies], [relevant, scope, families, reason, login_only]]."""
    if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], list) and len(entry[0]) == 4
            and isinstance(entry[1], list) and len(entry[1]) == 5):
        return False
    relevant, scope, fams, reason, login_only = entry[1]
    return (isinstance(relevant, bool) and isinstance(scope, str) and isinstance(reason, str)
            and isinstance(login_only, bool) and isinstance(fams, list) and all(isinstance(f, str) for f in fams))


class Judgments:
    """`incident_relevance` and `model_family` answers the hook keeps between its calls.

    Both are pure functions of their text, but their patterns compile on first use: importing `re` and
    compiling them cost each hook call ~1 ms (a model id) to ~6 ms (an incident), every call, for the
    same few incidents and model ids. Kept as JSON beside the decision log with the inputs in full (a
    hit is an equal input, never a hash), one set per stamp (the Python version and incident_text's
    file: an upgrade judges afresh; up to MAX_JUDGMENT_SETS installs side by side), at most
    MAX_JUDGMENTS of each kind; a missing, corrupt or foreign file is judged afresh. It is as trusted
    as the pause file beside it (whoever can write one can write both).
    """

    def __init__(self, data_dir: str | None) -> None:
        self.path = None if data_dir is None else os.path.join(guard_dir(data_dir), JUDGMENTS_NAME)
        self.stamp = _judgment_stamp() if self.path is not None else None
        self.families: dict[str, str | None] = {}
        self.relevances: list[list[Any]] = []
        self.changed = False
        # Other installs' sets (a venv and `uvx claimback` share the data dir): kept as they are, so two
        # installs do not wipe each other's answers on every call.
        self.others: list[dict[str, Any]] = []
        if self.path is None or self.stamp is None:
            return
        try:
            sets = json.loads(read_regular_bytes(self.path, MAX_JUDGMENTS_BYTES)).get("sets")
        except (OSError, ValueError, AttributeError, RecursionError):
            return
        data: Any = None
        for entry in sets if isinstance(sets, list) else []:
            if isinstance(entry, dict) and entry.get("stamp") == self.stamp and data is None:
                data = entry
            elif isinstance(entry, dict) and len(self.others) < MAX_JUDGMENT_SETS - 1:
                self.others.append(entry)
        if data is None:
            return
        fams = data.get("families")
        if isinstance(fams, dict):
            self.families = {k: v for k, v in fams.items() if v is None or isinstance(v, str)}
        rels = data.get("relevance")
        if isinstance(rels, list):
            self.relevances = [r for r in rels if _relevance_entry(r)]

    def family(self, model_id: str | None) -> str | None:
        if not isinstance(model_id, str) or not model_id:
            return None  # as model_family answers
        if model_id in self.families:
            return self.families[model_id]
        family = _incident_text().model_family(model_id)
        if len(model_id) <= 256:
            self.families[model_id] = family
            while len(self.families) > MAX_JUDGMENTS:
                del self.families[next(iter(self.families))]
            self.changed = True
        return family

    def relevance(self, name: str | None, impact: str | None, components: list[str],
                  bodies: list[str]) -> Relevance:
        # incident_relevance reads only the first two bodies: the key holds just those.
        key = [name, impact, list(components), [b for b in bodies[:2]]]
        for entry in self.relevances:
            if entry[0] == key:
                relevant, scope, fams, reason, login_only = entry[1]
                return _incident_text().Relevance(relevant, scope, list(fams), reason, login_only)
        rel = _incident_text().incident_relevance(name, impact, components, bodies)
        if len(name or "") + sum(len(c) for c in components) + sum(len(b) for b in key[3]) <= MAX_JUDGMENT_INPUT:
            self.relevances.append([key, [rel.relevant, rel.scope, list(rel.model_families), rel.reason,
                                          rel.login_only]])
            del self.relevances[:-MAX_JUDGMENTS]
            self.changed = True
        return rel

    def save(self) -> None:
        """Write the kept answers when a new one was added (atomic; an unwritable dir is no error)."""
        if not self.changed or self.path is None or self.stamp is None:
            return
        data = {"sets": [{"stamp": self.stamp, "families": self.families, "relevance": self.relevances},
                         *self.others]}
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            write_atomic(self.path, json.dumps(data).encode())
            self.changed = False
        except (OSError, ValueError, TypeError):
            pass


# ---------------------------------------------------------------- transcript tail

def failure_fields(rec: dict[str, Any]) -> tuple[int | None, str | None, str | None, str | None]:
    """(status, error type, cause code, text) of a failure record (retry or final)."""
    if rec.get("type") == "system":
        err = rec.get("error") if isinstance(rec.get("error"), dict) else {}
        status = err.get("status") if isinstance(err.get("status"), int) else None
        etype = None
        inner = err.get("error")
        while isinstance(inner, dict):  # {"error":{"type":"error","error":{"type":"overloaded_error"}}}
            if isinstance(inner.get("type"), str) and inner.get("type") != "error":
                etype = inner["type"]
            inner = inner.get("error")
        cause = err.get("cause") if isinstance(err.get("cause"), dict) else {}
        code = cause.get("code") if isinstance(cause.get("code"), str) else None
        text = err.get("message") if isinstance(err.get("message"), str) else None
        return status, etype, code, text
    status = rec.get("apiErrorStatus") if isinstance(rec.get("apiErrorStatus"), int) else None
    etype = rec.get("error") if isinstance(rec.get("error"), str) else None
    text = None
    msg = rec.get("message")
    if isinstance(msg, dict) and isinstance(msg.get("content"), list):
        for block in msg["content"]:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                text = block["text"][:500]
                break
    return status, etype, None, text


def is_outage_failure(status: int | None, etype: str | None, code: str | None, text: str | None) -> bool:
    if status is not None:
        if status in OUTAGE_STATUSES:
            return True
        if 400 <= status < 500:
            return False
    if etype:
        low = etype.lower()
        if low in OUTAGE_TYPES:
            return True
        if low in NOT_OUTAGE_TYPES:
            return False
    if code:
        return code.upper() in OUTAGE_CODES
    if text:
        from claimback.core.classify import OUTAGE, classify  # only for text-only records

        return classify(status=status, error_type=etype, text=text) == OUTAGE
    return False


def is_lost_connection(status: int | None, etype: str | None, code: str | None, text: str | None) -> bool:
    """A failure with no HTTP status or API error type whose connection went away (class `network`)."""
    if status is not None or etype:
        return False
    if code:
        return code.upper() in LOST_CONNECTION_CODES
    if text:
        from claimback.core.classify import NETWORK, classify  # only for text-only records

        return classify(text=text) == NETWORK
    return False


def scan_lines(lines: list[bytes], since: float, out: dict[str, Any], until: float | None = None) -> None:
    """Add outage failures (since ≤ epoch ≤ until), successful request times and the last model to `out`.

    A record dated after `until` (now plus the clock slack) is not a fact about now: a transcript written
    under a wrong clock, or forged, must not keep the guard denying until the real clock catches up.

    2.1.33x writes an `api-request` record per HTTP attempt, and a subagent writes no retry record: a run
    killed after four 529s is four `api-request`s and one final error. As the ingest does, the attempts no
    answer or error record accounted for met the final's error (same query source), so they count too:
    else the founding case's subagent deaths count one failure each, short of a burst."""
    until = float("inf") if until is None else until
    open_attempts: list[tuple[float | None, Any]] = []  # (time, query source) of unaccounted attempts
    for line in lines:
        if not line:
            continue
        failure = b'"api_error"' in line or b'"isApiErrorMessage":true' in line \
            or b'"isApiErrorMessage": true' in line
        attempt = not failure and _API_REQUEST in line
        if not failure and not attempt and b'"usage"' not in line:
            continue  # cheap prefilter: most lines are tool results and text
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if not isinstance(rec, dict):
            continue
        ts = parse_ts(rec.get("timestamp"))
        if attempt and rec.get("type") == "api-request":
            open_attempts.append((ts, rec.get("querySource")))
            del open_attempts[:-MAX_OPEN_ATTEMPTS]
            continue
        if failure and (rec.get("subtype") == "api_error" or rec.get("isApiErrorMessage") is True):
            silent: list[float | None] = []
            if open_attempts:
                _, source = open_attempts.pop()  # the attempt this record is about
                if rec.get("isApiErrorMessage") is True:
                    silent = [t for t, s in open_attempts if s == source]
                    open_attempts = [a for a in open_attempts if a[1] != source]
            fields = failure_fields(rec)
            kind = ("failures" if is_outage_failure(*fields)
                    else "lost_connections" if is_lost_connection(*fields) else None)
            if kind is not None:
                out[kind].extend(t for t in (ts, *silent) if t is not None and since <= t <= until)
            continue
        msg = rec.get("message")
        if rec.get("type") == "assistant" and isinstance(msg, dict) and isinstance(msg.get("usage"), dict):
            model = msg.get("model")
            if isinstance(model, str) and model and model != "<synthetic>":
                open_attempts.clear()  # answered: earlier open attempts were no failure we can name
                if rec.get("isSidechain") is not True:
                    out["model"] = model
                if ts is not None and ts <= until:
                    out["successes"].append(ts)


def transcript_signals(transcript_path: str | None, now: float, window_s: float,
                       deadline: float | None = None) -> dict[str, Any]:
    """Outage failures in the last `window_s` seconds of the session and its recent subagent files.

    Reads at most 64 KiB of the main transcript and 16 KiB of each of the 8 newest subagent files
    changed within the window (subagents die first in an outage: the founding case). Past
    `deadline` (a `time.perf_counter()` value) it stops reading: a slow disk must not hold the hook.
    """
    out: dict[str, Any] = {"failures": [], "lost_connections": [], "successes": [], "model": None, "files": 0,
                           "skipped": False}
    if not transcript_path or not isinstance(transcript_path, str) or not transcript_path.endswith(".jsonl"):
        return out  # the path comes from the hook's stdin: read Claude Code transcripts, nothing else
    since = now - window_s
    until = now + CLOCK_SLACK_S
    try:
        scan_lines(read_tail_lines(transcript_path, TAIL_BYTES), since, out, until)
        out["files"] += 1
    except OSError:
        return out
    sub_dir = os.path.join(transcript_path[:-6] if transcript_path.endswith(".jsonl") else transcript_path,
                           "subagents")
    recent = []
    try:
        # Bounded: a real session has tens of subagent files; listing and stat-ing 50,000 took 0.94 s on
        # the hook's path. Past MAX_SUBAGENT_LISTED entries (or the deadline) the rest is not looked at.
        with os.scandir(sub_dir) as listing:
            for n, entry in enumerate(listing):
                if n >= MAX_SUBAGENT_LISTED or (deadline is not None and time.perf_counter() > deadline):
                    out["skipped"] = True
                    break
                if not entry.name.endswith(".jsonl"):
                    continue
                try:
                    mtime = entry.stat().st_mtime
                except OSError:
                    continue
                if since <= mtime <= until:
                    recent.append((mtime, entry.path))
    except OSError:
        pass
    recent.sort(reverse=True)
    for _, path in recent[:MAX_SUBAGENT_FILES]:
        if deadline is not None and time.perf_counter() > deadline:
            out["skipped"] = True
            break
        try:
            scan_lines(read_tail_lines(path, SUBAGENT_TAIL_BYTES), since, out, until)
            out["files"] += 1
        except OSError:
            continue
    return out


# ---------------------------------------------------------------- StopFailure records

def stop_failure_path(data_dir: str) -> str:
    return os.path.join(guard_dir(data_dir), "stop-failures.jsonl")


# StopFailure's `error` values (Claude Code's hook input; the full list 2.1.332 validates against is
# authentication_failed, oauth_org_not_allowed, account_on_hold, verification_required, billing_error,
# rate_limit, overloaded, invalid_request, model_not_found, server_error, unknown, max_output_tokens,
# cloud_credential_error) and the failure class each means. A value not here is `unknown`.
STOP_FAILURE_CLASSES = {
    "overloaded": "outage", "server_error": "outage",
    "rate_limit": "quota_rate", "billing_error": "quota_rate",
    "authentication_failed": "auth", "oauth_org_not_allowed": "auth",
    "invalid_request": "model_provider", "model_not_found": "model_provider",
    "max_output_tokens": "model_provider",
}


def classify_stop_failure(error: Any, details: Any) -> str:
    """Failure class of a StopFailure hook input (`error` is Claude Code's short error kind).

    A documented kind decides alone; only when the kind is missing or `unknown` does the error text
    (`error_details`, else the last assistant message) get a say.
    """
    etype = error if isinstance(error, str) else None
    if etype in STOP_FAILURE_CLASSES:
        return STOP_FAILURE_CLASSES[etype]
    text = details if isinstance(details, str) else None
    if text and etype in (None, "", "unknown"):
        from claimback.core.classify import classify

        return classify(text=text)
    return "unknown"


def stop_failure_records(data_dir: str) -> list[dict[str, Any]]:
    """The newest StopFailure records (the last 16 KiB of the file), oldest first."""
    out: list[dict[str, Any]] = []
    try:
        lines = read_tail_lines(stop_failure_path(data_dir), 16 * 1024)
    except OSError:
        return out
    for line in lines:
        if not line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def recent_stop_failures(data_dir: str, now: float, window_s: float) -> list[dict[str, Any]]:
    """Outage-class StopFailure records of any session in the window (newest last)."""
    out: list[dict[str, Any]] = []
    for rec in stop_failure_records(data_dir):
        if rec.get("class") == "outage":
            ts = parse_ts(rec.get("ts"))
            if ts is not None and now - window_s <= ts <= now + 60:
                out.append(rec)
    return out


def final_api_error(transcript_path: str | None) -> dict[str, Any] | None:
    """The session's closing API error record, when its last main-thread message is one (None otherwise).

    Claude Code 2.1.332 in `-p` mode exits without waiting for the StopFailure hook (seen started in 1 of 3
    runs ended by 500s); the transcript's last message is the final error all the same: an assistant record
    with `isApiErrorMessage`, `error` (the same kind StopFailure would carry), `apiErrorStatus` and the text.
    Bookkeeping lines after it (last-prompt, cost-state) and subagents' records do not count."""
    if not isinstance(transcript_path, str) or not transcript_path:
        return None
    try:
        lines = read_tail_lines(transcript_path, TAIL_BYTES)
    except (OSError, ValueError):
        return None
    for line in reversed(lines):
        if b'"assistant"' not in line and b'"user"' not in line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if not isinstance(rec, dict) or rec.get("type") not in ("assistant", "user") or rec.get("isSidechain") is True:
            continue
        return rec if rec.get("type") == "assistant" and rec.get("isApiErrorMessage") is True else None
    return None


# ---------------------------------------------------------------- the assessment

def assess(
    *,
    policy: dict[str, Any],
    cache_dir: str,
    data_dir: str,
    transcript_path: str | None = None,
    extra_models: list[str] | None = None,
    now: float | None = None,
    deadline: float | None = None,
    judgments: Judgments | None = None,
) -> dict[str, Any]:
    """Everything the guard knows right now, as plain data (shared by hook, status and preflight).

    Keys: incidents (relevant, each with id/name/impact/status/since/shortlink/level), ignored
    (count of unresolved incidents judged not relevant), cache_age (s or None), cache_problem,
    failures (outage-class failures in window: transcript + StopFailure), burst (bool),
    session_model, level ('block' when something active, 'monitoring', or None). `judgments`: the
    hook's kept `incident_relevance` / `model_family` results (same answers, no pattern compiled).
    """
    now = time.time() if now is None else now
    window_s = float(policy["burst_window_minutes"]) * 60
    tail = transcript_signals(transcript_path, now, window_s, deadline)
    used: list[str] = []
    for model in [tail["model"], *(extra_models or [])]:
        family = judgments.family(model) if judgments is not None else _incident_text().model_family(model)
        if family and family not in used:
            used.append(family)
    incidents, fetched, problem = read_status_cache(cache_dir)
    cache_age = None if fetched is None else now - fetched
    if cache_age is not None and cache_age < -CLOCK_SLACK_S:
        # Dated in the future (a clock that was ahead, or a forged cache): not fresh but unknown. Its
        # incidents are not used (fail open) and a None age makes the hook refresh it now.
        problem = "status cache is dated in the future (not trusted; refreshing)"
        incidents, cache_age = None, None
    elif cache_age is not None:
        cache_age = max(0.0, cache_age)
    relevant: list[dict[str, Any]] = []
    ignored = 0
    if incidents is not None and cache_age is not None:
        if cache_age > float(policy["max_cache_age_minutes"]) * 60:
            problem = f"status cache is {int(cache_age // 60)} min old (not trusted)"
        else:
            for inc in incidents:
                level = classify_incident(inc, policy, used, judgments)
                if level is None:
                    ignored += 1
                    continue
                relevant.append({
                    "id": inc.get("id"), "name": inc.get("name"), "impact": inc.get("impact"),
                    "status": inc.get("status"), "since": incident_since(inc),
                    "shortlink": inc.get("shortlink"), "level": level,
                })
    stops = recent_stop_failures(data_dir, now, window_s)
    failures = sorted(tail["failures"])
    if failures or stops:  # lost connections count only beside an HTTP-level outage failure
        failures = sorted(failures + tail.get("lost_connections", []))
    last_failure = max([*failures, *(parse_ts(s.get("ts")) or 0 for s in stops)], default=None)
    recovered = False
    if last_failure is not None:
        after = sum(1 for s in tail["successes"] if s > last_failure)
        recovered = after >= int(policy["recovery_successes"])
    burst = not recovered and (
        len(failures) + len(stops) >= int(policy["burst_failures"])
        or (int(policy["stop_failures"]) > 0 and len(stops) >= int(policy["stop_failures"]))
    )
    level = None
    if any(i["level"] == "active" for i in relevant) or burst:
        level = "block"
    elif relevant:
        level = "monitoring"
    return {
        "incidents": relevant, "ignored": ignored, "cache_age": cache_age, "cache_problem": problem,
        "failures": len(failures), "stop_failures": len(stops), "first_failure": failures[0] if failures else None,
        "last_failure": last_failure, "recovered": recovered, "burst": burst,
        "session_model": tail["model"], "level": level,
        "window_minutes": policy["burst_window_minutes"], "tail_skipped": tail["skipped"],
    }


_STATUS_WORDS = frozenset({"investigating", "identified", "monitoring", "resolved", "postmortem", "scheduled",
                           "in_progress", "verifying", "completed"})
_IMPACT_WORDS = frozenset({"none", "minor", "major", "critical", "maintenance"})


def describe(assessment: dict[str, Any], now: float | None = None) -> str:
    """One human sentence naming what the guard saw (incident name, since when; or the burst)."""
    from claimback.core.untrusted import quote_data, safe_link  # not on the quiet path (re, urllib)

    now = time.time() if now is None else now
    parts = []
    for inc in assessment["incidents"][:2]:
        since = inc.get("since")
        when = f"since {hhmm(since)} ({ago(now - since)})" if since else "time unknown"
        # Status page text reaches the model in the deny reason: quoted as data, short, and only the
        # known words of the impact/status vocabulary and a link to the status page's own hosts.
        link = safe_link(inc.get("shortlink"))
        link = f"; {link}" if link else ""
        status, impact = inc.get("status"), inc.get("impact")
        status = f", {status}" if isinstance(status, str) and status in _STATUS_WORDS else ""
        impact = impact if isinstance(impact, str) and impact in _IMPACT_WORDS else "impact unknown"
        parts.append(f"Anthropic reports {quote_data(inc.get('name') or '', 80)} ({impact}{status}, {when}{link})")
    if assessment["burst"]:
        n = assessment["failures"] + assessment["stop_failures"]
        first, last = assessment.get("first_failure"), assessment.get("last_failure")
        tail = f", since {hhmm(first)}" if first else ""
        tail += f", last at {hhmm(last)}" if last else ""
        parts.append(f"your own Claude Code logs show {n} outage-class API failures (5xx/529/overloaded) "
                     f"in the last {assessment.get('window_minutes', 10)} min{tail}")
    return "; ".join(parts) if parts else "no active outage"
