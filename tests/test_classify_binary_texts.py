"""Claude Code 2.1.332's own error texts, read from its binary, classified and routed as claimback must.

A fourth corpus beside tests/test_classify_client_texts.py, test_classify_documented.py,
test_classify_public_texts.py and test_classify_unseen_texts.py (none of their texts is repeated here). The
source is the native executable of @anthropic-ai/claude-code-linux-x64 2.1.332 (a Bun build that carries
the client's JavaScript as text): `strings -n 12` over it, then the functions that turn an API or
connection error into the message of the final API-error record (the one that builds `content` with
`error`/`apiError` for each status, type and code), the connection-code formatter ("Connection error."
by code, the certificate switch), the usage-limit texts of a rejected 429, and /compact's errors. Each row
is written as a user sees it: the template's variables filled with our own plausible values (models, hosts,
sizes, codes), advice as the template appends it. `evidence` says which branch of the binary writes it
(the status, type or code that triggers it); docs/methodology.md, "Claude Code's own texts, from its
binary", names the rules these rows changed.

The same checks as the other corpora: the class of the text alone (`doctor explain`), its route
(`provider.judge(text=…)`: a text that names the provider's service proves that route; Claude Code's own
advice on the first-party route proves none, so the session's decides), and the text as the final
API-error record of a turn and as a failed attempt, each through the real ingest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import test_classify_client_texts
import test_classify_documented
import test_classify_public_texts
import test_classify_unseen_texts
from records import ingest_final_errors, ingest_text_rows

from claimback.core import provider
from claimback.core.classify import (
    AUTH,
    DEPLOYMENT_CONFIG,
    LOCAL_RUNTIME,
    MODEL_PROVIDER,
    NETWORK,
    OUTAGE,
    QUOTA_RATE,
    classify,
)

OTHER, BEDROCK, VERTEX, FOUNDRY = provider.OTHER, provider.BEDROCK, provider.VERTEX, provider.FOUNDRY
NONE = None  # the text proves no route: the session's (here Claude Code's default, Anthropic's) decides


@dataclass(frozen=True)
class Binary:
    text: str
    expected: str
    route: str | None
    evidence: str  # the branch of 2.1.332's binary that writes the text
    # The final record's fields as that branch writes them (`error`, `status` as apiErrorStatus, `apiError`);
    # None: never a final record of its own (a retry line, /compact's stderr).
    record: dict[str, Any] | None
    attempt: bool = True


B = Binary

BINARY: list[B] = [
    B("API Error: Can't reach the API server — check your internet or DNS (EAI_AGAIN)",
      LOCAL_RUNTIME, NONE, "'Connection error.' with ENOTFOUND/EAI_AGAIN/FailedToOpenSocket",
      {"error": "server_error", "apiError": "connection_failed"}),
    B("API Error: No internet route — check your connection or VPN (ENETUNREACH)",
      LOCAL_RUNTIME, NONE, "'Connection error.' with ENETUNREACH/ENETDOWN/EHOSTUNREACH/EHOSTDOWN",
      {"error": "server_error", "apiError": "connection_failed"}),
    B("API Error: Unable to connect to API (UND_ERR_CONNECT_TIMEOUT)",
      NETWORK, NONE, "'Connection error.' with any other code (default branch)",
      {"error": "server_error"}),
    B("API Error: Connection dropped (Malformed_HTTP_Response). A VPN, firewall, or security software can "
      "cause this. Check those or switch networks, then try again.",
      NETWORK, NONE, "'Connection error.' with ECONNRESET/EPIPE/…/Malformed_HTTP_Response, the first-party advice after it",
      {"error": "server_error"}),
    B("API Error: Connection dropped (EPIPE). Check the proxy set in HTTPS_PROXY, then try again.",
      NETWORK, NONE, "'Connection error.' with ECONNRESET/EPIPE/…/Malformed_HTTP_Response, the first-party advice after it",
      {"error": "server_error"}),
    B("API Error: Connection to the API was lost (ETIMEDOUT). This is usually temporary — try again.",
      NETWORK, NONE, "a system error code of the stale-connection set, error server_error",
      {"error": "server_error"}),
    B("API Error: Unable to connect to API: SSL certificate has been revoked",
      LOCAL_RUNTIME, NONE, "isSSLError: the switch on the certificate code",
      {"error": "server_error"}),
    B("API Error: Unable to connect to API: SSL certificate is not yet valid",
      LOCAL_RUNTIME, NONE, "isSSLError: the switch on the certificate code",
      {"error": "server_error"}),
    B("API Error: Unable to connect to API: SSL error (ERR_SSL_PACKET_LENGTH_TOO_LONG)",
      LOCAL_RUNTIME, NONE, "isSSLError: the switch on the certificate code",
      {"error": "server_error"}),
    B("API Error: Unable to connect to API: Self-signed certificate detected (SELF_SIGNED_CERT_IN_CHAIN). "
      "The certificate comes from an authority Claude Code doesn't trust, usually a TLS-inspecting corporate "
      "proxy or a gateway signed by a private CA: set NODE_EXTRA_CA_CERTS to that CA bundle, or add it to "
      "the system certificate store · see https://code.claude.com/docs/en/network-config",
      LOCAL_RUNTIME, NONE, "isSSLError: DEPTH_ZERO_SELF_SIGNED_CERT/SELF_SIGNED_CERT_IN_CHAIN",
      {"error": "server_error", "apiError": "tls_untrusted_ca"}),
    B("API Error: Unable to connect to API: SSL certificate verification failed (UNABLE_TO_GET_ISSUER_CERT). "
      "The certificates this computer trusts include a CA certificate whose own issuer is missing, often a "
      "leftover from a renewal: remove it from the system certificate store or the NODE_EXTRA_CA_CERTS file, "
      "or add its issuer there.",
      LOCAL_RUNTIME, NONE, "isSSLError: the switch on the certificate code",
      {"error": "server_error"}),
    B("API Error: Unable to connect to API: SSL certificate verification failed (CERT_SIGNATURE_FAILURE).",
      LOCAL_RUNTIME, NONE, "isSSLError: the switch on the certificate code",
      {"error": "server_error", "apiError": "tls_cert_signature_failure"}),
    B("Request timed out. If the API is slow to answer, or a proxy or gateway holds responses, set "
      "API_TIMEOUT_MS above the limit in force (600000 by default).",
      NETWORK, NONE, "the API_TIMEOUT_MS advice of a request timeout (error server_error)",
      {"error": "server_error"}),
    B("API Error: No response from API (waited 45s, then 90s on the retry). If a proxy or gateway on your "
      "network holds responses until they complete, raise API_TIMEOUT_MS or "
      "CLAUDE_STREAM_FIRST_BYTE_TIMEOUT_MS to wait longer.",
      NETWORK, NONE, "StreamNoResponse: no headers in the first-byte window, apiError no_response",
      {"error": "server_error", "apiError": "no_response"}),
    B("API Error: Stream idle timeout - no chunks received No data arrived for more than 5 minutes. To wait "
      "through longer pauses, set CLAUDE_STREAM_IDLE_TIMEOUT_MS above the limit in force (300000 by default, "
      "up to 1800000).",
      OUTAGE, NONE, "an Error's message plus the CLAUDE_STREAM_IDLE_TIMEOUT_MS advice",
      {"error": "unknown"}),
    B("API Error: Repeated 529 Overloaded errors. The API is at capacity — this is usually temporary. Try "
      "again in a moment. If it persists, check your inference gateway (llm-gw.corp.example).",
      OUTAGE, OTHER, "the repeated-529 text with the gateway's status advice (ANTHROPIC_BASE_URL set)",
      {"error": "server_error", "status": 529}),
    B("API Error: 500 Internal server error. This is a server-side issue, usually temporary — try again in a "
      "moment. If it persists, check your Amazon Bedrock service status.",
      OUTAGE, BEDROCK, "status >= 500 plus the status advice naming the provider (BP labels)",
      {"error": "server_error", "status": 500}),
    B("API Error: 500 Internal server error. This is a server-side issue, usually temporary — try again in a "
      "moment. If it persists, check your Google Vertex AI service status.",
      OUTAGE, VERTEX, "status >= 500 plus the status advice naming the provider (BP labels)",
      {"error": "server_error", "status": 500}),
    B("API Error: 503 Service Unavailable. This is a server-side issue, usually temporary — try again in a "
      "moment. If it persists, check your Microsoft Foundry service status.",
      OUTAGE, FOUNDRY, "status >= 500 plus the status advice naming the provider (BP labels)",
      {"error": "server_error", "status": 503}),
    B("API Error: 502 Bad Gateway. This is a server-side issue, usually temporary — try again in a moment. "
      "If it persists, check https://status.claude.com and Google Cloud's status page.",
      OUTAGE, NONE, "status >= 500 plus the status advice naming the provider (BP labels)",
      {"error": "server_error", "status": 502}),
    B("API Error: Server is temporarily limiting requests (not your usage limit) · this may be a temporary "
      "capacity issue. If it persists, check https://status.claude.com.",
      QUOTA_RATE, NONE, "429 on a subscription: 'Server is temporarily limiting requests (not your usage limit)'",
      {"error": "rate_limit", "status": 429}),
    B("API Error: Request rejected (429) · this may be a temporary capacity issue. If it persists, check "
      "your inference gateway (claude-proxy.internal:8443).",
      QUOTA_RATE, OTHER, "429 off a subscription, its body's words or the capacity advice",
      {"error": "rate_limit", "status": 429}),
    B("API Error: Request rejected (429) · spend limit reached · resets Dec 9",
      QUOTA_RATE, NONE, "429 off a subscription, its body's words or the capacity advice",
      {"error": "rate_limit", "status": 429}),
    B("You've hit your org's monthly spend limit · run /usage-credits to raise it, or visit "
      "https://claude.ai/admin-settings/usage",
      QUOTA_RATE, NONE, "the usage-limit text of a rejected 429 (org spend cap)",
      {"error": "rate_limit", "status": 429, "apiError": "usage_limit_reached"}),
    B("Your org is out of usage · contact your admin",
      QUOTA_RATE, NONE, "the usage-limit text of a rejected 429 (out_of_credits)",
      {"error": "rate_limit", "status": 429}),
    B("Your seat type doesn't include usage credits",
      QUOTA_RATE, NONE, "seat_tier_level_disabled / seat_tier_zero_credit_limit",
      {"error": "rate_limit", "status": 429}),
    B("Your usage allocation has been disabled by your admin",
      QUOTA_RATE, NONE, "member_level_disabled / member_zero_credit_limit",
      {"error": "rate_limit", "status": 429}),
    B("Your group's usage limit is set to $0",
      QUOTA_RATE, NONE, "group_zero_credit_limit",
      {"error": "rate_limit", "status": 429}),
    B("This service is disabled for your org",
      QUOTA_RATE, NONE, "org_service_level_disabled",
      {"error": "rate_limit", "status": 429}),
    B("Opus 4.7 requires usage credits. /model to switch models.",
      QUOTA_RATE, NONE, "apiError model_requires_usage_credits",
      {"error": "rate_limit", "status": 429, "apiError": "model_requires_usage_credits"}),
    B("You're out of usage credits. Run /usage-credits to keep using Opus 4.7 or /model to switch models.",
      QUOTA_RATE, NONE, "the usage-limit text of a rejected 429 (out_of_credits)",
      {"error": "rate_limit", "status": 429, "apiError": "model_requires_usage_credits"}),
    B("API Error: Usage credits required for 1M context · run /usage-credits to turn them on (they take "
      "effect after you restart Claude Code), or /model to switch to standard context",
      QUOTA_RATE, NONE, "apiError long_context_credits_required",
      {"error": "rate_limit", "status": 429, "apiError": "long_context_credits_required"}),
    B("Authentication required · Sign in again to continue",
      AUTH, NONE, "a gateway sign-in's 'not logged in' text",
      {"error": "authentication_failed", "apiError": "invalid_credential_header"}),
    B("Invalid ANTHROPIC_CUSTOM_HEADERS · Fix the environment variable · Header 'x-team' has invalid value",
      DEPLOYMENT_CONFIG, NONE, "a credential header from the environment Bun cannot send",
      {"error": "invalid_request"}),
    B("Failed to authenticate: OAuth token revoked. Please log in again or contact your administrator.",
      AUTH, NONE, "a revoked token in -p mode",
      {"error": "authentication_failed"}),
    B("Failed to authenticate: this login reached its time limit and cannot be renewed. Run `claude auth "
      "login` to sign in again, or use `claude setup-token` and set CLAUDE_CODE_OAUTH_TOKEN for unattended "
      "jobs",
      AUTH, NONE, "a login past its time limit in -p mode",
      {"error": "authentication_failed"}),
    B("Failed to authenticate: OAuth session expired and could not be refreshed. Run `claude auth login` to "
      "sign in again",
      AUTH, NONE, "an expired session that could not be refreshed, -p mode",
      {"error": "authentication_failed"}),
    B("Failed to refresh OAuth token: the disk that holds the Claude Code config directory (~/.claude by "
      "default), or your disk quota on it, is full. Delete files you no longer need on that disk and retry; "
      "signing in again won't help",
      LOCAL_RUNTIME, NONE, "OAuthRefreshDiskFullError in -p mode",
      {"error": "invalid_request"}),
    B("Failed to refresh OAuth token: can't save to the Keychain. If locked, run `security unlock-keychain`. "
      "If sandboxed, use `claude setup-token`. Otherwise, retry, then `claude auth login`",
      LOCAL_RUNTIME, NONE, "the Keychain refusing the refreshed token, -p mode (apiError oauth_refresh_store_refused)",
      {"error": "invalid_request", "apiError": "oauth_refresh_store_refused"}),
    B("Authentication error · This may be a temporary network issue, please try again",
      AUTH, NONE, "x-api-key refusal in a remote session",
      {"error": "authentication_failed"}),
    B("Authentication error · The gateway could not authenticate with its upstream provider — contact your "
      "gateway administrator",
      AUTH, OTHER, "x-api-key refusal on the 'Cloud gateway' provider",
      {"error": "invalid_request"}),
    B("Claude Code can't use your Claude subscription, usually because a payment is past due · Pay or renew "
      "at https://claude.ai/settings/billing (if you just paid, try again shortly), or use an Anthropic API "
      "key instead",
      QUOTA_RATE, NONE, "oauth_org_not_allowed on a Pro/Max plan",
      {"error": "oauth_org_not_allowed"}),
    B("Claude Code can't use the Anthropic Console sign-in saved on this computer, usually because it isn't "
      "for a Console account · Run /login and sign in with a Console account · To get one, go to "
      "https://platform.claude.com or ask your administrator",
      AUTH, NONE, "oauth_org_not_allowed with a saved Console sign-in",
      {"error": "oauth_org_not_allowed"}),
    B("Please run /login · API Error: 401 "
      "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"OAuth token has "
      "expired.\"},\"request_id\":\"req_011CZt7Qm2Lw9Rk4Vb8Nx3Hp\"}",
      AUTH, NONE, "401/403 on the first-party route, interactive",
      {"error": "authentication_failed", "status": 401}),
    B("Failed to authenticate. API Error: 401 "
      "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"invalid "
      "x-api-key\"},\"request_id\":\"req_011CZt7Rn3Mx0Sl5Wc9Oy4Iq\"}",
      AUTH, NONE, "401/403 on the first-party route, -p mode",
      {"error": "authentication_failed", "status": 401}),
    B("Your organization's gateway refused the request · your organization's credential helper gave the "
      "credential that was refused: ask your administrator · API Error: 401 Unauthorized",
      AUTH, OTHER, "401/403 behind an organization's gateway (credential helper)",
      {"error": "invalid_request", "status": 401}),
    B("AWS credentials expired or invalid · run /login and select \"Claude Platform on AWS · refresh "
      "credentials\", or run `aws sso login --profile dev` in another terminal · API Error: 401 The security "
      "token included in the request is expired",
      AUTH, BEDROCK, "401 on Claude Platform on AWS / Mantle, the refresh command",
      {"error": "authentication_failed", "status": 401, "apiError": "provider_credentials"}),
    B("AWS authentication failed · refresh your AWS credentials (SSO sign-in, access keys, API key or proxy "
      "token) and retry · if credentials are current, check AWS permissions and model access · API Error: "
      "403 User: arn:aws:iam::123456789012:user/dev is not authorized to perform: "
      "bedrock:InvokeModelWithResponseStream",
      AUTH, NONE, "Bedrock (any status) or a 403 on Claude Platform on AWS: no route proven",
      {"error": "authentication_failed", "status": 403, "apiError": "provider_credentials"}),
    B("AWS authentication failed · credentials are managed by this environment — retry, or contact your "
      "administrator · if credentials are current, check AWS permissions and model access · API Error: 403 "
      "Forbidden",
      AUTH, NONE, "Bedrock (any status) or a 403 on Claude Platform on AWS: no route proven",
      {"error": "authentication_failed", "status": 403, "apiError": "provider_credentials"}),
    B("Google Cloud credentials expired or invalid · run `gcloud auth application-default login` and retry · "
      "API Error: 401 Request had invalid authentication credentials. Expected OAuth 2 access token, login "
      "cookie or other valid authentication credential.",
      AUTH, VERTEX, "401 on Vertex / Claude Platform on Google Cloud",
      {"error": "authentication_failed", "status": 401, "apiError": "provider_credentials"}),
    B("Google Cloud authentication failed · refresh your Google Cloud credentials (application default "
      "sign-in, or the key file in GOOGLE_APPLICATION_CREDENTIALS) and retry · if credentials are current, "
      "check GCP IAM permissions and Vertex AI model access · API Error: 403 Permission "
      "'aiplatform.endpoints.predict' denied on resource",
      AUTH, VERTEX, "403 on Vertex: '… and Vertex AI model access'",
      {"error": "authentication_failed", "status": 403, "apiError": "provider_credentials"}),
    B("Google Cloud authentication failed · refresh the gateway token provided via "
      "ANTHROPIC_AUTH_TOKEN/ANTHROPIC_CUSTOM_HEADERS and retry · if credentials are current, check GCP IAM "
      "permissions and workspace access · API Error: 403 Forbidden",
      AUTH, NONE, "a credential header from the environment Bun cannot send",
      {"error": "invalid_request"}),
    B("Microsoft Foundry authentication failed · refresh your Foundry credential "
      "(ANTHROPIC_FOUNDRY_AUTH_TOKEN, ANTHROPIC_FOUNDRY_API_KEY, Azure sign-in for Entra, or your proxy "
      "token) and retry · if credentials are current, check access to the Foundry resource · API Error: 401 "
      "Access denied due to invalid subscription key or wrong API endpoint.",
      AUTH, FOUNDRY, "401/403 on Foundry",
      {"error": "authentication_failed", "status": 401, "apiError": "provider_credentials"}),
    B("API Error: Could not load Azure credentials · DefaultAzureCredential failed to retrieve a token from "
      "the included credentials. Check or refresh your Azure credentials and try again.",
      DEPLOYMENT_CONFIG, FOUNDRY, "an Azure identity error only with CLAUDE_CODE_USE_FOUNDRY (error cloud_credential_error)",
      {"error": "cloud_credential_error"}),
    B("API Error: Bedrock credentials are managed by the desktop app, but none are available. The app may "
      "have quit or its credential file is stale — restart the desktop app.",
      LOCAL_RUNTIME, BEDROCK, "host-managed credentials unavailable (labels Bedrock, Mantle, Foundry)",
      {"error": "unknown", "apiError": "provider_credentials"}),
    B("API Error: Foundry credentials are managed by the desktop app, but none are available. The app may "
      "have quit or its credential file is stale — restart the desktop app.",
      LOCAL_RUNTIME, FOUNDRY, "host-managed credentials unavailable (labels Bedrock, Mantle, Foundry)",
      {"error": "unknown", "apiError": "provider_credentials"}),
    B("API Error: Mantle credentials are managed by the desktop app, but none are available. Background "
      "agents and teammates are not supported for this credential kind. Run this from the main session, or "
      "switch the desktop app to a profile-based or API-key credential.",
      DEPLOYMENT_CONFIG, BEDROCK, "host-managed credentials unavailable (labels Bedrock, Mantle, Foundry)",
      {"error": "unknown", "apiError": "provider_credentials"}),
    B("Your account is on hold and can't use Claude Code. View details or appeal: "
      "https://claude.ai/appeal/acct_8f2k",
      AUTH, NONE, "error account_on_hold",
      {"error": "account_on_hold"}),
    B("There's an issue with the selected model (claude-opus-4-9). It may not exist or you may not have "
      "access to it. Run /model to pick a different model.",
      MODEL_PROVIDER, NONE, "404 on the first-party route",
      {"error": "model_not_found", "status": 404}),
    B("The model claude-opus-4-7 is not available on your bedrock deployment. Try /model to switch to Sonnet "
      "4.6, or ask your admin to enable this model.",
      MODEL_PROVIDER, BEDROCK, "404 on a cloud deployment",
      {"error": "model_not_found", "status": 404}),
    B("The model claude-opus-4-7 is not available on your vertex deployment. Try /model to switch to Sonnet "
      "4.6, or ask your admin to enable this model.",
      MODEL_PROVIDER, VERTEX, "404 on a cloud deployment",
      {"error": "model_not_found", "status": 404}),
    B("API Error (claude-opus-4-7): The provided model identifier is invalid.. Try /model to switch to "
      "Sonnet 4.6.",
      DEPLOYMENT_CONFIG, BEDROCK, "Bedrock's model-id refusal, the /model advice",
      {"error": "model_not_found", "status": 400}),
    B("Claude Opus is not available with the Claude Pro plan. If you have updated your subscription plan "
      "recently, run /logout and /login for the plan to take effect.",
      MODEL_PROVIDER, NONE, "400 invalid model name for Opus on Pro",
      {"error": "invalid_request", "status": 400}),
    B("Prompt is too long · the request is ~212000 tokens (limit 200000) but this conversation is only "
      "~41000 tokens — the rest is system prompt, tool definitions, and attachment content. A "
      "single-exchange conversation cannot be compacted; reduce attached files/tools or start with less "
      "context.",
      MODEL_PROVIDER, NONE, "the prompt-too-long detail when compaction cannot help",
      {"error": "invalid_request", "status": 400}),
    B("Request too large (max 32 MB). Run /compact, or double press esc to go back and remove attachments.",
      MODEL_PROVIDER, NONE, "413 request_too_large, its media measured",
      {"error": "invalid_request", "status": 413}),
    B("Request too large (max 32 MB; 29.4 MB of about 31.2 MB is images or documents). Run /compact, or "
      "double press esc to go back and remove attachments.",
      MODEL_PROVIDER, NONE, "413 request_too_large, its media measured",
      {"error": "invalid_request", "status": 413}),
    B("PDF too large (max 100 pages, 32 MB). Double press esc to go back and try again, or use pdftotext to "
      "convert to text first.",
      MODEL_PROVIDER, NONE, "the PDF limits",
      {"error": "invalid_request", "status": 400, "apiError": "pdf_too_large"}),
    B("The PDF file was not valid. Try converting it to text first (e.g., pdftotext).",
      MODEL_PROVIDER, NONE, "the PDF limits",
      {"error": "invalid_request", "status": 400}),
    B("API Error: this model does not accept PDF documents, so a PDF in the conversation was removed. Ask "
      "Claude to read specific pages of the file instead (they are sent as images), or switch to a model "
      "that reads PDFs.",
      MODEL_PROVIDER, NONE, "the PDF limits",
      {"error": "invalid_request", "status": 400, "apiError": "media_removed"}),
    B("API Error: 400 duplicate tool_use ID in conversation history. Run /rewind to recover the conversation.",
      MODEL_PROVIDER, NONE, "400 `tool_use` ids must be unique",
      {"error": "invalid_request", "status": 400, "apiError": "tool_history_mismatch"}),
    B("API Error: claude-haiku-4-5 cannot be used as an advisor when the request model is claude-opus-4-7 · "
      "The configured advisor model is not compatible with this request model — run /advisor to change or "
      "disable the advisor",
      MODEL_PROVIDER, NONE, "400 advisor model incompatible (apiError advisor_incompatible)",
      {"error": "invalid_request", "status": 400, "apiError": "advisor_incompatible"}),
    B("Auto mode is unavailable for your plan",
      MODEL_PROVIDER, NONE, "400 on the auto-mode beta header",
      {"error": "invalid_request", "status": 400}),
    B("API Error: Claude Opus 4.7's safeguards flagged this message (https://www.anthropic.com/legal/aup). "
      "This sometimes happens with safe, normal conversations. Claude Code can't respond to this message "
      "with Claude Opus 4.7.\nDouble press esc to edit your last message, or try a different model with "
      "/model.",
      MODEL_PROVIDER, NONE, "stop_reason refusal, error invalid_request",
      {"error": "invalid_request"}),
    B("API Error: Claude can't help with this. Start a new session to continue.\nSend feedback with "
      "/feedback or learn more: https://www.anthropic.com/legal/aup",
      MODEL_PROVIDER, NONE, "stop_reason refusal without a model name",
      {"error": "invalid_request"}),
    B("API returned an empty or malformed response (HTTP 502) — check for a proxy or gateway intercepting "
      "the request.",
      OUTAGE, NONE, "UnexpectedApiResponseError",
      {"error": "unknown"}),
    B("A mod's http.fetch hook stopped this request: blocked by policy",
      LOCAL_RUNTIME, NONE, "a mod's fetch hook (apiError hook_denied)",
      {"error": "invalid_request", "apiError": "hook_denied"}),
    B("Error during compaction: Compaction failed · conversation could not be reduced below the context limit",
      MODEL_PROVIDER, NONE, "/compact's error texts",
      None),
    B("Error during compaction: Compaction failed · attached media exceeds size limits",
      MODEL_PROVIDER, NONE, "/compact's error texts",
      None),
    B("Error during compaction: Compaction blocked by PreCompact hook",
      LOCAL_RUNTIME, NONE, "the PreCompact hook blocking /compact",
      None),
    B("Error during compaction: Failed to generate conversation summary - the model's reply has no <summary> "
      "block",
      MODEL_PROVIDER, NONE, "/compact's error texts",
      None),
    B("API Error: Not sent: no API attempts left",
      LOCAL_RUNTIME, NONE, "the attempt budget spent before sending (no_api_attempts_left)",
      {"error": "unknown"}),
    B("API Error (Connection refused — a firewall or proxy may be blocking it (ECONNREFUSED)) · Retrying in "
      "4 seconds… (attempt 2/10)",
      LOCAL_RUNTIME, NONE, "'Connection error.' with ECONNREFUSED, as the retry line shows it",
      None),
    B("API Error (No internet route — check your connection or VPN (EHOSTUNREACH)) · Retrying in 1 seconds… "
      "(attempt 1/10)",
      LOCAL_RUNTIME, NONE, "'Connection error.' with ENETUNREACH/ENETDOWN/EHOSTUNREACH/EHOSTDOWN",
      None),
    B("API Error (Connection dropped (UND_ERR_SOCKET)) · Retrying in 8 seconds… (attempt 5/10)",
      NETWORK, NONE, "'Connection error.' with ECONNRESET/EPIPE/…/Malformed_HTTP_Response, the first-party advice after it",
      None),
    B("API Error: Not signed in to the Cloud gateway — run /login.",
      AUTH, NONE, "the 'Cloud gateway' provider with nobody signed in (gateway_signin_required)",
      {"error": "unknown", "apiError": "gateway_signin_required"}),
    B("You've hit your fast limit · resets 4:20pm (UTC)",
      QUOTA_RATE, NONE, "the usage-limit text of a rejected 429 (the fast mode's limit)",
      {"error": "rate_limit", "status": 429, "apiError": "usage_limit_reached"}),
    B("You've hit your monthly limit — raise it below, or it resets next month.",
      QUOTA_RATE, NONE, "the usage-credits dialog's limit text", None),
    B("You've hit your channel's monthly spend limit. Switch to another model to continue.",
      QUOTA_RATE, NONE, "model_requires_usage_credits with a channel's spend cap, -p mode",
      {"error": "rate_limit", "status": 429, "apiError": "model_requires_usage_credits"}),
    B("You've hit your monthly spend limit · your weekly limit resets Dec 5, 9am (UTC)",
      QUOTA_RATE, NONE, "the usage-limit text of a rejected 429 (spend cap, the plan's next reset after it)",
      {"error": "rate_limit", "status": 429}),
    B("You've hit your org's monthly usage limit · resets Jan 1 (UTC)",
      QUOTA_RATE, NONE, "the usage-limit text of a rejected 429 (overage rejected, org cap)",
      {"error": "rate_limit", "status": 429}),
    B("Fable is experiencing high load. Switch to Sonnet.",
      OUTAGE, NONE, "the capacity off-switch text for the other model family (error rate_limit)",
      {"error": "rate_limit"}),
    B("API Error: Usage credits required for 1M context · an admin can turn on usage credits in admin settings "
      "on the web (they take effect in a new session), or use --model to switch to standard context",
      QUOTA_RATE, NONE, "apiError long_context_credits_required, -p mode on a team plan",
      {"error": "rate_limit", "status": 429, "apiError": "long_context_credits_required"}),
]


def _seen_elsewhere() -> set[str]:
    texts = [row.text for row in test_classify_client_texts.CLIENT_TEXTS]
    texts += [row.text for row in test_classify_documented.DOCUMENTED]
    texts += [row.text for row in test_classify_public_texts.PUBLIC]
    texts += [row.text for row in test_classify_unseen_texts.UNSEEN]
    texts += [attempt.get("formatted") or "" for attempt, _ in test_classify_client_texts.ATTEMPTS]
    return {_key(text) for text in texts}


def _key(text: str) -> str:
    # The same message with or without the client's "API Error: " in front is the same text.
    return re.sub(r"^api error:? ", "", " ".join(text.split()).lower())


IDS = [f"{n}-{row.text[:40]}" for n, row in enumerate(BINARY)]


def test_enough_texts_none_seen_before() -> None:
    keys = [_key(row.text) for row in BINARY]
    assert len(keys) >= 80 and len(set(keys)) == len(keys)
    assert not set(keys) & _seen_elsewhere()
    assert {row.route for row in BINARY} >= {NONE, OTHER, BEDROCK, VERTEX, FOUNDRY}
    assert {row.expected for row in BINARY} >= {OUTAGE, NETWORK, QUOTA_RATE, AUTH, MODEL_PROVIDER, LOCAL_RUNTIME,
                                                 DEPLOYMENT_CONFIG}


@pytest.mark.parametrize("row", BINARY, ids=IDS)
def test_binary_text_class(row: B) -> None:
    assert classify(text=row.text) == row.expected


@pytest.mark.parametrize("row", BINARY, ids=IDS)
def test_binary_text_route(row: B) -> None:
    assert provider.judge(text=row.text) == row.route


@pytest.fixture(scope="module")
def binary_ledger(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return ingest_text_rows(tmp_path_factory.mktemp("binary"), BINARY)


RECORDS = [(n, kind) for n in range(len(BINARY)) for kind in ("final", "retry")]


@pytest.mark.parametrize(("n", "kind"), RECORDS, ids=[f"{kind}-{IDS[n]}" for n, kind in RECORDS])
def test_binary_text_through_ingest(binary_ledger: dict[str, dict[str, Any]], n: int, kind: str) -> None:
    row = BINARY[n]
    got = binary_ledger[f"{kind}-{n}"]
    assert (got["kind"], got["failure_class"]) == (kind, row.expected)
    assert got["provider"] == (row.route or provider.ANTHROPIC)


RECORDED = [row for row in BINARY if row.record is not None]


@pytest.fixture(scope="module")
def own_records_ledger(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each text as the final record 2.1.332 writes for it: its own `error`, status and `apiError` beside it
    (a refusal has no status, a hosted credential `error: "unknown"`, the gateway's sign-in refusal
    `invalid_request`), which must not pull the class away from what the text says."""
    return ingest_final_errors(tmp_path_factory.mktemp("binary-own"), "own", [
        (row.text, {k: v for k, v in (row.record or {}).items()}) for row in RECORDED])


@pytest.mark.parametrize("n", range(len(RECORDED)), ids=[row.text[:50] for row in RECORDED])
def test_binary_text_as_the_record_the_client_writes(own_records_ledger: dict[str, dict[str, Any]], n: int) -> None:
    row = RECORDED[n]
    got = own_records_ledger[f"own-{n}"]
    assert (got["kind"], got["failure_class"]) == ("final", row.expected)
    if row.record and row.record.get("status"):
        assert got["status"] == row.record["status"]


def test_a_line_break_anywhere_between_words_changes_nothing() -> None:
    # A terminal wraps the client's long advice at its width: the new phrases must not depend on where.
    for row in BINARY:
        wrapped = row.text.replace(" ", "\n   ")
        assert (classify(text=wrapped), provider.judge(text=wrapped)) == (row.expected, row.route), row.text


def test_the_ambiguous_cloud_texts_prove_no_route() -> None:
    # 2.1.332 writes these on two routes each: "AWS authentication failed" on Bedrock and on Claude Platform
    # on AWS (Anthropic's), "Could not load Google Cloud credentials" on Vertex and on Claude Platform on
    # Google Cloud. Only the suffix that one route writes proves it.
    assert provider.judge(text="AWS authentication failed · refresh your AWS credentials and retry") is None
    assert provider.judge(text="API Error: Could not load AWS credentials · Failed to resolve AWS credentials "
                               "from the credential provider chain.") is None
    assert provider.judge(text="API Error: Anthropic-on-AWS credentials are managed by the desktop app, but "
                               "none are available.") is None
    assert provider.judge(text="Google Cloud authentication failed · … · if credentials are current, check GCP "
                               "IAM permissions and workspace access · API Error: 403 Forbidden") is None


def test_a_gateway_declared_as_anthropic_keeps_its_refusals_anthropic(monkeypatch: pytest.MonkeyPatch) -> None:
    # The gateway phrases follow CLAIMBACK_GATEWAY_UPSTREAM as LiteLLM's do: only the user knows what is behind.
    text = "Gateway refused the request · signing in again won't change this · API Error: 403 Forbidden"
    assert provider.judge(text=text) == OTHER
    monkeypatch.setenv(provider.GATEWAY_UPSTREAM_VAR, "anthropic")
    assert provider.judge(text=text) is None
