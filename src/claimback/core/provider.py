"""Who served a request or a failure (DESIGN §3.1): the one place that decides the provider.

A claim to Anthropic may rest only on what Anthropic's own API served. Claude Code reaches Claude
through Anthropic (api.anthropic.com), Amazon Bedrock, Google Vertex AI, Microsoft Foundry, or whatever
answers at ANTHROPIC_BASE_URL (a relay, a corporate gateway, a local model server). The transcript keeps
traces of the route in every record:

- *ids*: Anthropic's message ids are `msg_01` + base58 (`msg_01XqR…`) and its request ids `req_011C…`;
  Bedrock's carry a `bdrk` infix (`msg_bdrk_01…`, `req_bdrk_…`, `toolu_bdrk_…`) and Vertex's a `vrtx`
  infix (`msg_vrtx_01…`, `req_vrtx_011C…`). A `msg_` id of plain hex (`msg_3f9a0c…`), a UUID, or a
  `chatcmpl-…` id is minted by a relay: Anthropic never issues those shapes;
- *model names*: Bedrock ids (`anthropic.claude-…`, `us.anthropic.claude-…-v1:0`, `arn:aws:bedrock:…`),
  Vertex ids (`claude-opus-4@20250514`), and non-Claude models (`glm-4.7`, `deepseek-…`) that only a relay
  or a local server can answer with;
- *error bodies*: an HTML gateway page (EdgeOne/Cloudflare 522/524 pages) or a relay's own wording
  ("No available Claude accounts support the requested model", new-api/one-api error types); the
  Anthropic API answers errors in JSON;
- *endpoints*: a failed attempt's `cause.path`, the URL Claude Code was calling (`https://api.deepseek.com/
  anthropic/v1/messages`): a host that is not Anthropic's API, Bedrock's or Vertex's is someone else's;
- *settings*: CLAUDE_CODE_USE_BEDROCK/VERTEX/FOUNDRY and the host of ANTHROPIC_BASE_URL
  (`provider_from_env`, the function the Claude Code configuration module calls).

Each judge returns None when its evidence says nothing; the caller then falls back (the file's last
known provider, then the session's settings, then Claude Code's default, Anthropic). Stdlib only and
import-cheap: the guard hook may import it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

ANTHROPIC = "anthropic"
BEDROCK = "bedrock"
VERTEX = "vertex"
FOUNDRY = "foundry"
OTHER = "other"

PROVIDERS = (ANTHROPIC, BEDROCK, VERTEX, FOUNDRY, OTHER)

LABELS: dict[str, str] = {
    ANTHROPIC: "Anthropic API",
    BEDROCK: "Amazon Bedrock",
    VERTEX: "Google Vertex AI",
    FOUNDRY: "Microsoft Foundry",
    OTHER: "a relay, proxy or non-Anthropic model",
}

# Where a claim for a window of this provider goes: Anthropic credits only what its own API served.
CLAIM_DESTINATION: dict[str, str] = {
    ANTHROPIC: "Anthropic support (support.claude.com)",
    BEDROCK: "AWS Support for Amazon Bedrock (your AWS account's support plan)",
    VERTEX: "Google Cloud support for Vertex AI (your Google Cloud project)",
    FOUNDRY: "Microsoft Azure support for Foundry (your Azure subscription)",
    OTHER: "the operator of the relay or proxy behind ANTHROPIC_BASE_URL (not Anthropic)",
}

# Hosts that are Anthropic's own first-party API. Anything else at ANTHROPIC_BASE_URL is someone else's.
_FIRST_PARTY_HOSTS = ("api.anthropic.com",)

# `msg_01` / `req_011` + an alphanumeric body (base58 in practice). Short toy ids ("msg_1") and shapes
# seen nowhere prove nothing either way: only a recognised shape is evidence. Checked with str methods,
# not regexes: the parser asks once per request (~0.3 µs instead of ~2 µs).
_HEX_CHARS = "0123456789abcdefABCDEF-"


def _hexish(body: str) -> bool:
    """A hex body (`3f9a0c…`, 16+ hex digits, any dashes: UUIDs too): minted by a relay."""
    return len(body) >= 16 and not body.strip(_HEX_CHARS) and len(body.replace("-", "")) >= 16


def _first_party(value: str, prefix: str, low: int) -> bool:
    body = value[len(prefix):]
    return value.startswith(prefix) and low <= len(body) <= 40 and body.isascii() and body.isalnum()


# Anthropic's API names its models with dashes (`claude-opus-4-6`, `claude-3-5-sonnet-20241022`); a dotted
# version of a Claude 3+ family (`claude-opus-4.6-1m`, `claude-3.5-sonnet`, `anthropic/claude-sonnet-4.5`)
# is a relay's or an aggregator's name for it (GitHub Copilot proxies, OpenRouter), never in an answer of
# Anthropic's API. (`claude-2.1`, `claude-instant-1.2` are Anthropic's own, and older than Claude Code.)
_DOTTED_CLAUDE = re.compile(r"(?:^|[./])claude-(?:\d+\.\d+-(?:opus|sonnet|haiku)|(?:opus|sonnet|haiku)-\d+\.\d)")
_VERTEX_MODEL = re.compile(r"claude[\w.-]*@\d{8}\Z|.*publishers/anthropic/models/")
_CLAUDE_MODEL = re.compile(r"(?:[\w.:/-]*[./])?claude[\w.@:-]*\Z")
# Pseudo-models Claude Code writes itself: never evidence of a route.
_NO_EVIDENCE_MODELS = frozenset({"<synthetic>", ""})

# Error texts only a relay or a gateway in front of the API writes. Lowercased substrings.
_RELAY_PHRASES = (
    "no available claude accounts",
    "no available accounts",
    "no available channel",
    "new_api_error",
    "one_api_error",
    "upstream_error",
    "edgeone",
    "当前分组",  # new-api: "the current group's upstream is saturated"
    "负载已饱和",
    "无可用渠道",
    "模型名称有误",  # a relay refusing a model it does not know: "传入的模型名称有误: <model>" (its 400s)
    "官方算力限制",  # a relay whose upstream accounts are throttled ("official compute limit, wait a while")
    "请求转发失败",  # a relay's "forwarding the request failed" (its 502s)
    "上游请求失败",  # "the upstream request failed"
    '"proxy_error"',  # an error type Anthropic's API never answers with
    "error sending request for url",  # a Rust relay's HTTP client (Claude Code is Node)
    "openrouter",
    # A relay's own error body (`{"error":{"err_code":-10004,"message":…,"message_cn":…}}`, 302.AI in a
    # published 2.1.76-2.1.81 sample): Anthropic's errors are `{"type":"error","error":{"type","message"}}`.
    '"err_code"',
    '"message_cn"',
    # one-hub (a one-api fork): its error type, "invalid token", "the token's quota is used up".
    "one_hub_error",
    "无效的令牌",
    "令牌额度",
    # OpenRouter's wrapper of its upstream's error ("Provider returned error", metadata.provider_name)
    # and its routing refusal; claude-code-router's wrapper ("Error from provider(…)",
    # `provider_response_error`): public issues of both, pasted from Claude Code.
    "provider returned error",
    '"provider_name"',
    "no allowed providers are available",
    "error from provider",
    "provider_response_error",
    # Relays in front of Google's Antigravity backend ("Antigravity API error (429): …").
    "antigravity api",
    # OpenRouter's routing refusals without its name ("No endpoints found that support tool use", "No
    # endpoints found for vendor/model:free"), and OpenAI's chat-completions vocabulary (`tool_calls`,
    # `tool_call_id`) in an OpenAI-compatible server's 400: Anthropic's API says `tool_use`/`tool_use_id`.
    "no endpoints found",
    # OpenRouter's free-tier limits ("Rate limit exceeded: free-models-per-day", "…-per-min").
    "free-models-per-",
    "'tool_call_id'",
    "'tool_calls'",
    # Go's net/http default 404 body: Anthropic's API answers JSON (cc#50229, behind a base URL).
    "404 page not found",
    # A relay speaking of its own upstream ("upstream stream disconnected", "Upstream error: 429", claude-code-
    # hub's "… | Upstream: {…}"); Envoy's "upstream connect error" in front of Anthropic's API is not one.
    "upstream stream",
    "upstream error:",
    "| upstream:",
)
# one-api and its forks (new-api, one-hub) append their own request id to every error message they relay,
# "… (request id: 2026031109254418820374619285031)" (common.MessageWithRequestId: a clock and digits, then
# letters); Anthropic's request ids are `req_…` and never inside the message.
_ONE_API_REQUEST_ID = re.compile(r"\(request id: \d{14,}[A-Za-z0-9]*\)")
# Anthropic's API writes its errors in English (platform.claude.com/docs/en/api/errors) and so does Claude
# Code; Chinese, Japanese or Korean words in the server's part of an error text are another server's (Zhipu's
# "余额不足或无可用资源包", a relay's "API请求失败 (429)", "您的账户已达到速率限制"). Only a text that carries the
# server's answer counts (an HTTP status or "API Error"): a local error may quote a path in any script.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_SERVER_ANSWER = re.compile(r"API Error|\b[1-5]\d\d\b|[\"']error")
# The error types Anthropic's API answers with (platform.claude.com/docs/en/api/errors, "HTTP errors"), and
# `forbidden`, the body of the firewall in front of it; `error` is the body itself, which Claude Code records
# under `error` (`"error":{"type":"error","error":{…}}`). An error object of another type (`stream_read_error`,
# `client_validation_error`, `""`, `<nil>`, a number such as Zhipu's "1113") was written by someone else.
_ANTHROPIC_ERROR_TYPES = frozenset({
    "invalid_request_error", "authentication_error", "billing_error", "permission_error", "not_found_error",
    "request_too_large", "rate_limit_error", "api_error", "timeout_error", "overloaded_error", "forbidden", "error"})
_ERROR_OBJECT_TYPE = re.compile(r'"error"\s*:\s*\{[^{}]{0,400}?"type"\s*:\s*"([^"]{0,80})"')
# A LiteLLM proxy's own wording around its upstream's answer (`litellm.BadRequestError: AnthropicException
# - …`, "Received Model Group=…", "LiteLLM Retried: 2 times"): a gateway, whose upstream only the user knows
# (CLAIMBACK_GATEWAY_UPSTREAM=anthropic says it is Anthropic's API).
# Claude Code 2.1.332's own words for a gateway's refusal, on its "Cloud gateway" provider and behind an
# organization's gateway on the first-party route ("Gateway refused the request · … check with your gateway
# administrator", "Your organization's gateway refused the request · …", "Authentication error · The gateway
# could not authenticate with its upstream provider"): the gateway answered, not Anthropic's API.
_GATEWAY_PHRASES = ("litellm.", "litellm retried", "received model group", "gateway refused the request",
                    "gateway could not authenticate with its upstream")
_HTML = re.compile(r"<\s*(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>]|title>)", re.IGNORECASE)
# Cloudflare's error page names the zone it answered for in its title ("api.anthropic.com | 520: Web server
# is returning an unknown error"), its JSON errors in `zone`: Anthropic's own edge is no relay's page.
_PAGE_ZONE = re.compile(r"<title>\s*([a-z0-9.-]{3,253})\s*\|", re.IGNORECASE)
_JSON_ZONE = re.compile(r'"zone"\s*:\s*"([a-z0-9.-]{3,253})"', re.IGNORECASE)
# Cloudflare's managed challenge page ("Just a moment…") names no zone in its title; its script does
# (`_cf_chl_opt={… cZone: "api.anthropic.com" …}`). Without either, the page proves only that Cloudflare
# answered, which it does for Anthropic's API as for any relay behind it.
_CHALLENGE_PAGE = re.compile(r"<title>\s*Just a moment\.\.\.\s*</title>|_cf_chl_opt", re.IGNORECASE)
_CHALLENGE_ZONE = re.compile(r"cZone\s*:\s*[\"']([a-z0-9.-]{3,253})[\"']", re.IGNORECASE)
# Anthropic's API answers every error as `{"type":"error","error":{"type":…,"message":…},"request_id":"req_…"}`
# (platform.claude.com/docs/en/api/errors, "Error shapes"). A body whose error object opens with `code` or
# `message` is another server's (OpenAI-style: Zhipu's `{"error":{"code":"1113",…}}`, a gateway's
# `{"error":{"message":…,"code":…}}`), and a `request_id` of another shape (digits, hex, `req_` and hex:
# Anthropic's are `req_01…`, `req_011C…` since 2025) was minted by
# whoever answered (Z.ai's and MiniMax's Anthropic-shaped bodies in public issues): a relay's or gateway's
# own error, unless the user declared the gateway forwards to Anthropic's API.
# Bodies of other frameworks are not Anthropic's either: FastAPI's `{"detail": …}` (ModelScope's Anthropic
# endpoint), `{"error": "Unauthorized"}` with a message for the error (an OAuth token endpoint's code,
# `{"error":"invalid_grant",…}`, RFC 6749, proves nothing), and Go relays' `{"error":{…},"type":
# "error"}` (new-api, sub2api, Moonshot): Anthropic's API writes `"type":"error"` first.
_FOREIGN_SHAPE = re.compile(r'["\']error\\?["\']\s*:\s*\{\s*\\?["\'](?:code|message)\\?["\']\s*:|'
                            r'"request_id\\?"\s*:\s*\\?"(?!req_01)[A-Za-z0-9_-]{6,}|'
                            r'(?:^|[\s(:])\{\s*"(?:detail"|error"(?!\s*:\s*"[a-z_]+"))\s*:\s*"|'
                            r'\}\s*,\s*"type"\s*:\s*"error"\s*\}')


def from_message_id(message_id: str | None) -> str | None:
    """The provider an assistant message id proves, or None (no id, or a shape that proves nothing)."""
    if not message_id:
        return None
    if message_id.startswith(("msg_bdrk_", "toolu_bdrk_")):
        return BEDROCK
    if message_id.startswith(("msg_vrtx_", "toolu_vrtx_")):
        return VERTEX
    if message_id.startswith("req_"):
        # A request id as the message id (`req_vrtx_011C…`): a relay's rewrite; Vertex's and Bedrock's own
        # answers carry `msg_vrtx_…`/`msg_bdrk_…` ids beside their request ids.
        return OTHER
    rest = message_id[4:] if message_id.startswith("msg_") else message_id
    # Hex/UUID bodies, a relay's clock (`msg_20260218142957`) and OpenAI-style ids: shapes Anthropic
    # never issues. Checked before the first-party shape because a hex body can begin with "01".
    if (_hexish(rest) or (len(rest) >= 12 and rest.isascii() and rest.isdigit())
            or message_id.startswith(("chatcmpl-", "gen-"))):
        return OTHER
    if _first_party(message_id, "msg_01", 16):
        return ANTHROPIC
    return None


def from_request_id(request_id: str | None) -> str | None:
    """The provider a request id (`requestId`, `error.requestID`, OTel `request_id`) proves, or None."""
    if not request_id:
        return None
    if request_id.startswith("req_bdrk_"):
        return BEDROCK
    if request_id.startswith("req_vrtx_"):
        return VERTEX
    if _first_party(request_id, "req_011", 8):
        return ANTHROPIC
    # Other shapes (Bedrock's x-amzn-requestid and many relays' ids are UUIDs) say only "not
    # first-party", not who: the message ids and settings decide.
    return None


@lru_cache(maxsize=256)  # a ledger holds a handful of model names; the parser asks once per request
def from_model(model: str | None) -> str | None:
    """The provider a model name proves: Bedrock/Vertex model ids, or `other` for non-Claude models.

    A plain Claude model name (`claude-opus-4-6`) proves nothing: relays answer with those too.
    """
    if model is None:
        return None
    name = model.strip()
    if name in _NO_EVIDENCE_MODELS:
        return None
    low = name.lower()
    if "claude" not in low:
        return OTHER
    if _VERTEX_MODEL.match(low):
        return VERTEX
    if low.startswith("arn:aws") or "anthropic.claude" in low:
        return BEDROCK
    if _DOTTED_CLAUDE.search(low):
        return OTHER
    if _CLAUDE_MODEL.match(low):
        return None
    return OTHER


# What the cloud routes say in their own error texts: 2.1.332's final error names the service to check
# ("… If it persists, check your Amazon Bedrock service status." / "… your Google Vertex AI service
# status."), and Bedrock's ServiceUnavailableException body names Bedrock. A session whose first attempt
# fails has no answer whose id would tell (tests/test_realclient.py, the Bedrock and Vertex scenarios).
_CLOUD_PHRASES = (
    ("check your amazon bedrock service status", BEDROCK),
    # Bedrock's Mantle endpoint: 2.1.332 names it "Amazon Bedrock (Mantle)" in the same sentence.
    ("check your amazon bedrock (mantle) service status", BEDROCK),
    ("bedrock is unable to process your request", BEDROCK),
    ("check your google vertex ai service status", VERTEX),
    # 2.1.332 on Microsoft Foundry: "… check your Microsoft Foundry service status." and its 401/403 text.
    ("check your microsoft foundry service status", FOUNDRY),
    ("microsoft foundry authentication failed", FOUNDRY),
    # 2.1.332 says "Could not load Azure credentials" only on Foundry (CLAUDE_CODE_USE_FOUNDRY and an Azure
    # identity error), and ends a Google Cloud 401/403 with "… check GCP IAM permissions and Vertex AI model
    # access" only on Vertex (Claude Platform on Google Cloud, Anthropic's, says "… and workspace access").
    # "Could not load AWS/Google Cloud credentials" and "AWS authentication failed" name no route: Bedrock
    # and Claude Platform on AWS (or Vertex and Claude Platform on Google Cloud) share them.
    ("could not load azure credentials", FOUNDRY),
    ("vertex ai model access", VERTEX),
    # Cloud credentials the desktop app hosts, named by the provider's label in 2.1.332 ("Bedrock", "Mantle",
    # "Foundry"; "Anthropic-on-AWS" is Anthropic's): "<label> credentials are managed by the desktop app …".
    ("bedrock credentials are managed by the desktop app", BEDROCK),
    ("mantle credentials are managed by the desktop app", BEDROCK),
    ("foundry credentials are managed by the desktop app", FOUNDRY),
)


# What only a cloud writes, whatever it names as failing (public issues of Claude Code on Bedrock and
# Vertex, and of other clients of the same services): Bedrock's throttling texts ("Too many tokens, please
# wait before trying again.", ThrottlingException), its validation wordings and its model ids and host
# in the text; Vertex's quota host, docs and ids. Anthropic's API never answers with these.
_CLOUD_SHAPES = (
    ("too many tokens, please wait before trying again", BEDROCK),
    ("too many requests, please wait before trying again", BEDROCK),
    ("too many connections, please wait before trying again", BEDROCK),
    ("throttlingexception", BEDROCK),
    ("provided model identifier is invalid", BEDROCK),
    ("with on-demand throughput isn", BEDROCK),
    # Bedrock's AccessDeniedException for a model the account may not call, its validation wording and its
    # server-side exceptions (cc#568, cc#93; the event stream's `:exception-type`).
    ("have access to the model with the specified model id", BEDROCK),
    ("malformed input request", BEDROCK),
    ("internalserverexception", BEDROCK),
    ("modelnotreadyexception", BEDROCK),
    ("encountered an unexpected error during processing. try your request again", BEDROCK),
    ("bedrock-runtime.", BEDROCK),
    ("anthropic.claude-", BEDROCK),
    ("_bdrk_", BEDROCK),
    # AWS's credential texts (ExpiredTokenException, UnrecognizedClient, an SSO profile's session).
    ("security token included in the request is", BEDROCK),
    ("sso session associated with this profile", BEDROCK),
    # Claude Code's own "The model X is not available on your bedrock|vertex|foundry deployment".
    ("on your bedrock deployment", BEDROCK),
    ("on your vertex deployment", VERTEX),
    # Microsoft Foundry's hosts and Claude's name for it ("Azure AI Foundry rejected model … (HTTP 404)").
    ("services.ai.azure.com", FOUNDRY),
    ("azure ai foundry", FOUNDRY),
    ("aiplatform.googleapis.com", VERTEX),
    # Google's canonical message for RESOURCE_EXHAUSTED, which a Vertex 429 carries without the status
    # name when a client prints only the message (google-gemini/gemini-cli#23981).
    ("resource has been exhausted (e.g. check quota)", VERTEX),
    # Google's sign-in answers for an expired or refused Application Default Credential (its session length
    # control's `invalid_rapt`, its 401 wording), Claude Code's one Google route being Vertex (cc#726).
    ("invalid_rapt", VERTEX),
    ("support.google.com/a/answer/9368756", VERTEX),
    ("expected oauth 2 access token", VERTEX),
    ("cloud.google.com/vertex-ai", VERTEX),
    ("_vrtx_", VERTEX),
)
# A Google API error body (`{"error":{"code":429,…,"status":"RESOURCE_EXHAUSTED"}}`, quotes escaped when
# nested): the shape of Vertex AI's errors, Claude Code's one Google route; never Anthropic's API's.
_GOOGLE_STATUS = re.compile(r'"status\\?"\s*:\s*\\?"(?:RESOURCE_EXHAUSTED|PERMISSION_DENIED|INVALID_ARGUMENT|'
                            r'FAILED_PRECONDITION|UNAVAILABLE|UNAUTHENTICATED|DEADLINE_EXCEEDED|NOT_FOUND)\\?"')


# Claude Code's own refusal of a model names it: "There's an issue with the selected model (NAME). It may
# not exist or you may not have access to it." A session whose only prompt fails that way has no answer to
# tell its route; the name does when it is no Claude model of Anthropic's API (`moonshotai/kimi-k2.6`,
# `deepseek-ai/deepseek-v4-pro` behind OpenRouter in a published 2.1.145-2.1.159 sample).
_SELECTED_MODEL = re.compile(r"issue with the selected model \(([^()\s]{1,200})\)")
# A server that refuses a model for a capability it lacks names it quoted: `"nomic-embed-text" does not
# support chat` in an Anthropic-shaped 400 (Ollama's Anthropic-compatible API, a published 2.1.29 tree whose
# user had picked a local embedding model with /model; the session has no answer to tell its route).
_UNSUPPORTED_MODEL = re.compile(r'"([^"\s]{1,200})" does not support (?:chat|tools|thinking|completion|generate)')
# 2.1.332 ends an error's advice with "… check your inference gateway (HOST)." only when ANTHROPIC_BASE_URL
# names a host that is not Anthropic's API (read from its binary): the host the request went to, judged
# as a failed attempt's URL is (`from_endpoint`).
_INFERENCE_GATEWAY = re.compile(r"check your inference gateway \(([^()\s]{1,300})\)")


_TEXT_BOUND = 65536

# A body a server wrote with JSON's \\uXXXX escapes for non-ASCII (Python's json.dumps does by default; a
# relay's `\\u003cnil\\u003e`) reaches the text with the escapes as characters: the words are read decoded.
_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
# One level of a JSON string's escapes: quotes and backslashes as themselves, line breaks and tabs as spaces.
_JSON_ESCAPE = re.compile(r'\\(["\\/nrt])')
_ESCAPED = {'"': '"', "\\": "\\", "/": "/", "n": " ", "r": " ", "t": " "}


def _unescaped(match: re.Match[str]) -> str:
    return _ESCAPED[match.group(1)]


def decode_unicode_escapes(text: str) -> str:
    """`text` with every `\\uXXXX` escape of a non-surrogate code point read as its character (one pass)."""
    if "\\u" not in text:
        return text

    def char(match: re.Match[str]) -> str:
        point = int(match.group(1), 16)
        return match.group(0) if 0xD800 <= point <= 0xDFFF else chr(point)

    return _UNICODE_ESCAPE.sub(char, text)


def _anthropic_zone(zone: str) -> bool:
    zone = zone.lower().rstrip(".")
    return zone == "anthropic.com" or zone.endswith(".anthropic.com")


def from_error_text(text: str | None) -> str | None:
    """`other` when an error body is a gateway's HTML page (not Anthropic's own edge's) or a relay's own
    wording, or names a selected model only a relay or a cloud serves; the cloud (`bedrock`, `vertex`,
    `foundry`) when it names that service as the one failing or has a shape only that cloud writes; else
    None."""
    if not text:
        return None
    # A body quoted inside a record's JSON string (2.1.33x's `error.message: "529 {\"type\":…}"`) reads as
    # the body itself; a bound keeps a proxy's megabyte page cheap (what identifies it is near its start).
    text = decode_unicode_escapes(text[:_TEXT_BOUND])
    for _ in range(2):  # a body quoted twice (a relay's body in Claude Code's message in the record)
        if '\\"' not in text:
            break
        text = _JSON_ESCAPE.sub(_unescaped, text)
    # A terminal's line breaks and a pretty-printed body's indents: every run of white space is one space.
    text = " ".join(text.split())
    if _HTML.search(text):
        zone = _PAGE_ZONE.search(text) or _CHALLENGE_ZONE.search(text)
        if zone is not None and not _anthropic_zone(zone.group(1)):
            return OTHER
        if zone is None and not _CHALLENGE_PAGE.search(text):
            return OTHER
    low = text.lower()
    if any(phrase in low for phrase in _RELAY_PHRASES):
        return OTHER
    if "(request id: " in low and _ONE_API_REQUEST_ID.search(text):
        return OTHER
    if _CJK.search(text) and _SERVER_ANSWER.search(text) and not _gateway_to_anthropic(os.environ):
        return OTHER
    if any(phrase in low for phrase in _GATEWAY_PHRASES) and not _gateway_to_anthropic(os.environ):
        return OTHER
    if '"cloudflare_error"' in low and (zone := _JSON_ZONE.search(text)) is not None and not _anthropic_zone(zone.group(1)):
        return OTHER
    if "czone" in low and (zone := _CHALLENGE_ZONE.search(text)) is not None and not _anthropic_zone(zone.group(1)):
        return OTHER  # a challenge page cut before its <head>, its script still naming the zone
    if "selected model (" in low and (named := _SELECTED_MODEL.search(text)) is not None:
        by_model = from_model(named.group(1))
        if by_model is not None:
            return by_model
    if "does not support " in low and (refused := _UNSUPPORTED_MODEL.search(text)) is not None:
        by_model = from_model(refused.group(1))
        if by_model is not None:
            return by_model
    if "inference gateway (" in low and (gateway := _INFERENCE_GATEWAY.search(low)) is not None:
        by_host = from_endpoint(f"https://{gateway.group(1)}")
        if by_host is not None:
            return by_host
    found = next((route for phrase, route in _CLOUD_PHRASES if phrase in low), None)
    if found is None:
        found = next((route for phrase, route in _CLOUD_SHAPES if phrase in low), None)
    if found is None and '"status' in low and _GOOGLE_STATUS.search(text):
        found = VERTEX
    if (found is None and ('"error' in low or "'error" in low or '"request_id' in low or '"detail' in low)
            and (_FOREIGN_SHAPE.search(text) or _foreign_error_type(text))
            and not _gateway_to_anthropic(os.environ)):
        found = OTHER
    return found


def _foreign_error_type(text: str) -> bool:
    """An error object whose `type` is none Anthropic's API answers with (a terminal's line breaks inside
    the type, `"api_\n    error"`, are no part of it)."""
    return any("".join(match.group(1).split()) not in _ANTHROPIC_ERROR_TYPES
               for match in _ERROR_OBJECT_TYPE.finditer(text))


# The `server` response header of the APIs Claude Code calls itself: Anthropic's API is behind Cloudflare;
# Vertex AI answers from Google's front ends, Bedrock and Foundry from AWS's and Azure's. Lowercased
# prefixes.
_API_SERVERS = ("cloudflare", "google frontend", "esf", "scaffolding on httpserver2", "gse", "amazon",
                "awselb", "microsoft-", "azure")


def from_response_headers(headers: object) -> str | None:
    """`other` when a failed attempt's response headers (Claude Code 2.1.x before 2.1.15x writes them in
    `error.headers`) name a server none of the APIs runs (`nginx`, `Caddy`: a relay's or a proxy's own
    answer, seen in a published 2.1.14 tree) and carry no `request-id` header, which every answer of
    Anthropic's API has; else None."""
    if not isinstance(headers, dict) or not headers:
        return None
    named = {str(k).lower(): v for k, v in headers.items()}
    server = named.get("server")
    if not isinstance(server, str) or not server.strip() or "request-id" in named:
        return None
    low = server.strip().lower()
    return None if low.startswith(_API_SERVERS) else OTHER


# Loopback proves nothing: a local proxy may forward to Anthropic's API or to anyone (the settings say
# which), and a test's fake API listens there too.
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


def from_endpoint(url: str | None) -> str | None:
    """The provider the URL a request was sent to proves (a failed attempt's `cause.path`, the gateway an
    error text names), or None."""
    host = url_host(url) if isinstance(url, str) and "://" in url else None
    if not host or host in _LOOPBACK_HOSTS or host.startswith("127.") or host.endswith(".localhost"):
        return None
    if host in _FIRST_PARTY_HOSTS:
        return ANTHROPIC
    if host.startswith("bedrock-runtime.") and host.endswith(".amazonaws.com"):
        return BEDROCK
    if host.endswith("aiplatform.googleapis.com"):
        return VERTEX
    # Someone else's host: a relay's or a proxy's, unless the user declared that their gateway forwards
    # to Anthropic's API (then it proves nothing, as ANTHROPIC_BASE_URL does not: provider_from_env).
    return None if _gateway_to_anthropic(os.environ) else OTHER


def judge(*, message_id: str | None = None, request_id: str | None = None, model: str | None = None,
          text: str | None = None, endpoint: str | None = None, headers: object = None) -> str | None:
    """The provider the record's own evidence proves, or None when it proves nothing.

    Order: a non-Claude model, a relay's error body, a foreign endpoint or server is decisive (`other`: a relay
    can dress its answers in Anthropic-shaped ids); then the cloud infixes, model ids and endpoints;
    then the first-party shapes.
    """
    by_model = from_model(model) if isinstance(model, str) else None
    if by_model == OTHER:
        return OTHER
    by_text = from_error_text(text)
    if by_text == OTHER:
        return OTHER
    by_url = from_endpoint(endpoint)
    if by_url == OTHER or from_response_headers(headers) == OTHER:
        return OTHER
    by_msg = from_message_id(message_id)
    by_req = from_request_id(request_id)
    for found in (by_msg, by_req, by_model, by_url, by_text):
        if found in (BEDROCK, VERTEX, FOUNDRY):
            return found
    if OTHER in (by_msg, by_req):
        return OTHER
    if ANTHROPIC in (by_msg, by_req, by_url):
        return ANTHROPIC
    return None


# The ledger's provider column as every query reads it: rows that no writer judged (a ledger import,
# a hand-made row) are Anthropic's, Claude Code's default route.
SQL_PROVIDER = "COALESCE(provider, 'anthropic')"


def answer_without_request_id(version: object) -> bool:
    """Claude Code 2.x writes the `request-id` header of every answer of Anthropic's API as `requestId`
    (every first-party record of the 2.1.12-2.1.146 transcripts checked has one); a relay passing real
    `msg_01…` ids through drops the header (none of the 2,549 `msg_01…` records of two published relay
    and Copilot-proxy samples has one). The parser's `requestId`-less first-party shape is then `other`,
    unless the user declared a gateway that forwards to Anthropic's API (CLAIMBACK_GATEWAY_UPSTREAM)."""
    if not (type(version) is str and version[:1] in "23456789" and version[1:2] == "."):
        return False
    return not _gateway_to_anthropic(os.environ)


def answer_with_foreign_request_id(request_id: object) -> bool:
    """Anthropic's API names every request `req_…` (`req_011C…`); a first-party-shaped answer whose
    `requestId` has another shape (a UUID) went through a server that wrote its own request-id header:
    a relay passing Anthropic's `msg_01…` ids through (every such answer of a published 2.1.76-2.1.81
    sample behind 302.AI). The parser's verdict is then `other`, unless the user declared a gateway
    that forwards to Anthropic's API (CLAIMBACK_GATEWAY_UPSTREAM)."""
    if type(request_id) is not str or not request_id or request_id.startswith("req_"):
        return False
    return not _gateway_to_anthropic(os.environ)


def judge_request(message_id: str | None, request_id: str | None, model: str | None) -> str | None:
    """`judge` for a request record (no error text), on the parser's hot path: the common first-party
    case costs a few string methods; anything else takes the full judgment."""
    if type(model) is str:
        verdict = from_model(model)  # lru_cache'd: a ledger holds a handful of model names
        if verdict is not None:
            return verdict if verdict == OTHER else judge(message_id=message_id, request_id=request_id, model=model)
    if (type(message_id) is str and message_id.startswith("msg_01") and 22 <= len(message_id) <= 46
            and message_id.isascii() and message_id[6:].isalnum() and message_id[6:].strip(_HEX_CHARS)
            and (request_id is None or (type(request_id) is str and request_id.startswith("req_011")
                                        and request_id[7:].isalnum()))):
        return ANTHROPIC
    return judge(message_id=message_id, request_id=request_id, model=model)


def judge_answer(message_id: str | None, request_id: str | None, model: str | None,
                 version: object) -> str | None:
    """The route an answer's record proves (the parser's one question per request row): `judge_request`,
    then the header rule of a first-party-shaped answer (a missing or foreign `requestId` is a relay's,
    `answer_without_request_id` / `answer_with_foreign_request_id`)."""
    found = judge_request(message_id, request_id, model)
    if found == ANTHROPIC and (answer_without_request_id(version) if request_id is None
                               else answer_with_foreign_request_id(request_id)):
        return OTHER
    if (found is None and request_id is None and answer_without_request_id(version)
            and (not message_id or (type(message_id) is str and message_id.startswith("msg_")
                                    and len(message_id) >= 24 and message_id[4:].isascii()
                                    and message_id[4:].isalnum()))):
        # No `requestId`, which 2.x writes for every answer of Anthropic's API, and an id Anthropic never
        # issues: a relay's own `msg_` + 24 letters and digits, not `msg_01…` (a published 2.1.16x-2.1.21x
        # tree), or none at all (a 2.0.29 tree behind a relay answering with Bedrock-style `tooluse_` tool
        # ids). A relay's, not the default (Anthropic's). Toy ids keep the default.
        return OTHER
    return found


def _truthy(value: object) -> bool:
    # Claude Code's own reading of boolean env vars: 1/true/yes/on, any case.
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def url_host(url: str | None, *, port: bool = False) -> str | None:
    """The lowercased host of a URL, never its credentials, path or query; None when there is none.

    port=True (doctor's display) adds a port the URL names (`gw.example.com:8443`) and says
    `(unparseable URL)` for a URL with no host or a port that is no number from 1 to 65535."""
    if not url:
        return None
    rest = url.strip().split("://", 1)[-1]
    netloc = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    netloc = netloc.rsplit("@", 1)[-1]
    if netloc.startswith("["):
        host, _, after = netloc[1:].partition("]")
        digits = after[1:] if after.startswith(":") else after
    else:
        host, _, digits = netloc.partition(":")
    host = host.strip().lower().rstrip(".")
    if not port:
        return host or None
    if not host or (digits and not (digits.isascii() and digits.isdigit() and int(digits) <= 65535)):
        return "(unparseable URL)"
    return f"{host}:{int(digits)}" if digits and int(digits) else host


def provider_from_env(env: Mapping[str, object]) -> str:
    """The provider a Claude Code session talks to, from its environment (process env merged with the
    settings files' `env` blocks, as Claude Code merges them). Pure: reads only `env`.

    The cloud switches win over ANTHROPIC_BASE_URL (Claude Code ignores the base URL then); a base URL
    whose host is not Anthropic's API is a relay or proxy, `other`, unless CLAIMBACK_GATEWAY_UPSTREAM=anthropic
    says the gateway forwards to Anthropic's API.
    """
    if _truthy(env.get("CLAUDE_CODE_USE_BEDROCK", "")):
        return BEDROCK
    if _truthy(env.get("CLAUDE_CODE_USE_VERTEX", "")):
        return VERTEX
    if _truthy(env.get("CLAUDE_CODE_USE_FOUNDRY", "")):
        return FOUNDRY
    base = env.get("ANTHROPIC_BASE_URL")
    if isinstance(base, str) and base.strip():
        host = url_host(base)
        if (host is None or host not in _FIRST_PARTY_HOSTS) and not _gateway_to_anthropic(env):
            return OTHER
    return ANTHROPIC


# A company gateway or LLM proxy (LiteLLM, an egress proxy) that passes requests on to Anthropic's own API
# unchanged is Anthropic's service behind another host name: only the user knows that, so they say it.
GATEWAY_UPSTREAM_VAR = "CLAIMBACK_GATEWAY_UPSTREAM"


def _gateway_to_anthropic(env: Mapping[str, object]) -> bool:
    value = env.get(GATEWAY_UPSTREAM_VAR)
    return isinstance(value, str) and value.strip().lower() == ANTHROPIC


def mix(providers: Iterable[str | None]) -> dict[str, int]:
    """Counts per provider, in PROVIDERS order, omitting zeros (None counts as Anthropic's default)."""
    counts = dict.fromkeys(PROVIDERS, 0)
    for value in providers:
        counts[value if value in counts else ANTHROPIC] += 1
    return {name: n for name, n in counts.items() if n}


def claimable_with_anthropic(provider: str | None) -> bool:
    return provider in (None, ANTHROPIC)
