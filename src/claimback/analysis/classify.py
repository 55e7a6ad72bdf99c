"""Failure classes (DESIGN §5): one table of rules, first match wins.

A failure is described by what Claude Code recorded: the HTTP status, the API's `error.type`, the
network `cause.code`, the final record's `error` field, and the message text. Fields beat text; text
patterns are the fallback for records that carry nothing else (old versions, pasted errors).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

OUTAGE = "outage"
QUOTA_RATE = "quota_rate"
AUTH = "auth"
MODEL_PROVIDER = "model_provider"
LOCAL_RUNTIME = "local_runtime"
DEPLOYMENT_CONFIG = "deployment_config"
UNKNOWN = "unknown"

CLASSES = (OUTAGE, QUOTA_RATE, AUTH, MODEL_PROVIDER, LOCAL_RUNTIME, DEPLOYMENT_CONFIG, UNKNOWN)


@dataclass(frozen=True)
class FailureClassInfo:
    name: str
    meaning: str
    likely_cause: str
    next_step: str


CLASS_INFO: dict[str, FailureClassInfo] = {
    OUTAGE: FailureClassInfo(
        OUTAGE,
        "Anthropic's API failed or was overloaded (5xx, 529, dropped or stalled stream).",
        "A service-side incident or capacity shortage; nothing on your machine.",
        "Check `claimback status`; pause subagent launches until it clears, then re-run only what "
        "died (`claimback resume`). Keep the evidence: `claimback claim`.",
    ),
    QUOTA_RATE: FailureClassInfo(
        QUOTA_RATE,
        "A usage, session or rate limit was reached (429), or billing blocked the request.",
        "Your plan's 5-hour or weekly quota, an API rate limit, or a billing problem.",
        "Wait for the reset shown in the message or check /usage and billing; not an outage, so it "
        "makes no claim on its own.",
    ),
    AUTH: FailureClassInfo(
        AUTH,
        "The credentials were missing, expired or refused (401/403).",
        "An expired login, a revoked or wrong API key, or an org/permission change.",
        "Run `claude /login` (subscription) or check which ANTHROPIC_API_KEY / apiKeyHelper is in use.",
    ),
    MODEL_PROVIDER: FailureClassInfo(
        MODEL_PROVIDER,
        "The request itself was refused: unknown model, prompt too long, bad request, refusal.",
        "A model name your account or provider does not serve, or a context/output limit.",
        "Check the model setting (`/model`, ANTHROPIC_MODEL), compact the context, or lower max tokens.",
    ),
    LOCAL_RUNTIME: FailureClassInfo(
        LOCAL_RUNTIME,
        "The request never reached Anthropic: DNS, connection refused, TLS or proxy failure.",
        "Your network, VPN, proxy or certificate store.",
        "Check connectivity to the API host, HTTPS_PROXY/NO_PROXY and NODE_EXTRA_CA_CERTS.",
    ),
    DEPLOYMENT_CONFIG: FailureClassInfo(
        DEPLOYMENT_CONFIG,
        "The provider settings are inconsistent (Bedrock, Vertex or a custom base URL).",
        "CLAUDE_CODE_USE_BEDROCK/VERTEX, region, project or ANTHROPIC_BASE_URL set wrongly.",
        "Run `claimback doctor` and check the provider section; unset what you do not use.",
    ),
    UNKNOWN: FailureClassInfo(
        UNKNOWN,
        "claimback does not recognise this error.",
        "Unknown.",
        "Run `claimback doctor` and keep the normalized signature when you report it.",
    ),
}


@dataclass(frozen=True)
class Rule:
    failure_class: str
    statuses: frozenset[int] = field(default_factory=frozenset)
    error_types: frozenset[str] = field(default_factory=frozenset)
    codes: frozenset[str] = field(default_factory=frozenset)
    text: re.Pattern[str] | None = None


def _rule(cls: str, statuses=(), error_types=(), codes=(), text: str | None = None) -> Rule:
    return Rule(
        cls,
        frozenset(statuses),
        frozenset(t.lower() for t in error_types),
        frozenset(c.upper() for c in codes),
        re.compile(text, re.IGNORECASE) if text else None,
    )


# Order matters: specific signals first (deployment settings, auth, quota) so that a generic word such
# as "error" in the text never wins over a field.
RULES: tuple[Rule, ...] = (
    _rule(DEPLOYMENT_CONFIG, text=r"bedrock|vertex|aws credentials|could not load credentials|"
          r"ANTHROPIC_BASE_URL|base.?url|region .* not (?:supported|enabled)|"
          r"project .* not (?:found|enabled)|inference profile"),
    _rule(AUTH, statuses=(401, 403), error_types=("authentication_error", "permission_error",
          "authentication_failed", "oauth_org_not_allowed"),
          text=r"/login|invalid (?:x-)?api[ -]?key|oauth token (?:has )?expired|authentication|"
          r"not authorized|permission denied|forbidden|credit balance is too low"),
    _rule(QUOTA_RATE, statuses=(429, 402), error_types=("rate_limit_error", "rate_limit",
          "billing_error", "quota_exceeded"),
          text=r"usage limit|session limit|weekly limit|hit your .*limit|rate.?limit|"
          r"limit reached|resets \d|billing|quota"),
    _rule(LOCAL_RUNTIME, codes=("ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "FAILEDTOOPENSOCKET",
          "CERT_HAS_EXPIRED", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "SELF_SIGNED_CERT_IN_CHAIN",
          "DEPTH_ZERO_SELF_SIGNED_CERT", "ERR_TLS_CERT_ALTNAME_INVALID", "ENETUNREACH",
          "EHOSTUNREACH", "ERR_PROXY_CONNECTION_FAILED"),
          text=r"connectionrefused|connection refused|failedtoopensocket|unable to connect|"
          r"getaddrinfo|enotfound|eai_again|self[- ]signed certificate|certificate|"
          r"unable to verify|ssl|tls|proxy|network is unreachable|unable to get local issuer"),
    _rule(OUTAGE, statuses=(500, 502, 503, 504, 520, 522, 524, 529),
          error_types=("overloaded_error", "api_error", "server_error", "timeout_error"),
          codes=("ECONNRESET", "ETIMEDOUT", "EPIPE", "UND_ERR_SOCKET", "ECONNABORTED",
                 "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"),
          text=r"overloaded|internal server error|\b5\d\d\b|stream idle timeout|"
          r"connection lost mid-response|econnreset|socket hang up|connection error|"
          r"request timed out|timed? ?out|service unavailable|bad gateway|gateway timeout|"
          r"upstream connect error|server_error|api_error|terminated|other side closed"),
    _rule(MODEL_PROVIDER, statuses=(400, 404, 413, 422),
          error_types=("invalid_request_error", "invalid_request", "not_found_error",
                       "request_too_large"),
          text=r"prompt is too long|max_output_tokens|maximum context|context (?:length|window)|"
          r"model .*(?:not found|does not exist|not available)|not_found_error|invalid model|"
          r"invalid_request|refus|content filter|output blocked|too large"),
)

# Texts that say "the user stopped it", not "the API failed".
INTERRUPT_MARKERS = ("[Request interrupted by user", "Request was aborted", "[Request interrupted")


def classify(
    status: int | None = None,
    error_type: str | None = None,
    code: str | None = None,
    text: str | None = None,
) -> str:
    """The failure class of one failure. Any argument may be missing."""
    etype = (error_type or "").lower()
    ecode = (code or "").upper()
    # Fields first, across all rules, then text: a 529 whose text mentions "proxy" is still an outage.
    for rule in RULES:
        if status is not None and status in rule.statuses:
            return rule.failure_class
        if etype and etype in rule.error_types:
            return rule.failure_class
        if ecode and ecode in rule.codes:
            return rule.failure_class
    if text:
        # "unknown" from the record's `error` field carries no information; fall through to text.
        for rule in RULES:
            if rule.text is not None and rule.text.search(text):
                return rule.failure_class
    return UNKNOWN


_NORMALIZERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:req|msg|toolu|srvtoolu)_[A-Za-z0-9]+"), "<id>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"\b\d{1,2}(?::\d{2})?\s?(?:am|pm)\b", re.I), "<time>"),
    (re.compile(r"\(([A-Za-z]+/[A-Za-z_]+)\)"), "(<tz>)"),
    (re.compile(r"(?:[A-Za-z]:)?(?:[/\\][\w.@~-]+){2,}"), "<path>"),
    (re.compile(r"https?://[^\s\"')]+"), "<url>"),
    (re.compile(r"\|\d{9,}"), "|<epoch>"),
    (re.compile(r"\b[0-9a-f]{16,}\b", re.I), "<hex>"),
    (re.compile(r"(?<![\w<])\d{4,}(?![\w>])"), "<n>"),
    (re.compile(r"\s+"), " "),
)

_STATUS_CODES_KEPT = re.compile(r"\b[1-5]\d\d\b")


def normalize_signature(text: str | None, status: int | None = None, error_type: str | None = None,
                        code: str | None = None) -> str:
    """A stable signature: ids, numbers, times and paths stripped, so repeats of one error group."""
    parts = []
    if status is not None:
        parts.append(str(status))
    if error_type:
        parts.append(error_type)
    if code:
        parts.append(code)
    body = (text or "").strip()
    for pattern, replacement in _NORMALIZERS:
        body = pattern.sub(replacement, body)
    body = body.strip()[:160]
    if body:
        parts.append(body)
    return " | ".join(parts) if parts else "<empty>"
