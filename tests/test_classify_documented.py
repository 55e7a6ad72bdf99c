"""Every runtime error Claude Code's error reference lists, classified as the reference explains it.

Source: Claude Code's "Error reference" (https://code.claude.com/docs/en/errors), its "Find your error"
table and every section, plus Anthropic's API error reference (https://platform.claude.com/docs/en/api/
errors) for the HTTP statuses. Each row is one message as Claude Code shows it: the documented example
text ("docs"), or the text Claude Code 2.1.332 wrote into its transcript here when the fake API in
tests/fake_anthropic.py answered with that error ("2.1.332", with the record's `error`, `apiErrorStatus`
and `apiErrorType` exactly as written), or a public report of the same message ("report").

Two checks per row: the text alone (what a user pastes into `claimback doctor explain`), and, for every
message Claude Code writes as its final API-error record, that record in a real-shaped transcript run
through the real ingest (so the parser's fields and the classifier agree). Messages that never become an
API-error record (a tool-permission notice, an install or command-line error, a startup warning) are
checked as text only. The class each row expects, and why, is the table in docs/methodology.md
("Claude Code's documented errors").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from records import ingest_final_errors

from claimback.core.classify import (
    AUTH,
    CLASS_INFO,
    CLASSES,
    DEPLOYMENT_CONFIG,
    LOCAL_RUNTIME,
    MODEL_PROVIDER,
    NETWORK,
    OUTAGE,
    QUOTA_RATE,
    UNKNOWN,
    classify,
)
from claimback.prevent.explain import explain

GATEWAY = "If it persists, check your inference gateway (127.0.0.1:35351)."
STATUS_PAGE = "If it persists, check https://status.claude.com."


@dataclass(frozen=True)
class Documented:
    section: str  # the reference's section anchor (code.claude.com/docs/en/errors#…)
    text: str
    expected: str
    source: str = "docs"
    # The final record's fields when Claude Code writes the message as an API-error record:
    # {"error": …, "status": …, "type": …}; None: never an API-error record (checked as text only).
    record: dict[str, Any] | None = field(default_factory=dict)


D = Documented
DOCUMENTED: list[Documented] = [
    # --- Server errors: the provider's side -------------------------------------------------------
    D("api-error-500-internal-server-error", "API Error: 500 Internal server error. This is a server-side "
      f"issue, usually temporary — try again in a moment. {STATUS_PAGE}", OUTAGE,
      record={"error": "server_error", "status": 500}),
    D("api-error-500-internal-server-error", "API Error: 500 Internal server error. This is a server-side "
      f"issue, usually temporary — try again in a moment. {GATEWAY}", OUTAGE, "2.1.332",
      {"error": "server_error", "status": 500, "type": "api_error"}),
    D("api-error-500-internal-server-error", "API Error: 504 Request timeout. This is a server-side issue, "
      f"usually temporary — try again in a moment. {GATEWAY}", OUTAGE, "2.1.332",
      {"error": "server_error", "status": 504, "type": "timeout_error"}),
    D("api-error-repeated-529-overloaded-errors", "API Error: Repeated 529 Overloaded errors. The API is at "
      f"capacity — this is usually temporary. Try again in a moment. {STATUS_PAGE}", OUTAGE,
      record={"error": "server_error", "status": 529}),
    D("api-error-repeated-529-overloaded-errors", "API Error: 529 Overloaded. This is a server-side issue, "
      f"usually temporary — try again in a moment. {GATEWAY}", OUTAGE, "2.1.332",
      {"error": "server_error", "status": 529, "type": "overloaded_error"}),
    D("api-error-repeated-529-overloaded-errors", "Opus is experiencing high load, please use /model to "
      "switch to Sonnet", OUTAGE, record=None),
    # The reference files a bare timeout under server errors ("during periods of high load"), and says a
    # slow network or proxy causes it too: no HTTP answer, so `network` (outage evidence only inside a
    # window, beside HTTP-level errors or an incident).
    D("request-timed-out", "Request timed out", NETWORK, record={"error": "unknown"}),
    D("request-timed-out", "API Error: Request timed out.", NETWORK, "report", {"error": "unknown"}),
    D("request-timed-out", "Request timed out. If the API is slow to answer, or a proxy or gateway holds "
      "responses, set API_TIMEOUT_MS above 1000.", NETWORK, "2.1.332", {"error": "server_error"}),
    # ... and the variant that mentions your internet connection belongs to "Unable to connect to API".
    D("unable-to-connect-to-api", "Request timed out. Check your internet connection and proxy settings",
      LOCAL_RUNTIME, record={"error": "server_error"}),
    D("the-response-above-may-be-incomplete", "API Error: Server error mid-response. The response above may "
      "be incomplete.", OUTAGE, "2.1.332", {"error": "server_error"}),
    D("the-response-above-may-be-incomplete", "API Error: Connection closed mid-response. The response above "
      "may be incomplete.", OUTAGE, record={"error": "server_error"}),
    D("the-response-above-may-be-incomplete", "API Error: Connection lost mid-response. The response above "
      "may be incomplete.", OUTAGE, "2.1.332 source", {"error": "server_error"}),
    D("the-response-above-may-be-incomplete", "API Error: Response stalled mid-stream. The response above "
      "may be incomplete.", OUTAGE, record={"error": "server_error"}),
    D("the-response-above-may-be-incomplete", "API Error: The response stopped arriving. The response above "
      "may be incomplete.", OUTAGE, "2.1.332 source", {"error": "server_error"}),
    D("the-response-above-may-be-incomplete", "API Error: Part of the response never arrived. The response "
      "above may be incomplete.", OUTAGE, "2.1.332 source", {"error": "server_error"}),
    # Every cut stream gets `error: "server_error"`; these two say the cause was not the API's.
    D("the-response-above-may-be-incomplete", "API Error: Your computer went to sleep mid-response. The "
      "response above may be incomplete.", LOCAL_RUNTIME, "2.1.332 source", {"error": "server_error"}),
    D("the-response-above-may-be-incomplete", "API Error: Connection lost before a response was produced. "
      "Try again.", NETWORK, "2.1.332 source", {"error": "server_error"}),
    D("auto-mode-cannot-determine-the-safety-of-an-action", "claude-sonnet-4-6 is temporarily unavailable, "
      "so auto mode cannot determine the safety of Bash right now. Wait briefly and then try this action "
      "again.", OUTAGE, record=None),
    D("auto-mode-cannot-determine-the-safety-of-an-action", "Auto mode could not evaluate this action and is "
      "blocking it for safety — run with --debug for details", MODEL_PROVIDER, record=None),
    D("auto-mode-cannot-determine-the-safety-of-an-action", "Auto mode could not evaluate this action and is "
      "blocking it for safety — a safety check separate from auto mode blocked this request because of "
      "earlier conversation content — it isn't about the action itself — run with --debug for details",
      MODEL_PROVIDER, record=None),
    D("auto-mode-cannot-determine-the-safety-of-an-action", "Auto mode classifier transcript exceeded context "
      "window — falling back to manual approval (try /compact to reduce conversation size)", MODEL_PROVIDER,
      record=None),
    # The subagent's detail decides (a tool result in the parent, not an API-error record).
    D("agent-terminated-early-due-to-an-api-error", "Agent terminated early due to an API error: API Error: "
      f"529 Overloaded. This is a server-side issue, usually temporary — try again in a moment. {GATEWAY} "
      "(error type server_error, HTTP 529, request id req_011CauvjFJIH0EoQnsZcyGT6kVjq, model sent to the "
      "API: claude-sonnet-4-6)", OUTAGE, "2.1.332", None),
    D("agent-terminated-early-due-to-an-api-error", "Agent terminated early due to an API error: You've hit "
      "your session limit · resets 1:40pm (UTC) (error type rate_limit, HTTP 429)", QUOTA_RATE, "report",
      None),
    D("agent-terminated-early-due-to-an-api-error", "Agent terminated early due to an API error: You've hit "
      "your monthly spend limit.", QUOTA_RATE, "report", None),
    D("agent-terminated-early-due-to-an-api-error", "Agent terminated early due to an API error: Claude Opus "
      "is not available with the Claude Pro plan · Select a different model in /model", MODEL_PROVIDER,
      record=None),
    D("agent-terminated-early-due-to-an-api-error", "Agent terminated early due to an API error: API Error: "
      "Connection closed mid-response. The response above may be incomplete.", OUTAGE, "report", None),
    D("agent-terminated-early-due-to-an-api-error", "Agent terminated early due to an API error", UNKNOWN,
      record=None),
    D("agent-terminated-early-due-to-an-api-error", "Error: Agent terminated early due to an API error: Model "
      "not found", MODEL_PROVIDER, "2.1.332 (a string toolUseResult)", None),
    # --- Usage limits: the account's or plan's ----------------------------------------------------
    D("you’ve-hit-your-session-limit", "You've hit your session limit · resets 3:45pm", QUOTA_RATE,
      record={"error": "rate_limit", "status": 429}),
    D("you’ve-hit-your-session-limit", "You've hit your weekly limit · resets Mon 12:00am", QUOTA_RATE,
      record={"error": "rate_limit", "status": 429}),
    D("you’ve-hit-your-session-limit", "You've hit your Opus limit · resets 3:45pm", QUOTA_RATE,
      record={"error": "rate_limit", "status": 429}),
    # An entitlement check, not an exhausted quota; the reference files it under Usage limits.
    D("usage-credits-required-for-1m-context", "API Error: Usage credits required for 1M context · run "
      "/usage-credits to turn them on, or /model to switch to standard context", QUOTA_RATE,
      record={"error": "unknown"}),
    # A short-lived throttle "not your usage limit" and not "at capacity across all users" (that is 529):
    # a rate limit, which never makes an outage window (docs/methodology.md says why).
    D("server-is-temporarily-limiting-requests", "API Error: Server is temporarily limiting requests (not "
      "your usage limit)", QUOTA_RATE, record={"error": "rate_limit", "status": 429}),
    D("server-is-temporarily-limiting-requests", "API Error: Server is temporarily limiting requests (not "
      "your usage limit) · Rate limited", QUOTA_RATE, "report", {"error": "rate_limit", "status": 429}),
    D("request-rejected-429", "API Error: Request rejected (429) · this may be a temporary capacity issue. "
      f"{STATUS_PAGE}", QUOTA_RATE, record={"error": "rate_limit", "status": 429}),
    D("request-rejected-429", "API Error: Request rejected (429) · Rate limited", QUOTA_RATE, "2.1.332",
      {"error": "rate_limit", "status": 429, "type": "rate_limit_error"}),
    D("credit-balance-is-too-low", "Credit balance is too low", QUOTA_RATE, "2.1.332",
      {"error": "billing_error", "status": 400, "type": "invalid_request_error"}),
    # API reference, 400: a spend limit you set answers invalid_request_error.
    D("api-400-spend-limit", "API Error: 400 You have reached your specified workspace API usage limits. You "
      "will regain access on 2027-01-01 at 00:00 UTC.", QUOTA_RATE, "2.1.332",
      {"error": "unknown", "status": 400, "type": "invalid_request_error"}),
    D("api-402-billing-error", "API Error: 402 Your payment method was declined.", QUOTA_RATE, "2.1.332",
      {"error": "unknown", "status": 402, "type": "billing_error"}),
    # --- Authentication -----------------------------------------------------------------------------
    D("not-logged-in", "Not logged in · Please run /login", AUTH, record={"error": "authentication_failed"}),
    D("could-not-resolve-authentication-method", "Could not resolve authentication method. Expected one of "
      "apiKey, authToken, credentials, config, or profile to be set. Or for one of the \"X-Api-Key\" or "
      "\"Authorization\" headers to be explicitly omitted", AUTH, record={"error": "unknown"}),
    D("invalid-api-key", "Invalid API key · Fix external API key", AUTH, "2.1.332",
      {"error": "authentication_failed", "status": 401, "type": "authentication_error"}),
    D("this-organization-has-been-disabled", "Your ANTHROPIC_API_KEY belongs to a disabled organization · "
      "Update or unset the environment variable", AUTH, "2.1.332",
      {"error": "invalid_request", "status": 400, "type": "invalid_request_error"}),
    D("this-organization-has-been-disabled", 'API Error: 400 {"type":"error","error":{"type":'
      '"invalid_request_error","message":"This organization has been disabled."}}', AUTH,
      record={"error": "invalid_request", "status": 400}),
    D("your-organization-has-disabled-api-key-authentication", "Your organization has disabled API key "
      "authentication · Unset the apiKeyHelper setting and run /login to sign in with your claude.ai "
      "account", AUTH, record={"error": "authentication_failed"}),
    D("your-organization-has-disabled-claude-subscription-access", "Your organization has disabled Claude "
      "subscription access for Claude Code · Use an Anthropic API key instead, or ask your admin to enable "
      "access", AUTH, record={"error": "oauth_org_not_allowed", "status": 403}),
    D("routines-are-disabled-by-your-organization’s-policy", "Routines are disabled by your organization's "
      "policy.", AUTH, record=None),
    # A session that does not talk to api.anthropic.com: the provider settings, not the credential.
    D("remote-control-requires-the-anthropic-api", "Remote Control is only available when using Claude via "
      "api.anthropic.com.", DEPLOYMENT_CONFIG, record=None),
    D("oauth-token-revoked-or-expired", "OAuth token revoked · Please run /login", AUTH,
      record={"error": "authentication_failed", "status": 401}),
    D("oauth-token-revoked-or-expired", "OAuth token has expired · Please run /login", AUTH,
      record={"error": "authentication_failed", "status": 401}),
    D("oauth-scope-requirement", "OAuth token does not meet scope requirement: user:profile", AUTH,
      record=None),
    D("aws-credentials-expired-or-invalid", "AWS credentials expired or invalid · run /login and select "
      "\"Claude Platform on AWS · refresh credentials\", or run `aws sso login --profile myprofile` in another "
      "terminal · API Error: 401 The security token included in the request is expired", AUTH,
      record={"error": "authentication_failed", "status": 401}),
    D("aws-authentication-failed", "AWS authentication failed · run /login and select \"Claude Platform on "
      "AWS · refresh credentials\", or run `aws sso login --profile myprofile` in another terminal · if "
      "credentials are current, check AWS permissions and model access · API Error: 403 The security token "
      "included in the request is invalid", AUTH, record={"error": "authentication_failed", "status": 403}),
    D("api-403-permission-error", "Failed to authenticate. API Error: 403 Your API key does not have "
      "permission to use the specified resource.", AUTH, "2.1.332",
      {"error": "authentication_failed", "status": 403, "type": "permission_error"}),
    # --- Network ------------------------------------------------------------------------------------
    D("unable-to-connect-to-api", "Unable to connect to API. Check your internet connection", LOCAL_RUNTIME,
      record={"error": "unknown"}),
    D("unable-to-connect-to-api", "Unable to connect to API (ECONNREFUSED)", LOCAL_RUNTIME,
      record={"error": "server_error"}),
    D("unable-to-connect-to-api", "Unable to connect to API (ECONNRESET)", NETWORK,
      record={"error": "server_error"}),
    D("unable-to-connect-to-api", "Unable to connect to API (ETIMEDOUT)", NETWORK,
      record={"error": "server_error"}),
    D("unable-to-connect-to-api", "fetch failed", NETWORK, record={"error": "unknown"}),
    D("automatic-retries", "Waiting for API response · will retry in 12s · check your network", NETWORK,
      record=None),
    D("ssl-certificate-errors", "Unable to connect to API: SSL certificate verification failed. Check your "
      "proxy or corporate SSL certificates", LOCAL_RUNTIME, record={"error": "unknown"}),
    D("ssl-certificate-errors", "Unable to connect to API: Self-signed certificate detected", LOCAL_RUNTIME,
      record={"error": "unknown"}),
    D("ssl-certificate-errors", "SSL certificate error (UNABLE_TO_GET_ISSUER_CERT_LOCALLY). If you are behind "
      "a corporate proxy or TLS-intercepting firewall, set NODE_EXTRA_CA_CERTS to your CA bundle path, or ask "
      "IT to allowlist *.anthropic.com. Run /doctor for details.", LOCAL_RUNTIME, record=None),
    # The cloud sandbox's egress policy refused the host: never reached it (not an API credential).
    D("host-not-allowed-in-a-cloud-session", "HTTP 403 x-deny-reason: host_not_allowed", LOCAL_RUNTIME,
      record=None),
    D("couldn’t-reconnect-to-your-remote-control-session", "Couldn't reconnect to your Remote Control "
      "session. Retry, or start a fresh session without --resume.", NETWORK, record=None),
    # --- Request errors -----------------------------------------------------------------------------
    D("prompt-is-too-long", "Prompt is too long", MODEL_PROVIDER,
      record={"error": "invalid_request", "status": 400}),
    D("prompt-is-too-long", "Prompt is too long · the request is ~216327 tokens (limit 200000) but this "
      "conversation is only ~2596 tokens — the rest is system prompt, tool definitions, and attachment "
      "content. A single-exchange conversation cannot be compacted; reduce attached files/tools or start "
      "with less context.", MODEL_PROVIDER, "2.1.332",
      {"error": "invalid_request", "status": 400, "type": "invalid_request_error"}),
    D("error-during-compaction-conversation-too-long", "Error during compaction: Conversation too long. "
      "Press esc twice to go up a few messages and try again.", MODEL_PROVIDER, record={"error": "unknown"}),
    D("request-too-large", "Request too large (max 30 MB). Double press esc to go back and remove or shrink "
      "the attached content.", MODEL_PROVIDER, record={"error": "invalid_request", "status": 413}),
    D("request-too-large", "Request too large (max 32MB). Accumulated images and attachments in the "
      "conversation pushed the request over the limit. Remove older images or compact the conversation.",
      MODEL_PROVIDER, "2.1.332", {"error": "invalid_request", "status": 413, "type": "request_too_large"}),
    D("image-was-too-large", "Image was too large. Double press esc to go back and try again with a smaller "
      "image.", MODEL_PROVIDER, record={"error": "invalid_request", "status": 400}),
    D("image-was-too-large", 'API Error: 400 {"type":"error","error":{"type":"invalid_request_error",'
      '"message":"messages.0.content.1.image.source.base64.data: image dimensions exceed max allowed size: '
      '8000 pixels"}}', MODEL_PROVIDER, record={"error": "invalid_request", "status": 400}),
    # Claude Code's own image processor failed before any request: this machine.
    D("unable-to-resize-image", "Unable to resize image — image processing is unavailable and dimensions "
      "could not be read from the file header. Please convert the image to PNG, JPEG, GIF, or WebP.",
      LOCAL_RUNTIME, record=None),
    D("unable-to-resize-image", "Unable to resize image — could not verify image dimensions are within the "
      "2000x2000px API limit.", LOCAL_RUNTIME, record=None),
    D("pdf-errors", "PDF too large (max 100 pages, 32 MB). Try splitting it or extracting text first.",
      MODEL_PROVIDER, record={"error": "invalid_request", "status": 400}),
    D("pdf-errors", "PDF is password protected. Try removing protection or extracting text first.",
      MODEL_PROVIDER, record={"error": "invalid_request", "status": 400}),
    D("pdf-errors", "The PDF file was not valid. Try converting to a different format first.",
      MODEL_PROVIDER, record={"error": "invalid_request", "status": 400}),
    # A gateway that drops the anthropic-beta header: the deployment, not the request's content.
    D("extra-inputs-are-not-permitted", "API Error: 400 context_management: Extra inputs are not permitted",
      DEPLOYMENT_CONFIG, "2.1.332", {"error": "unknown", "status": 400, "type": "invalid_request_error"}),
    D("extra-inputs-are-not-permitted", 'API Error: 400 {"type":"error","error":{"type":'
      '"invalid_request_error","message":"tools.0.custom.input_examples: Extra inputs are not permitted"}}',
      DEPLOYMENT_CONFIG, record={"error": "invalid_request", "status": 400}),
    D("extra-inputs-are-not-permitted", 'API Error: 400 {"type":"error","error":{"type":'
      '"invalid_request_error","message":"Unexpected value(s) `context-management-2025-06-27` for the '
      '`anthropic-beta` header"}}', DEPLOYMENT_CONFIG, record={"error": "invalid_request", "status": 400}),
    D("there’s-an-issue-with-the-selected-model", "There's an issue with the selected model "
      "(claude-sonnet-4-6). It may not exist or you may not have access to it. Run --model to pick a "
      "different model.", MODEL_PROVIDER, "2.1.332",
      {"error": "model_not_found", "status": 404, "type": "not_found_error"}),
    D("model-is-not-a-recognized-model-id", "Model \"claud-sonnet-5\" is not a recognized model id. Did you "
      "mean 'claude-sonnet-5'?", MODEL_PROVIDER, record=None),
    D("claude-opus-is-not-available-with-the-claude-pro-plan", "Claude Opus is not available with the Claude "
      "Pro plan · Select a different model in /model", MODEL_PROVIDER, record={"error": "unknown"}),
    D("model-is-restricted-by-your-organization’s-settings", "Model \"claude-opus-4-8\" is restricted by your "
      "organization's settings. Using claude-sonnet-4-6 instead.", MODEL_PROVIDER, record=None),
    D("thinking-type-enabled-is-not-supported-for-this-model", "API Error: 400 \"thinking.type.enabled\" is "
      "not supported for this model. Use \"thinking.type.adaptive\" and \"output_config.effort\" to control "
      "thinking behavior.", MODEL_PROVIDER, "2.1.332",
      {"error": "unknown", "status": 400, "type": "invalid_request_error"}),
    D("thinking-budget-exceeds-output-limit", 'API Error: 400 {"type":"error","error":{"type":'
      '"invalid_request_error","message":"max_tokens must be greater than thinking.budget_tokens"}}',
      MODEL_PROVIDER, record={"error": "invalid_request", "status": 400}),
    D("tool-use-or-thinking-block-mismatch", "API Error: 400 due to tool use concurrency issues. Run /rewind "
      "to recover the conversation.", MODEL_PROVIDER, record={"error": "invalid_request", "status": 400}),
    D("tool-use-or-thinking-block-mismatch", 'API Error: 400 {"type":"error","error":{"type":'
      '"invalid_request_error","message":"messages.3.content.0: unexpected `tool_use_id` found in '
      '`tool_result` blocks"}}', MODEL_PROVIDER, record={"error": "invalid_request", "status": 400}),
    D("usage-policy-refusal", "API Error: Claude Code is unable to respond to this request, which appears to "
      "violate our Usage Policy (https://www.anthropic.com/legal/aup). Please double press esc to edit your "
      "last message or start a new session for Claude Code to assist with a different task.", MODEL_PROVIDER,
      record={"error": "unknown"}),
    D("safety-measures-flagged-a-cybersecurity-topic", "API Error: Opus 4.8 has safety measures that flagged "
      "this message for a cybersecurity topic. To learn about the Cyber Verification Program and apply for "
      "access, visit our help center: https://support.claude.com/en/articles/14604842-real-time-cyber-"
      "safeguards-on-claude.", MODEL_PROVIDER, record={"error": "unknown"}),
    D("safety-measures-flagged-a-cybersecurity-topic", "Opus 4.8's safeguards flagged this message for a "
      "cybersecurity topic. If your work requires this access, you can apply for an exemption:",
      MODEL_PROVIDER, record={"error": "unknown"}),
    # --- Installation, command line, configuration: this machine, never an API failure --------------
    D("installation-was-killed-before-it-could-finish", "Installation was killed before it could finish "
      "(exit code 137). This usually means the system ran out of memory.", LOCAL_RUNTIME, record=None),
    D("the-connection-dropped-while-downloading-the-update", "The connection dropped while downloading the "
      "update (attempt 3/3: aborted). Check your network — proxies sometimes cut off large downloads.",
      LOCAL_RUNTIME, record=None),
    D("command-line-errors", "--bg and --print conflict: --print never starts the interactive session that "
      "`claude agents` attaches to, so the job would be unattachable.", LOCAL_RUNTIME, record=None),
    D("workspace-has-not-been-trusted", "Ignoring 2 permissions.allow entries from "
      ".claude/settings.local.json: this workspace has not been trusted. Run Claude Code interactively here "
      "once and accept the trust dialog.", LOCAL_RUNTIME, record=None),
]

IDS = [f"{d.section}:{d.text[:40]}" for d in DOCUMENTED]


def test_every_section_of_the_reference_has_a_row() -> None:
    sections = {d.section for d in DOCUMENTED}
    # The "Find your error" table's sections (code.claude.com/docs/en/errors), every one covered.
    find_your_error = {
        "api-error-500-internal-server-error", "api-error-repeated-529-overloaded-errors", "request-timed-out",
        "the-response-above-may-be-incomplete", "auto-mode-cannot-determine-the-safety-of-an-action",
        "agent-terminated-early-due-to-an-api-error", "you’ve-hit-your-session-limit",
        "usage-credits-required-for-1m-context", "server-is-temporarily-limiting-requests",
        "request-rejected-429", "credit-balance-is-too-low", "not-logged-in",
        "could-not-resolve-authentication-method", "invalid-api-key", "this-organization-has-been-disabled",
        "your-organization-has-disabled-api-key-authentication",
        "your-organization-has-disabled-claude-subscription-access",
        "routines-are-disabled-by-your-organization’s-policy", "remote-control-requires-the-anthropic-api",
        "oauth-token-revoked-or-expired", "oauth-scope-requirement", "aws-credentials-expired-or-invalid",
        "aws-authentication-failed", "unable-to-connect-to-api", "automatic-retries", "ssl-certificate-errors",
        "host-not-allowed-in-a-cloud-session", "couldn’t-reconnect-to-your-remote-control-session",
        "prompt-is-too-long", "error-during-compaction-conversation-too-long", "request-too-large",
        "image-was-too-large", "unable-to-resize-image", "pdf-errors", "extra-inputs-are-not-permitted",
        "there’s-an-issue-with-the-selected-model", "model-is-not-a-recognized-model-id",
        "claude-opus-is-not-available-with-the-claude-pro-plan",
        "model-is-restricted-by-your-organization’s-settings",
        "thinking-type-enabled-is-not-supported-for-this-model", "thinking-budget-exceeds-output-limit",
        "tool-use-or-thinking-block-mismatch", "usage-policy-refusal",
        "safety-measures-flagged-a-cybersecurity-topic", "installation-was-killed-before-it-could-finish",
        "the-connection-dropped-while-downloading-the-update", "command-line-errors",
        "workspace-has-not-been-trusted",
    }
    assert find_your_error <= sections
    assert {d.expected for d in DOCUMENTED} == set(CLASSES)  # each class has documented members


@pytest.mark.parametrize("doc", DOCUMENTED, ids=IDS)
def test_documented_text(doc: Documented) -> None:
    assert classify(text=doc.text) == doc.expected, doc.section


RECORDED = [d for d in DOCUMENTED if d.record is not None]


@pytest.fixture(scope="module")
def recorded_ledger(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every API-error row as Claude Code writes it (a prompt, then its final error), ingested once."""
    return ingest_final_errors(tmp_path_factory.mktemp("documented"), "documented", [
        (doc.text, {"error": doc.record.get("error"), "status": doc.record.get("status"),
                    **({"apiErrorType": doc.record["type"]} if doc.record.get("type") else {})})
        for doc in RECORDED])


@pytest.mark.parametrize("n", range(len(RECORDED)), ids=[f"{d.section}:{d.text[:40]}" for d in RECORDED])
def test_documented_final_record(recorded_ledger: dict[str, dict[str, Any]], n: int) -> None:
    doc = RECORDED[n]
    row = recorded_ledger[f"documented-{n}"]
    assert row["kind"] == "final"
    assert row["failure_class"] == doc.expected, doc.section
    if doc.record.get("status"):
        assert row["status"] == doc.record["status"]


def test_doctor_explain_gives_every_documented_class_a_next_step() -> None:
    # `claimback doctor explain` on each documented message: its class's next step, never the unknown one.
    for doc in DOCUMENTED:
        result = explain(doc.text)
        assert result.failure_class == doc.expected
        assert result.reference.startswith("https://code.claude.com/docs/en/errors#")
        if doc.expected != UNKNOWN:
            assert result.next_step == CLASS_INFO[doc.expected].next_step != CLASS_INFO[UNKNOWN].next_step
    # The steps name what the reference says to do for the class's members.
    assert "/model" in CLASS_INFO[OUTAGE].next_step and "continue" in CLASS_INFO[OUTAGE].next_step
    assert "/status" in CLASS_INFO[AUTH].next_step and "/login" in CLASS_INFO[AUTH].next_step
    assert "fewer subagents" in CLASS_INFO[QUOTA_RATE].next_step
    assert "/compact" in CLASS_INFO[MODEL_PROVIDER].next_step and "/rewind" in CLASS_INFO[MODEL_PROVIDER].next_step
    assert "NODE_EXTRA_CA_CERTS" in CLASS_INFO[LOCAL_RUNTIME].next_step
    assert "CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS" in CLASS_INFO[DEPLOYMENT_CONFIG].next_step
    assert "code.claude.com/docs/en/errors" in CLASS_INFO[UNKNOWN].next_step
    # The status stays in the signature of a rejected request (429 apart from another status).
    assert "(429)" in explain("API Error: Request rejected (429) · Rate limited").signature
