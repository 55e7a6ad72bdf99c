"""Error texts Claude Code 2.1.332 writes into its transcripts, read from the client itself.

Source: the JavaScript embedded in the native binary of @anthropic-ai/claude-code-linux-x64 2.1.332
(`strings -n 8` on it): the function that turns an API or transport error into the final API-error record
(`isApiErrorMessage: true`, with `error`, `apiError`, `apiErrorStatus`), the connection-error formatter
that writes `error.formatted` on retry records and the text of the finals, and the stream-cut notices.
Each row is one text as that code builds it, the record fields it writes beside it, and the condition that
produces it (the comment): the evidence for its class. Texts the documented-error table already holds
(tests/test_classify_documented.py) are not repeated. Rows marked "run here" were also written by the real
client against tests/fake_anthropic.py (tests/test_realclient_texts.py).

Two checks per row: the text alone (`claimback doctor explain`), and the final record with its fields
through the real ingest. `text_expected` differs from `expected` only where the record's fields say what
the text does not (the client's `apiError` kind, or the coarse `error` field of a text with no cause).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from records import SESSION, ingest_final_errors, user_prompt, write

from claimback.core import provider
from claimback.core.classify import (
    AUTH,
    DEPLOYMENT_CONFIG,
    INTERRUPT,
    LOCAL_RUNTIME,
    MODEL_PROVIDER,
    NETWORK,
    OUTAGE,
    QUOTA_RATE,
    UNKNOWN,
    classify,
)
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest

GATEWAY = " If it persists, check your inference gateway (127.0.0.1:4000)."
STATUS_PAGE = " If it persists, check https://status.claude.com."


@dataclass(frozen=True)
class ClientText:
    text: str
    expected: str
    # The final record's fields as the client writes them: {"error": …, "status": …, "apiError": …};
    # None: never a final record of its own (checked as text only).
    record: dict[str, Any] | None = field(default_factory=dict)
    text_expected: str | None = None  # the class of the text alone, when the fields add evidence


C = ClientText
CLIENT_TEXTS: list[ClientText] = [
    # --- A connection that failed with no HTTP answer (an APIConnectionError; the text names the code) -
    # ECONNRESET/EPIPE/ECONNABORTED/ConnectionClosed/ERR_SOCKET_CLOSED/UND_ERR_SOCKET/Malformed_HTTP_Response:
    # "Connection dropped (CODE)", plus advice on a first-party route. Run here (the fake API resets).
    C("API Error: Connection dropped (ECONNRESET). Check the gateway set in ANTHROPIC_BASE_URL, then try "
      "again.", NETWORK, {"error": "server_error", "apiError": "connection_failed"}),
    C("API Error: Connection dropped (ECONNRESET). Check the proxy set in HTTPS_PROXY and the gateway set in "
      "ANTHROPIC_BASE_URL, then try again.", NETWORK, {"error": "server_error", "apiError": "connection_failed"}),
    C("API Error: Connection dropped (EPIPE). A VPN, firewall, or security software can cause this. Check "
      "those or switch networks, then try again.", NETWORK, {"error": "server_error"}),
    C("API Error: Connection dropped (ConnectionClosed)", NETWORK, {"error": "server_error"}),
    C("API Error: Connection dropped (Malformed_HTTP_Response)", NETWORK, {"error": "server_error"}),
    # ECONNREFUSED/ConnectionRefused; ENOTFOUND/EAI_AGAIN/FailedToOpenSocket; ENETUNREACH/ENETDOWN/
    # EHOSTUNREACH/EHOSTDOWN; ERR_PROXY_TUNNEL; a redirect (a captive portal): the request never left.
    C("API Error: Connection refused — a firewall or proxy may be blocking it (ECONNREFUSED)", LOCAL_RUNTIME,
      {"error": "server_error", "apiError": "connection_failed"}),
    C("API Error: Can't reach the API server — check your internet or DNS (ENOTFOUND)", LOCAL_RUNTIME,
      {"error": "server_error", "apiError": "connection_failed"}),
    C("API Error: Can't reach the API server — check your internet or DNS (FailedToOpenSocket)", LOCAL_RUNTIME,
      {"error": "server_error"}),
    C("API Error: No internet route — check your connection or VPN (EHOSTDOWN)", LOCAL_RUNTIME,
      {"error": "server_error", "apiError": "connection_failed"}),
    C("API Error: Couldn't connect through your proxy (ERR_PROXY_TUNNEL) — the proxy refused the tunnel: "
      "check its credentials and that it allows this host", LOCAL_RUNTIME, {"error": "server_error"}),
    C("API Error: Unable to connect to API: sign in to network or proxy. The request was redirected "
      "(RedirectRefused). If that does not help, ask the network's administrator to let api.anthropic.com "
      "through", LOCAL_RUNTIME, {"error": "server_error"}),
    # A suspended stream (code StreamSuspended): "Connection lost" on a remote host, "… while your computer
    # was asleep" elsewhere, with `apiError: "computer_slept"`.
    C("API Error: Connection lost", NETWORK, {"error": "server_error"}),
    C("API Error: Connection lost while your computer was asleep", LOCAL_RUNTIME,
      {"error": "server_error", "apiError": "computer_slept"}),
    # StreamTruncated (HTTP 200, then the stream ended early) after the last retry.
    C("API Error: Connection closed before the response finished", OUTAGE,
      {"error": "server_error", "apiError": "connection_failed"}),
    # No response headers within the first-byte window (StreamNoResponse, `apiError: "no_response"`).
    C("API Error: No response from API (waited 5m, then 10m on the retry). If a proxy or gateway on your "
      "network holds responses until they complete, raise API_TIMEOUT_MS or CLAUDE_STREAM_FIRST_BYTE_TIMEOUT_MS "
      "to wait longer.", NETWORK, {"error": "server_error", "apiError": "no_response"}),
    # An idle connection (ConnectionIdle) and the stream-idle limit on a first-party route.
    C("API Error: Request timed out", NETWORK, {"error": "server_error"}),
    C("Request timed out. If a proxy or gateway on your network holds responses until they complete, set "
      "CLAUDE_STREAM_IDLE_TIMEOUT_MS above the limit in force (300000 by default, up to 1800000), and "
      "API_TIMEOUT_MS at least as high.", NETWORK, {"error": "server_error"}),
    # A routing layer turned the request away before any work (RouteTurnedAway, with the status it gave).
    C("API Error: The API is temporarily unavailable", OUTAGE, {"error": "server_error"}),
    # A connection lost outside the HTTP client (StreamTruncated, StreamSuspended, closed/timeout/refused
    # codes): "Connection to the API was lost (CODE)"; the code decides, `apiError` when it says sleep.
    # Run here: a cut non-streaming fallback ends with ECONNRESET.
    C("API Error: Connection to the API was lost (ECONNRESET). This is usually temporary — try again.",
      NETWORK, {"error": "server_error", "apiError": "connection_failed"}),
    C("API Error: Connection to the API was lost (StreamTruncated). This is usually temporary — try again.",
      OUTAGE, {"error": "server_error", "apiError": "connection_failed"}),
    C("API Error: Connection to the API was lost (ECONNREFUSED). This is usually temporary — try again.",
      LOCAL_RUNTIME, {"error": "server_error", "apiError": "connection_failed"}),
    C("API Error: Connection to the API was lost (StreamSuspended). This is usually temporary — try again.",
      LOCAL_RUNTIME, {"error": "server_error", "apiError": "computer_slept"}, text_expected=NETWORK),
    # A body that could not be decoded (ZlibError, BrotliDecompressionError, ZstdDecompressionError,
    # InvalidHTTPResponse): whoever sent it, no HTTP-level proof.
    C("API Error: The response could not be read (ZlibError). Try again. If it keeps happening, check any "
      "proxy or gateway between Claude Code and the API.", NETWORK, {"error": "unknown"}),
    C("API Error: The response could not be read (InvalidHTTPResponse). Try again.", NETWORK, {"error": "unknown"}),
    # TLS codes (the certificate store, an intercepting proxy).
    C("API Error: Unable to connect to API: SSL certificate has expired", LOCAL_RUNTIME, {"error": "server_error"}),
    C("API Error: Unable to connect to API: SSL certificate hostname mismatch", LOCAL_RUNTIME,
      {"error": "server_error"}),
    C("API Error: Unable to connect to API: SSL error (ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC)",
      LOCAL_RUNTIME, {"error": "server_error", "apiError": "tls_untrusted_ca"}),
    # HTTP 200 with a stream that carried no event, or a malformed one (the client's own error messages).
    C("API Error: Stream ended without receiving any events", OUTAGE, {"error": "unknown"}),
    C("API Error: Content block not found", OUTAGE, {"error": "unknown"}),
    # --- Stream cut notices (the stream broke after HTTP 200; `streamCutCause` beside them) -----------
    C("API Error: The response stopped arriving. The response above may be incomplete.", OUTAGE,
      {"error": "server_error", "apiError": "stream_idle_timeout"}),
    C("API Error: The response stalled before a response was produced. Try again.", OUTAGE,
      {"error": "server_error", "apiError": "stream_idle_timeout"}),
    C("API Error: Part of the response never arrived and no response was produced. Try again.", OUTAGE,
      {"error": "server_error"}),
    C("API Error: The response stream was malformed and no response was produced. Try again.", OUTAGE,
      {"error": "server_error"}),
    C("API Error: Your computer went to sleep before a response was produced. Try again.", LOCAL_RUNTIME,
      {"error": "server_error", "apiError": "computer_slept"}),
    # --- HTTP errors ------------------------------------------------------------------------------------
    # 5xx with a request-token code (`ccs_no_request_token`): the status text and nothing after it.
    C("API Error: 503 Service Unavailable.", OUTAGE, {"error": "server_error", "status": 503}),
    C("API Error: 502 Bad Gateway. This is a server-side issue, usually temporary — try again in a moment."
      + STATUS_PAGE, OUTAGE, {"error": "server_error", "status": 502}),
    # The 429 branch when no quota message applies: API-key sign-in ("Request rejected (429)") or a
    # subscriber's throttle (`apiErrorIsTransient: true`); no plan quota, never an outage window.
    C("API Error: Request rejected (429) · this may be a temporary capacity issue." + GATEWAY, QUOTA_RATE,
      {"error": "rate_limit", "status": 429}),
    # Subscriber, 429 with rate-limit headers but no message for them.
    C("No response requested.", QUOTA_RATE, {"error": "rate_limit", "status": 429}, text_expected=UNKNOWN),
    # Usage credits (plan overage): ran out mid-response, a model that needs them, none left, spend caps.
    C("API Error: Usage credits ran out before the response was finished.", QUOTA_RATE, {"error": "unknown"}),
    C("Claude Opus 4.7 requires usage credits. Run /usage-credits to keep using Claude Opus 4.7 or /model to "
      "switch models.", QUOTA_RATE, {"error": "rate_limit", "status": 429, "apiError": "model_requires_usage_credits"}),
    C("You're out of usage credits. /model to switch models.", QUOTA_RATE,
      {"error": "rate_limit", "status": 429, "apiError": "model_requires_usage_credits"}),
    C("You've hit your monthly spend limit. /model to switch models.", QUOTA_RATE,
      {"error": "rate_limit", "status": 429, "apiError": "model_requires_usage_credits"}),
    # Cloud credentials the provider chain could not find (`error: "cloud_credential_error"`).
    C("API Error: Could not load AWS credentials · Failed to resolve AWS credentials from the credential "
      "provider chain. Check or refresh your AWS credentials and try again.", DEPLOYMENT_CONFIG,
      {"error": "cloud_credential_error"}),
    C("API Error: Could not load Google Cloud credentials · Could not load the default credentials. Check or "
      "refresh your Google Cloud credentials and try again.", DEPLOYMENT_CONFIG, {"error": "cloud_credential_error"}),
    C("API Error: Could not load Azure credentials · EnvironmentCredential is unavailable. Check or refresh "
      "your Azure credentials and try again.", DEPLOYMENT_CONFIG, {"error": "cloud_credential_error"}),
    # Bedrock 403 for a model the account may not call: model access, a console setting.
    C("AWS authentication failed · enable this model for your account and region in the Amazon Bedrock "
      "console, or run /model to pick another model · API Error: 403 You don't have access to the model with "
      "the specified model ID.", DEPLOYMENT_CONFIG,
      {"error": "authentication_failed", "status": 403, "apiError": "provider_credentials"}),
    C("Google Cloud credentials expired or invalid · refresh your Google Cloud credentials (application "
      "default sign-in, or the key file in GOOGLE_APPLICATION_CREDENTIALS) and retry · API Error: 401 "
      "Unauthorized", AUTH, {"error": "authentication_failed", "status": 401, "apiError": "provider_credentials"}),
    C("Microsoft Foundry authentication failed · refresh your Foundry credential (ANTHROPIC_FOUNDRY_AUTH_TOKEN, "
      "ANTHROPIC_FOUNDRY_API_KEY, Azure sign-in for Entra, or your proxy token) and retry · if credentials are "
      "current, check access to the Foundry resource · API Error: 401 Unauthorized", AUTH,
      {"error": "authentication_failed", "status": 401, "apiError": "provider_credentials"}),
    C("Gateway refused the request · signing in again won't change this — check with your gateway "
      "administrator · API Error: 403 Forbidden", AUTH, {"error": "authentication_failed", "status": 403}),
    # The network's edge refused the request (HTTP 403 from Cloudflare: region, VPN or hosting network).
    C("API Error: Request blocked before it reached Anthropic's API (HTTP 403) · the network this request came "
      "from isn't allowed: usually an unsupported region, or a VPN, proxy or hosting network · signing in "
      "again won't change this · check your VPN or network and retry · supported regions: "
      "https://anthropic.com/supported-countries", LOCAL_RUNTIME,
      {"error": "invalid_request", "status": 403, "apiError": "network_edge_blocked"}),
    # --- Sign-in texts the client writes with `error: "invalid_request"` or its own kinds ---------------
    C("Login expired · Claude Code tried your saved Claude Console API key instead, but it doesn't have "
      "enough credit · Or add funds: https://platform.claude.com/settings/billing", AUTH,
      {"error": "authentication_failed", "status": 400}),
    C("Login reached its time limit · Please run /login", AUTH, {"error": "authentication_failed"}),
    C("Invalid auth token · Fix external auth token · header value contains a newline", AUTH,
      {"error": "invalid_request", "apiError": "invalid_credential_header"}),
    C("Invalid ANTHROPIC_CUSTOM_HEADERS · Fix the environment variable · header name is empty",
      DEPLOYMENT_CONFIG, {"error": "invalid_request"}),
    C("Invalid request header from the environment · Fix the environment variable · value has a newline",
      DEPLOYMENT_CONFIG, {"error": "invalid_request"}),
    C("Your account is on hold and can't use Claude Code. View details or appeal: https://claude.ai/appeal",
      AUTH, {"error": "account_on_hold"}),
    C("Anthropic profile login expired · Re-authenticate your Anthropic profile", AUTH, {"error": "invalid_request"}),
    C("Your apiKeyHelper script is failing · This usually means you need to re-authenticate with your "
      "provider · Run /status to see the script's error output", AUTH, {"error": "invalid_request", "status": 401}),
    # --- Failures on this machine the client files under sign-in or server errors -------------------------
    # The login refresh lock is held by another Claude Code process (`error: "server_error"`), the config
    # disk is full, the Keychain refused the write: nothing the API or the credential did.
    C("Could not refresh your login because another Claude Code process is refreshing it (or exited "
      "mid-refresh) · Try again in a minute; if it keeps happening, close other Claude Code windows or sign "
      "in again with /login", LOCAL_RUNTIME, {"error": "server_error"}),
    C("Failed to refresh OAuth token: another Claude Code process is refreshing it or exited mid-refresh. "
      "This is usually transient; retry in a minute, and if it persists close other Claude Code processes or "
      "sign in again", LOCAL_RUNTIME, {"error": "server_error"}),
    C("Could not refresh your login: the disk that holds the Claude Code config directory (~/.claude by "
      "default), or your disk quota on it, is full · Delete files you no longer need on that disk, then try "
      "again · Signing in again won't help", LOCAL_RUNTIME, {"error": "invalid_request"}),
    C("Could not refresh your login: can't save to the Keychain · If locked, run security unlock-keychain · "
      "In a sandbox, run claude outside it · Otherwise, retry, then /login", LOCAL_RUNTIME,
      {"error": "invalid_request", "apiError": "oauth_refresh_store_refused"}),
    C("A mod's http.fetch hook stopped this request: blocked by the local policy", LOCAL_RUNTIME,
      {"error": "invalid_request", "apiError": "hook_denied"}),
    # --- Request errors (the request itself) -------------------------------------------------------------
    C("An image in the conversation exceeds the dimension limit for many-image requests (2000px). Run "
      "/compact to remove old images from context, or start a new session.", MODEL_PROVIDER,
      {"error": "invalid_request", "status": 400}),
    C("API Error: an image in the conversation could not be processed and was removed. Double press esc to "
      "edit your message, or re-read the file if you still need it.", MODEL_PROVIDER,
      {"error": "invalid_request", "status": 400, "apiError": "media_removed"}),
    C("Request too large for the API's 32 MB request limit: this conversation is about 40 MB, and none of it "
      "is images or documents that could be removed, so removing attachments or compacting cannot make it "
      "fit.", MODEL_PROVIDER, {"error": "invalid_request", "status": 413}),
    C("API Error: Effort 'max' isn't available with thinking turned off on this model · run /effort high to "
      "continue, or turn thinking back on (unset MAX_THINKING_TOKENS=0)", MODEL_PROVIDER,
      {"error": "invalid_request", "status": 400, "apiError": "effort_requires_thinking"}),
    C("API Error: 400 orphaned tool_result in conversation history. Run /rewind to recover the conversation.",
      MODEL_PROVIDER, {"error": "invalid_request", "status": 400, "apiError": "tool_history_mismatch"}),
    C("API Error: Claude Code 2.1.332 does not support this model; version 2.2.0 or newer is required",
      MODEL_PROVIDER, {"error": "invalid_request", "status": 400, "apiError": "claude_code_version_too_old"}),
    C("The model claude-opus-9 is not available on your bedrock deployment. Try /model to switch to "
      "claude-opus-4-7, or ask your admin to enable this model.", MODEL_PROVIDER,
      {"error": "model_not_found", "status": 404}),
    # Finals the client writes with only its typed kind (`apiError`; `error` absent): the model's empty
    # reply or unparsable tool call after the retry, a context that refills after every compaction, a
    # message over the context window, a cloud session's unattended restart limit, an unanswered or
    # declined usage-credits prompt.
    C("The model returned an empty response (retry also failed).", MODEL_PROVIDER,
      {"error": None, "apiError": "empty_completion"}),
    C("The model's tool call could not be parsed (retry also failed).", MODEL_PROVIDER,
      {"error": None, "apiError": "malformed_tool_use_exhausted"}),
    C("Autocompact is thrashing: the context refilled to the limit within 3 turns of the previous compact, 3 "
      "times in a row.", MODEL_PROVIDER, {"error": "invalid_request", "apiError": "autocompact_thrashing"}),
    C("This message is too long to send, so Claude didn't get it. Send a shorter one.", MODEL_PROVIDER,
      {"error": None, "apiError": "message_over_context_limit"}),
    C("This session restarted with no new message, and Claude has stopped continuing it automatically. Send a "
      "message to continue.", LOCAL_RUNTIME, {"error": None, "apiError": "unattended_start_limit"}),
    C("Claude stopped here because Claude Opus 4.7 now requires usage credits. To keep this agent going, switch "
      "models or continue with usage credits.", QUOTA_RATE, {"error": None, "apiError": "consent_unanswered"}),
    C("Auto mode doesn't run on Claude Haiku 4.5, and the model policy no longer allows Claude Opus 4.7 · /model "
      "to pick another model", QUOTA_RATE, {"error": None, "apiError": "no_allowed_fallback"},
      text_expected=UNKNOWN),
    # --- A conversation too large for the API, and the compaction the client recovers it with ------------
    # Run here (tests/test_realclient_shapes.py): a subagent's 400 "prompt is too long" is compacted and
    # re-sent; when the compaction's own request fails the final says why, after this prefix. The refusal
    # was being recovered from: the compaction's error decides (it was `model_provider` by the 400).
    C("Prompt is too long · automatic compaction failed: API Error: 529 Overloaded. This is a server-side issue, "
      "usually temporary — try again in a moment." + GATEWAY, OUTAGE,
      {"error": "invalid_request", "status": 400}),
    C("Prompt is too long · automatic compaction failed: API Error: Connection dropped (ECONNRESET). Check the "
      "gateway set in ANTHROPIC_BASE_URL, then try again.", NETWORK, {"error": "invalid_request", "status": 400}),
    C("Prompt is too long · automatic compaction failed: Conversation too long. Press esc twice to go up a few "
      "messages and try again.", MODEL_PROVIDER, {"error": "invalid_request", "status": 400}),
    C("Agent terminated early due to an API error: Prompt is too long · automatic compaction failed: API Error: "
      "529 Overloaded. This is a server-side issue, usually temporary — try again in a moment." + GATEWAY +
      " (error type invalid_request, HTTP 400, request id req_011CT2OxHTQi5TMpUFn3NcLSLcwL)", OUTAGE, record=None),
    # --- Capacity ---------------------------------------------------------------------------------------
    C("Opus is experiencing high load. Switch to Sonnet.", OUTAGE, {"error": "rate_limit"}),
    C("Fable is experiencing high load, please use /model to switch to Sonnet", OUTAGE, {"error": "rate_limit"}),
    # --- The user stopped it -----------------------------------------------------------------------------
    C("API Error: Request was aborted.", INTERRUPT, {"error": "unknown"}),
    # --- A subagent's final error as its parent's tool result (the detail after the prefix decides) -------
    C("Agent terminated early due to an API error: API Error: Connection dropped (ECONNRESET). Check the "
      "gateway set in ANTHROPIC_BASE_URL, then try again. (error type server_error, model sent to the API: "
      "claude-sonnet-4-6)", NETWORK, record=None),
    C("Agent terminated early due to an API error: Could not refresh your login because another Claude Code "
      "process is refreshing it (or exited mid-refresh) (error type server_error)", LOCAL_RUNTIME, record=None),
]

IDS = [c.text[:50] for c in CLIENT_TEXTS]


@pytest.mark.parametrize("row", CLIENT_TEXTS, ids=IDS)
def test_client_text(row: ClientText) -> None:
    assert classify(text=row.text) == (row.text_expected or row.expected)


RECORDED = [c for c in CLIENT_TEXTS if c.record is not None]


@pytest.fixture(scope="module")
def client_ledger(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every row as its final API-error record (a prompt, then the record), ingested once."""
    return ingest_final_errors(tmp_path_factory.mktemp("client-texts"), "client", [
        (row.text, {k: v for k, v in row.record.items() if k in ("error", "status", "apiError")})
        for row in RECORDED])


@pytest.mark.parametrize("n", range(len(RECORDED)), ids=[c.text[:50] for c in RECORDED])
def test_client_final_record(client_ledger: dict[str, dict[str, Any]], n: int) -> None:
    row = RECORDED[n]
    got = client_ledger[f"client-{n}"]
    assert got["kind"] == ("interrupt" if row.expected == INTERRUPT else "final")
    assert got["failure_class"] == row.expected
    if row.record.get("status") and row.expected != INTERRUPT:
        assert got["status"] == row.record["status"]


@pytest.mark.parametrize(("text", "route"), [
    # 2.1.332's "If it persists, check your <service> service status." names the provider (its names:
    # Amazon Bedrock, Amazon Bedrock (Mantle), Google Vertex AI, Microsoft Foundry), as does Foundry's 401.
    ("API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a moment. If it "
     "persists, check your Microsoft Foundry service status.", provider.FOUNDRY),
    ("API Error: 503 Service Unavailable. This is a server-side issue, usually temporary — try again in a "
     "moment. If it persists, check your Amazon Bedrock (Mantle) service status.", provider.BEDROCK),
    ("Microsoft Foundry authentication failed · … · API Error: 401 Unauthorized", provider.FOUNDRY),
    # Claude Platform on AWS / on Google Cloud point at Anthropic's status page: no other route is named.
    ("API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a moment. If it "
     "persists, check https://status.claude.com and Google Cloud's status page.", None),
])
def test_the_service_a_final_names_is_its_provider(text: str, route: str | None) -> None:
    assert provider.judge(text=text) == route


# The retry record of each connection failure, as 2.1.332 writes it: `error.formatted` is the same
# formatter's text as the final's, `connection.code` the code, `isNetworkDown` the client's verdict for
# refused, unresolved, unreachable and proxy-refused codes (the reset row was run here).
def _attempt(code: str, formatted: str, *, network_down: bool = False, status: int | None = None,
             message: str = "Connection error.") -> dict[str, Any]:
    return {"message": message, "status": status, "formatted": formatted,
            "connection": {"code": code, "message": formatted, "isSSLError": code.startswith("CERT")},
            "isNetworkDown": network_down, "rateLimits": None, "noResponse": None}


ATTEMPTS: list[tuple[dict[str, Any], str]] = [
    (_attempt("ECONNRESET", "Connection dropped (ECONNRESET)"), NETWORK),
    (_attempt("Malformed_HTTP_Response", "Connection dropped (Malformed_HTTP_Response)"), NETWORK),
    (_attempt("ECONNREFUSED", "Connection refused — a firewall or proxy may be blocking it (ECONNREFUSED)",
              network_down=True), LOCAL_RUNTIME),
    (_attempt("ENOTFOUND", "Can't reach the API server — check your internet or DNS (ENOTFOUND)",
              network_down=True), LOCAL_RUNTIME),
    (_attempt("StreamSuspended", "Connection lost while your computer was asleep"), LOCAL_RUNTIME),
    (_attempt("StreamSuspended", "Connection lost"), NETWORK),  # a remote host: no sleep to blame
    (_attempt("StreamTruncated", "Connection closed before the response finished"), OUTAGE),
    (_attempt("StreamNoResponse", "No response from API",
              message="No response from API within the first-byte window"), NETWORK),
    (_attempt("ConnectionIdle", "Request timed out"), NETWORK),
    (_attempt("CERT_HAS_EXPIRED", "Unable to connect to API: SSL certificate has expired"), LOCAL_RUNTIME),
    (_attempt("RouteTurnedAway", "The API is temporarily unavailable", status=503,
              message="the request was turned away before any work was done on it"), OUTAGE),
]


@pytest.fixture(scope="module")
def attempt_ledger(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("client-attempts")
    lines: list[dict[str, Any]] = []
    for n, (error, _) in enumerate(ATTEMPTS):
        minute = f"2026-05-15T01:{n:02d}"
        lines.append(user_prompt(f"prompt {n}", f"{minute}:00.000Z"))
        lines.append({"type": "system", "subtype": "api_error", "level": "error", "sessionId": SESSION,
                      "timestamp": f"{minute}:10.000Z", "uuid": f"attempt-{n}", "version": "2.1.332",
                      "error": error, "retryInMs": 600.0, "retryAttempt": 1, "maxRetries": 3,
                      "source": "request_retry"})
    write(root / "projects" / "-home-u-app" / f"{SESSION}.jsonl", lines)
    led = open_ledger(root / "ledger.sqlite3")
    ingest(led, [root / "projects"], machine="test")
    return {r["failure_key"]: r for r in led.rows("SELECT failure_key, kind, error_code, failure_class FROM failures")}


@pytest.mark.parametrize("n", range(len(ATTEMPTS)), ids=[e["formatted"][:40] for e, _ in ATTEMPTS])
def test_client_retry_record(attempt_ledger: dict[str, dict[str, Any]], n: int) -> None:
    error, expected = ATTEMPTS[n]
    row = attempt_ledger[f"attempt-{n}"]
    assert (row["kind"], row["error_code"], row["failure_class"]) == ("retry", error["connection"]["code"], expected)


# Every entry type 2.1.332's transcript writer lists (its table of entry kinds, read from the binary) and
# the notices it writes as `system` records: skipped by name, none counted as unknown, none a request or a
# failure (a model_fallback's attempts are their own records; tests/test_realclient_texts.py).
WRITER_TYPES = ("api-request-resumed", "file-history-delta", "continued-in", "resume-head-vouch",
                "content-replacement", "data-flow-records", "data-flow-incomplete", "derived-from",
                "fork-context-ref", "frame-link", "observer-ref", "ended-by-model", "relocated", "agent-color",
                "agent-setting", "artifact-comment-monitor", "artifact-autoreact-ledger", "bridge-session",
                "history-suppression", "attribution-snapshot", "isolation-latch", "session-owner", "dev-mods",
                "memory-mode", "worktree-state", "host-row", "repl-mode", "hybrid-organization")
WRITER_NOTICES = ("model_fallback", "model_consent_fallback", "model_refusal_no_fallback", "permission_retry",
                  "cloud_session_status", "rewind_stand_in")


def test_every_entry_kind_of_the_clients_writer_is_known(tmp_path) -> None:
    lines: list[dict[str, Any]] = [user_prompt("hello", "2026-05-15T01:00:00.000Z")]
    for n, kind in enumerate(WRITER_TYPES):
        lines.append({"type": kind, "sessionId": SESSION, "timestamp": f"2026-05-15T01:01:{n:02d}.000Z"})
    for n, subtype in enumerate(WRITER_NOTICES):
        lines.append({"type": "system", "subtype": subtype, "sessionId": SESSION, "level": "warning",
                      "content": "Switched to Haiku 4.5 due to high demand for Sonnet 4.6", "isMeta": False,
                      "uuid": f"notice-{n}", "timestamp": f"2026-05-15T01:02:{n:02d}.000Z"})
    write(tmp_path / "projects" / "-home-u-app" / f"{SESSION}.jsonl", lines)
    led = open_ledger(tmp_path / "ledger.sqlite3")
    result = ingest(led, [tmp_path / "projects"], machine="test")
    assert result.unknown_records == {}
    assert led.rows("SELECT COUNT(*) AS n FROM failures")[0]["n"] == 0
    assert led.rows("SELECT COUNT(*) AS n FROM requests")[0]["n"] == 0
    # The check can fail: a kind the writer does not list is still counted.
    write(tmp_path / "projects" / "-home-u-app" / f"{SESSION}.jsonl",
          lines + [{"type": "not-a-writer-kind", "sessionId": SESSION, "timestamp": "2026-05-15T01:03:00.000Z"}])
    assert ingest(led, [tmp_path / "projects"], machine="test").unknown_records == {"not-a-writer-kind": 1}
