"""Failure classification and signature normalization on real error strings.

Every string below was seen in the wild: in DESIGN.md / shared/examples/transcript-records.md, or in a
public issue report (the URL is given next to it). Fields (status, error type, cause code) are passed
the way Claude Code records them when a record carries them; the rest are text only, as a user pastes
them into `claimback doctor explain`.
"""

from __future__ import annotations

import pytest

from claimback.core.classify import (
    AUTH,
    CLASS_INFO,
    CLASSES,
    DEPLOYMENT_CONFIG,
    INTERRUPT,
    LOCAL_RUNTIME,
    MODEL_PROVIDER,
    NETWORK,
    OUTAGE,
    QUOTA_RATE,
    UNKNOWN,
    classify,
    extract_fields,
    normalize_signature,
)

OVERLOADED_JSON = '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'

# (text, expected class, where it was seen)
REAL_TEXTS: list[tuple[str, str, str]] = [
    # --- outage ---------------------------------------------------------------------------------
    ("API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a moment. "
     "If it persists, check https://status.claude.com.", OUTAGE, "transcript-records.md"),
    ('API Error: 500 {"type":"error","error":{"type":"api_error","message":"Internal server error"}}',
     OUTAGE, "transcript-records.md"),
    ("API Error: Connection lost mid-response. The response above may be incomplete.", OUTAGE,
     "transcript-records.md"),
    ("API Error: Stream idle timeout - partial response received", OUTAGE,
     "github.com/anthropics/claude-code/issues/51857"),
    (f"API Error (529 {OVERLOADED_JSON}) · Retrying in 1 seconds… (attempt 1/10)", OUTAGE,
     "github.com/anthropics/claude-code/issues/3558"),
    (f"API Error (529 {OVERLOADED_JSON}) · Retrying in 33 seconds… (attempt 10/10)", OUTAGE,
     "github.com/anthropics/claude-code/issues/2918"),
    (f"Error: 529 {OVERLOADED_JSON}\n    at B6.generate (file:///Users/someone/.claude/local/node_modules/"
     "@anthropic-ai/claude-code/cli.js:1262:2547)", OUTAGE, "github.com/anthropics/claude-code/issues/5184"),
    ("API Error: Repeated 529 Overloaded errors", OUTAGE, "github.com/lbjlaq/Antigravity-Manager/issues/983"),
    ("API Error: The socket connection was closed unexpectedly. For more information, pass `verbose: true` "
     "in the second argument to fetch()", NETWORK, "github.com/anthropics/claude-code/issues/65119"),
    ("API Error (Request timed out.) · Retrying in 1 seconds… (attempt 1/10)", NETWORK,
     "github.com/anthropics/claude-code/issues/3947"),
    ("API Error: Request timed out.", NETWORK, "github.com/anthropics/claude-code/issues/2728"),
    ("API Error: Unable to connect to API (ECONNRESET)", NETWORK,
     "github.com/anthropics/claude-code/issues/42949"),
    ("socket hang up", NETWORK, "DESIGN §5 (ECONNRESET family)"),
    ("API Error: Connection error.", NETWORK, "github.com/anthropics/claude-code/issues/19044"),
    ("Overloaded", OUTAGE, "retry record error.error.message, transcript-records.md"),
    # --- network: the connection went away with no HTTP answer (no proof of an outage alone) -----
    ("API Error: Request timed out (check API_TIMEOUT_MS)", NETWORK, "real 1.0.90 transcript (final error)"),
    # --- quota / rate / billing -----------------------------------------------------------------
    ("You've hit your session limit · resets 9:50pm (Asia/Saigon)", QUOTA_RATE, "transcript-records.md"),
    ("Claude AI usage limit reached|1736503200", QUOTA_RATE, "transcript-records.md"),
    ("Claude AI usage limit reached|1762952400", QUOTA_RATE, "github.com/anthropics/claude-code/issues/11429"),
    ("Claude usage limit reached. Your limit will reset at 3pm (America/Santiago).", QUOTA_RATE,
     "github.com/anthropics/claude-code/issues/9236"),
    ("You’ve hit your limit for Claude messages. Limits will reset at 9:30 AM.  View your usage details.",
     QUOTA_RATE, "github.com/anthropics/claude-code/issues/80062"),
    ('Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed '
     'your account\'s rate limit. Please try again later."},"request_id":"req_011CV2S4jxpPs7x8XWqHUiM7"}',
     QUOTA_RATE, "github.com/anthropics/claude-code/issues/11429"),
    ("Credit balance too low · Add funds: https://platform.claude.com/settings/billing", QUOTA_RATE,
     "github.com/anthropics/claude-code/issues/46277"),
    ('Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is '
     'too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}',
     QUOTA_RATE, "github.com/anthropics/claude-code/issues/5300"),
    # --- auth -----------------------------------------------------------------------------------
    ("Invalid API key · Please run /login", AUTH, "github.com/anthropics/claude-code/issues/6270"),
    ("Missing API key · Run /login", AUTH, "github.com/anthropics/claude-code/issues/6893"),
    ('API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"OAuth token has '
     'expired. Please obtain a new token or refresh your existing token."},"request_id":'
     '"req_011CUfEoUHxoPjKj7PJHsAZt"} · Please run /login', AUTH,
     "github.com/anthropics/claude-code/issues/10712"),
    ('API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"Invalid '
     'authentication credentials"},"request_id":"req_011CZqG3x3i7dqsprB5xnir7"}', AUTH,
     "github.com/anthropics/claude-code/issues/44930"),
    # the firewall in front of the API (its own body shape): a region, VPN or proxy, not a credential
    ('API Error: 403 {"error":{"type":"forbidden","message":"Request not allowed"}}', LOCAL_RUNTIME,
     "github.com/anthropics/claude-code/issues/1613"),
    ("Failed to authenticate. API Error: 403 Your client is not authorized to use this API key", AUTH,
     "github.com/Wei-Shaw/claude-relay-service/issues/1093"),
    ('Error: Could not resolve authentication method. Expected either apiKey or authToken to be set. Or for '
     'one of the "X-Api-Key" or "Authorization" headers to be explicitly omitted', AUTH,
     "github.com/anthropics/claude-code/issues/9222"),
    # --- model / provider -----------------------------------------------------------------------
    ('API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: '
     '216327 tokens > 200000 maximum"},"request_id":"req_011CTHk1mwGUHsoh8MJuB6fJ"}', MODEL_PROVIDER,
     "github.com/anthropics/claude-code/issues/7866"),
    ("Prompt is too long", MODEL_PROVIDER, "Claude Code's short form of the same 400"),
    ('API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: 128001 > '
     '64000, which is the maximum allowed number of output tokens for claude-opus-4-5-20251101"},'
     '"request_id":"req_011CXxg3eqF8ZMvqtkKHNjKQ"}', MODEL_PROVIDER,
     "github.com/anthropics/claude-code/issues/24451"),
    ("API Error: Claude's response exceeded the 32000 output token maximum. To configure this behavior, "
     "set the CLAUDE_CODE_MAX_OUTPUT_TOKENS environment variable.", MODEL_PROVIDER,
     "github.com/anthropics/claude-code/issues/18373"),
    ('API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"input length and '
     '`max_tokens` exceed context limit: 198981 + 21333 > 200000, decrease input length or `max_tokens` and '
     'try again"},"request_id":"req_011CSMpBih64Gz42SHKqX8mZ"}', MODEL_PROVIDER,
     "github.com/anymorph-ai/Claudable/issues/3"),
    ('API Error: 404 {"type":"error","error":{"type":"not_found_error","message":"model: '
     'claude-opus-4-5-20251101"},"request_id":"req_011CXogvAmvS5osjnLnazkix"}', MODEL_PROVIDER,
     "github.com/anthropics/claude-code/issues/23182"),
    ("There's an issue with the selected model (claude-haiku-4-5-20251001). It may not exist or you may not "
     "have access to it. Run /model to pick a different model.", MODEL_PROVIDER,
     "github.com/anthropics/claude-code/issues/41120"),
    ('API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"system: Invalid '
     'model name"}}', MODEL_PROVIDER, "github.com/anthropics/claude-code/issues/3051"),
    ('API Error: 400 {"error":{"code":"1211","message":"Unknown Model, please check the model code."}}',
     MODEL_PROVIDER, "github.com/ollama/ollama/issues/15839"),
    # --- local runtime --------------------------------------------------------------------------
    ("Unable to connect to API (ConnectionRefused) · Retrying in 11s · attempt 8/10", LOCAL_RUNTIME,
     "github.com/anthropics/claude-code/issues/71188"),
    ("Connection refused — a firewall or proxy may be blocking it (ConnectionRefused)", LOCAL_RUNTIME,
     "github.com/anthropics/claude-code/issues/93041"),
    ("Internal error: API Error: Unable to connect to API (ConnectionRefused)", LOCAL_RUNTIME,
     "github.com/aipoch/open-science/issues/1548"),
    ("Unable to connect to API (FailedToOpenSocket)", LOCAL_RUNTIME, "DESIGN §5"),
    ("Failed to connect to api.anthropic.com: UNABLE_TO_GET_ISSUER_CERT_LOCALLY", LOCAL_RUNTIME,
     "github.com/anthropics/claude-code/issues/8223"),
    ("Failed to connect to api.anthropic.com: SELF_SIGNED_CERT_IN_CHAIN", LOCAL_RUNTIME,
     "github.com/anthropics/claude-code/issues/2855"),
    ("API Error: Unable to connect to API: Self-signed certificate detected. Check your proxy or corporate "
     "SSL certificates", LOCAL_RUNTIME, "github.com/anthropics/claude-code/issues/74369"),
    ("API Error: Error: unable to get issuer certificate", LOCAL_RUNTIME,
     "github.com/anthropics/claude-code/issues/20194"),
    ("getaddrinfo ENOTFOUND api.anthropic.com", LOCAL_RUNTIME, "DESIGN §5 (ENOTFOUND)"),
    # --- deployment configuration ---------------------------------------------------------------
    ("API Error (claude-opus-4-6): 400 The provided model identifier is invalid.. Try --model to switch to "
     "us.anthropic.claude-opus-4-1-20250805-v1:0.", DEPLOYMENT_CONFIG,
     "github.com/anthropics/claude-code/issues/62536"),
    ("API Error (apac.anthropic.claude-sonnet-4-20250514-v1:0): 400 The provided model identifier is "
     "invalid.", DEPLOYMENT_CONFIG, "github.com/anthropics/claude-code/issues/1434"),
    ('Please run /login · API Error: 403 [{"error":{"code":403,"message":"Access to this model requires data '
     "sharing to be enabled for publisher 'anthropic'. Please set `PublisherModelConfig."
     "data_sharing_enabled_provider` to 'anthropic' via the setPublisherModelConfig API to use this model.\","
     '"status":"PERMISSION_DENIED"}}]', DEPLOYMENT_CONFIG, "github.com/caozhiyuan/copilot-api/issues/317"),
    ("Could not load credentials from any providers", DEPLOYMENT_CONFIG, "AWS SDK message on Bedrock"),
    # --- interruptions and unknowns ---------------------------------------------------------------
    ("[Request interrupted by user]", INTERRUPT, "transcript-records.md"),
    ("[Request interrupted by user for tool use]", INTERRUPT, "transcript-records.md"),
    ("Something odd happened", UNKNOWN, "not an error claimback knows"),
]


def test_enough_real_strings() -> None:
    assert len(REAL_TEXTS) >= 40
    assert {cls for _, cls, _ in REAL_TEXTS} >= set(CLASSES)


@pytest.mark.parametrize("text,expected,source", REAL_TEXTS, ids=[s for _, _, s in REAL_TEXTS])
def test_real_error_text(text: str, expected: str, source: str) -> None:
    assert classify(text=text) == expected, source


# Records as Claude Code writes them: fields plus text (transcript-records.md).
RECORDED: list[tuple[dict, str]] = [
    ({"status": 529, "error_type": "overloaded_error", "text": "Overloaded"}, OUTAGE),
    ({"code": "ECONNRESET", "text": "ECONNRESET"}, NETWORK),
    ({"status": 500, "error_type": "server_error", "text": "API Error: 500 {…}"}, OUTAGE),
    ({"status": 429, "error_type": "rate_limit",
      "text": "You've hit your session limit · resets 9:50pm (Asia/Saigon)"}, QUOTA_RATE),
    ({"status": 401, "error_type": "authentication_failed", "text": "Please run /login · API Error: 401 …"},
     AUTH),
    ({"status": 400, "error_type": "invalid_request", "text": "Prompt is too long"}, MODEL_PROVIDER),
    ({"error_type": "billing_error", "text": "Credit balance too low"}, QUOTA_RATE),
    ({"error_type": "max_output_tokens", "text": "API Error: Claude's response was cut off"}, MODEL_PROVIDER),
    ({"code": "FailedToOpenSocket", "text": "Was there a typo in the url or port?"}, LOCAL_RUNTIME),
    ({"code": "ConnectionRefused", "text": "Unable to connect to API (ConnectionRefused)"}, LOCAL_RUNTIME),
    ({"code": "ENOTFOUND", "text": "getaddrinfo ENOTFOUND api.anthropic.com"}, LOCAL_RUNTIME),
    # 2.1.33x retry records: `error.connection.code` — a stream cut after the 200 is the API's side...
    ({"code": "StreamTruncated", "text": "stream ended before message_stop"}, OUTAGE),
    # ...a reset connection is not proof on its own, and an empty `cause: {}` says nothing at all.
    ({"code": "ECONNRESET", "text": None}, NETWORK),
    ({"text": None}, UNKNOWN),
    # A field beats a misleading word in the text: a 529 that mentions a proxy is still an outage.
    ({"status": 529, "text": "upstream proxy returned 529"}, OUTAGE),
    # A relay's own refusals (2.1.7x behind a relay): an account out of money answers 401, a model the relay
    # turned off 500 api_error; the texts say which (our wording of the published shape).
    ({"status": 401, "error_type": "api_error", "text": "Insufficient account balance on this relay key"}, QUOTA_RATE),
    ({"status": 500, "error_type": "api_error", "text": "Permission denied: this model has been disabled here"},
     MODEL_PROVIDER),
    # `error: "unknown"` carries no information: the text decides.
    ({"error_type": "unknown", "text": "API Error: Stream idle timeout - partial response received"}, OUTAGE),
]


@pytest.mark.parametrize("fields,expected", RECORDED)
def test_recorded_fields(fields: dict, expected: str) -> None:
    assert classify(fields.get("status"), fields.get("error_type"), fields.get("code"),
                    fields.get("text")) == expected


def test_fields_read_from_text() -> None:
    assert extract_fields(f"API Error (529 {OVERLOADED_JSON}) · Retrying") == (529, "overloaded_error", None)
    assert extract_fields("API Error (claude-opus-4-6): 400 The provided model identifier is invalid.")[0] == 400
    assert extract_fields("Unable to connect to API (ECONNRESET)") == (None, None, "ECONNRESET")
    assert extract_fields("prompt is too long: 216327 tokens > 200000 maximum") == (None, None, None)


def test_every_class_has_advice() -> None:
    for cls in CLASSES + (INTERRUPT,):
        info = CLASS_INFO[cls]
        assert info.meaning and info.likely_cause and info.next_step


# --- normalization ---------------------------------------------------------------------------------
SAME_ERROR: list[tuple[str, str]] = [
    (f"API Error (529 {OVERLOADED_JSON}) · Retrying in 1 seconds… (attempt 1/10)",
     f"API Error (529 {OVERLOADED_JSON}) · Retrying in 35 seconds… (attempt 8/10)"),
    ("Claude AI usage limit reached|1736503200", "Claude AI usage limit reached|1762952400"),
    ("You've hit your session limit · resets 9:50pm (Asia/Saigon)",
     "You've hit your session limit · resets 3am (Europe/Berlin)"),
    ('API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: '
     '216327 tokens > 200000 maximum"},"request_id":"req_011CTHk1mwGUHsoh8MJuB6fJ"}',
     'API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: '
     '202717 tokens > 200000 maximum"},"request_id":"req_011CTHk2h6LFWsAhtqsioBV4"}'),
    ("Error: Connection error.\n    at makeRequest (/$bunfs/root/claude:801:4548) 2026-01-05T09:14:20.184Z",
     "Error: Connection error.\n    at makeRequest (/$bunfs/root/claude:934:4542) 2026-01-17T11:02:51.007Z"),
    ("Unable to connect to API (ConnectionRefused) · Retrying in 11s · attempt 8/10",
     "Unable to connect to API (ConnectionRefused) · Retrying in 2s · attempt 3/10"),
    ("agent a6f1c35340a7ae3cb failed in session 58ef7597-1111-4c2d-9e0f-0123456789ab",
     "agent 0b2e9d4c1f7a8e6d5 failed in session 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
]


@pytest.mark.parametrize("first,second", SAME_ERROR)
def test_same_error_same_signature(first: str, second: str) -> None:
    assert normalize_signature(first) == normalize_signature(second)


def test_different_errors_differ() -> None:
    assert normalize_signature("API Error: 529 Overloaded") != normalize_signature("API Error: 500 Overloaded")
    assert (normalize_signature("model: claude-opus-4-5-20251101")
            != normalize_signature("model: claude-sonnet-4-6"))


def test_signature_keeps_status_and_strips_ids() -> None:
    sig = normalize_signature('API Error: 401 {"request_id":"req_011CUfEoUHxoPjKj7PJHsAZt"}', status=401,
                              error_type="authentication_failed")
    assert sig.startswith("401 | authentication_failed | API Error: 401")
    assert "req_011" not in sig and "<id>" in sig


def test_signature_never_holds_secrets_paths_or_emails() -> None:
    text = ("Invalid x-api-key sk-ant-api03-AbCdEf0123456789_secretSECRET-xyz for me@example.com via "
            "http://bob:hunter2@proxy.corp.example:3128 reading /home/alice/.claude/settings.json "
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig")
    sig = normalize_signature(text)
    for leaked in ("sk-ant", "hunter2", "bob", "alice", "me@example.com", "eyJhbGci", "proxy.corp"):
        assert leaked not in sig, leaked


def test_signature_is_short_and_stable_for_empty() -> None:
    assert normalize_signature(None) == "<empty>"
    assert len(normalize_signature("x" * 5000)) <= 160
