"""Failure classes (DESIGN §5): one table of rules, unit-tested on real error strings.

A failure is described by what Claude Code recorded: the HTTP status, the API's `error.type`, the
network `cause.code`, the final record's `error` field, and the message text. The decision runs in three
tiers, first match wins:

1. *decisive phrases* — a few texts that name their cause whatever the status says (a Bedrock "model
   identifier is invalid" arrives as HTTP 400, "credit balance is too low" as a 400 invalid_request, a
   Vertex data-sharing refusal as a 403): they must not be filed under the status's generic class;
2. *fields* — status, error type and network code (given, or read out of the text when missing);
3. *text patterns* — the fallback for records that carry nothing else (old versions, pasted errors).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from claimback.core.lazyre import LazyPattern, lazy_compile

OUTAGE = "outage"
# A lost connection with no HTTP status (reset, hang-up, timeout, "Connection error."): it may be the
# API or the user's own network, so on its own it proves no outage. It counts toward an outage window
# only beside HTTP-level outage errors or an incident (analysis/outages.py).
NETWORK = "network"
QUOTA_RATE = "quota_rate"
AUTH = "auth"
MODEL_PROVIDER = "model_provider"
LOCAL_RUNTIME = "local_runtime"
DEPLOYMENT_CONFIG = "deployment_config"
UNKNOWN = "unknown"
# Not a failure class: the user stopped the turn. The parser stores these as kind='interrupt'.
INTERRUPT = "interrupt"

CLASSES = (OUTAGE, NETWORK, QUOTA_RATE, AUTH, MODEL_PROVIDER, LOCAL_RUNTIME, DEPLOYMENT_CONFIG, UNKNOWN)
# The classes a confirmed outage window counts as outage failures (NETWORK only inside a window).
OUTAGE_WINDOW_CLASSES = (OUTAGE, NETWORK)


@dataclass(frozen=True)
class FailureClassInfo:
    name: str
    meaning: str
    likely_cause: str
    next_step: str
    # The section of Claude Code's error reference that lists this class's messages and their fixes.
    reference: str = ""


ERROR_REFERENCE = "https://code.claude.com/docs/en/errors"


CLASS_INFO: dict[str, FailureClassInfo] = {
    OUTAGE: FailureClassInfo(
        OUTAGE,
        "Anthropic's API (or your provider's) failed or was overloaded: 5xx, 529, or a stream that broke "
        "or stalled after the API answered (\"Server error mid-response\", \"Response stalled mid-stream\").",
        "A service-side incident or capacity shortage; nothing on your machine.",
        "Check `claimback status`; pause subagent launches until it clears (or switch model with `/model`: "
        "capacity is per model), then re-run only what died (`claimback resume`; reply `continue` to a "
        "response marked incomplete). Keep the evidence: `claimback claim`.",
        ERROR_REFERENCE + "#server-errors",
    ),
    NETWORK: FailureClassInfo(
        NETWORK,
        "The connection to the API was lost with no HTTP answer (reset, hang-up, timeout, "
        "\"Connection error.\"), or a stream was cut and the transcript does not say why.",
        "Either side: the API dropping connections during an incident, or your network, VPN or proxy.",
        "Check `claimback status`: during an incident this is outage loss (`claimback claim`); with no "
        "incident and no 5xx/529 errors around it, check your connection first (raise API_TIMEOUT_MS on a "
        "slow proxy).",
        ERROR_REFERENCE + "#network-and-connection-errors",
    ),
    QUOTA_RATE: FailureClassInfo(
        QUOTA_RATE,
        "A usage, session, weekly or rate limit was reached (429), the server throttled the request rate, "
        "or billing blocked the request (credit balance, spend limit, usage credits for 1M context).",
        "Your plan's 5-hour or weekly quota, an API-key or cloud-project rate limit, too many parallel "
        "requests, or a billing problem.",
        "Wait for the reset shown in the message (`/usage`); for a throttle (\"temporarily limiting "
        "requests\", \"Request rejected (429)\") run fewer subagents at once and check the active credential "
        "(`/status`); for billing add credits or turn on usage credits (`/usage-credits`), or `/model` to the "
        "standard context. Not an outage, so it makes no claim on its own.",
        ERROR_REFERENCE + "#usage-limits",
    ),
    AUTH: FailureClassInfo(
        AUTH,
        "The credentials were missing, expired or refused (401/403), or an organization setting blocks "
        "this sign-in or feature.",
        "An expired login, a stale or revoked API key (ANTHROPIC_API_KEY, apiKeyHelper), expired AWS "
        "credentials, or an admin's setting (disabled organization, API-key or subscription access, "
        "routines).",
        "Run `/status` to see which credential is active, then `claude /login` (subscription), unset a stale "
        "ANTHROPIC_API_KEY / apiKeyHelper, or run your awsAuthRefresh command; an organization setting "
        "needs your admin.",
        ERROR_REFERENCE + "#authentication-errors",
    ),
    MODEL_PROVIDER: FailureClassInfo(
        MODEL_PROVIDER,
        "The request itself was refused: unknown or unavailable model, a plan or organization without "
        "that model, a context or size limit (prompt, image, PDF), a broken tool/thinking history, or a "
        "refusal.",
        "A model name your account, plan or provider does not serve, a context/output limit, or content "
        "the API will not accept.",
        "Check the model setting (`/model`, ANTHROPIC_MODEL); for limits `/compact` (Esc twice first if "
        "compaction itself fails), attach less or lower max tokens; for a broken history or a refusal "
        "`/rewind`; update Claude Code when a newer model refuses its thinking settings.",
        ERROR_REFERENCE + "#request-errors",
    ),
    LOCAL_RUNTIME: FailureClassInfo(
        LOCAL_RUNTIME,
        "It failed on this machine or its network: the request never reached Anthropic (DNS, refused "
        "connection, TLS or proxy), or Claude Code stopped locally (image processing, the computer slept, "
        "install, command line, an untrusted workspace).",
        "Your network, VPN, proxy, certificate store, or local setup.",
        "Check connectivity (`curl -I https://api.anthropic.com`), HTTPS_PROXY/NO_PROXY and "
        "NODE_EXTRA_CA_CERTS; for a local message follow the step it prints.",
        ERROR_REFERENCE + "#network-and-connection-errors",
    ),
    DEPLOYMENT_CONFIG: FailureClassInfo(
        DEPLOYMENT_CONFIG,
        "The provider settings are inconsistent (Bedrock, Vertex, a gateway or a custom base URL).",
        "CLAUDE_CODE_USE_BEDROCK/VERTEX, region, project, model id or ANTHROPIC_BASE_URL set wrongly, or a "
        "gateway that drops the anthropic-beta header.",
        "Run `claimback doctor` and check the provider section; unset what you do not use. Behind a gateway, "
        "forward anthropic-beta or set CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS=1.",
        ERROR_REFERENCE + "#request-errors",
    ),
    UNKNOWN: FailureClassInfo(
        UNKNOWN,
        "claimback does not recognise this error.",
        "Unknown.",
        "Look the message up in Claude Code's error reference (https://code.claude.com/docs/en/errors); run "
        "`claimback doctor` and keep the normalized signature when you report it.",
        ERROR_REFERENCE + "#report-an-error",
    ),
    INTERRUPT: FailureClassInfo(
        INTERRUPT,
        "The turn was stopped on this machine (Esc, Ctrl-C, or a cancelled tool call).",
        "A user interrupt; during an outage, often the user giving up on a hung request.",
        "Nothing to fix. If it was a hung request during an outage, `claimback resume` lists the "
        "work to re-run.",
    ),
}


@dataclass(frozen=True)
class Rule:
    failure_class: str
    statuses: frozenset[int] = field(default_factory=frozenset)
    error_types: frozenset[str] = field(default_factory=frozenset)
    codes: frozenset[str] = field(default_factory=frozenset)
    text: LazyPattern | None = None


def _rule(cls: str, statuses=(), error_types=(), codes=(), text: str | None = None) -> Rule:
    return Rule(
        cls,
        frozenset(statuses),
        frozenset(t.lower() for t in error_types),
        frozenset(c.upper() for c in codes),
        lazy_compile(text, re.IGNORECASE) if text else None,
    )


# Tier 1: phrases that name their cause, whatever status or type came with them. Claude Code's error
# reference (code.claude.com/docs/en/errors) is the evidence for the messages it documents; the
# comment on each rule names the section or the reason.
DECISIVE: tuple[Rule, ...] = (
    # 2.1.332 on Bedrock when the account may not call the model: "AWS authentication failed · enable this
    # model for your account and region in the Amazon Bedrock console …" is model access, a cloud console
    # setting, not a refused credential (it must win over the AUTH phrase below).
    _rule(DEPLOYMENT_CONFIG, text=r"enable this model for your account and region|"
          # Bedrock's own AccessDeniedException for the same cause, which 2.1.332 turns into that text (its
          # binary files "you don't have access to the model with the specified model id" as model access,
          # apart from an IAM denial "is not authorized to perform: bedrock:InvokeModel", a credential's).
          r"have access to the model with the specified model id|"
          # Vertex's refusal of a model the project has not enabled in Model Garden (FAILED_PRECONDITION
          # "Project `p` is not allowed to use Publisher Model `…`"): the same console setting as Bedrock's,
          # and 2.1.332 treats the two clouds' model-access refusals alike. A model Vertex does not know
          # ("Publisher Model … not found") stays the model's.
          r"is not allowed to use publisher model"),
    # "AWS credentials expired or invalid" / "AWS authentication failed" name an expired or refused AWS
    # credential even when the 401/403 body says "security token ... invalid" (Authentication errors).
    _rule(AUTH, text=r"AWS credentials expired or invalid|AWS authentication failed|"
          # The same texts on Google Cloud and Foundry (2.1.332's 401/403 with `error: "authentication_failed"`,
          # advice "refresh your … credentials and retry"): a refused credential, whatever the body or the
          # advice names after it (Vertex's "Permission 'aiplatform.endpoints.predict' denied", the gateway
          # token "provided via ANTHROPIC_AUTH_TOKEN/ANTHROPIC_CUSTOM_HEADERS").
          r"Google Cloud (?:credentials expired or invalid|authentication failed)|Microsoft Foundry authentication failed|"
          # AWS's own wording of an expired credential (ExpiredTokenException, an SSO profile's session).
          r"security token included in the request is expired|SSO session associated with this profile has expired|"
          r"organization has been disabled|belongs to a disabled organization|"
          r"organization has disabled (?:API key authentication|Claude subscription access)|"
          r"routines are disabled by your organization|does not meet scope requirement|"
          # 2.1.332's own sign-in texts (records with `error: "invalid_request"` or "account_on_hold"):
          # "Login expired · …", "Login reached its time limit · …", "Invalid auth token · Fix external
          # auth token · …", "Your account is on hold and can't use Claude Code …".
          r"\blogin expired\b|login reached its time limit|invalid auth token|fix external (?:api key|auth token)|"
          r"account is on hold|"
          # one-api/new-api's key checks (model/token.go ValidateUserToken, answered with 401 and whatever
          # code the fork puts beside them, new-api's "invalid_request" too): no key, an unknown key, a failed
          # check, an expired or disabled key; "认证失败" (authentication failed).
          r"未提供令牌|无效的令牌|令牌验证失败|令牌已过期|令牌状态不可用|认证失败|"
          # An OAuth token endpoint's refusal of a stored grant (RFC 6749 `invalid_grant`; Google's session
          # length control, "reauth related error (invalid_rapt)", on Vertex: cc#726): sign in again.
          r"\binvalid_grant\b|reauth related error|\binvalid_rapt\b"),
    # A cloud's quota or throttle answers with its own wording, whatever the body names after it: Vertex's
    # "Quota exceeded for aiplatform.googleapis.com/…" / RESOURCE_EXHAUSTED (a 429 the `aiplatform.` setting
    # rule below must not take; its "Resource exhausted. Please try again later. Please refer to …/vertex-ai/…/
    # error-code-429", whose link the `vertex` setting rule must not take either), Bedrock's ThrottlingException
    # "Too many tokens, please wait …" (public issues of Claude Code on both, docs/reliability.md "Public
    # error texts").
    _rule(QUOTA_RATE, text=r"\bRESOURCE_EXHAUSTED\b|quota exceeded for |resource (?:has been )?exhausted|"
          r"ThrottlingException|too many (?:tokens|requests), please wait"),
    _rule(DEPLOYMENT_CONFIG, text=r"provided model identifier is invalid|PublisherModelConfig|"
          r"data sharing to be enabled|aiplatform\.|inference.profile|"
          # 2.1.332: "Could not load AWS|Google Cloud|Azure credentials · …" (no credential found on the
          # provider's chain: `error: "cloud_credential_error"`); a custom header from the environment
          # that is not a valid header.
          r"could not load (?:[\w-]+ ){0,2}credentials|ANTHROPIC_CUSTOM_HEADERS|request header from the environment|"
          # Bun refusing a header value it cannot send ("Header '14' has invalid value: 'Bearer …'"): the
          # token or a custom header holds a character no HTTP header may carry, a setting on this machine.
          r"header '[^']{0,64}' has invalid value|"
          # 2.1.332 on a desktop-app credential kind background agents and teammates cannot use ("… not
          # supported for this credential kind. Run this from the main session, or switch the desktop app to a
          # profile-based or API-key credential"): a setting to change.
          r"not supported for this credential kind|"
          r"security token included in the request is invalid|ANTHROPIC_VERTEX_PROJECT_ID|"
          # ANTHROPIC_BASE_URL names the setting at fault, except in 2.1.332's advice after a dropped
          # connection ("Connection dropped (ECONNRESET). Check the gateway set in ANTHROPIC_BASE_URL").
          r"CLOUD_ML_REGION|(?<!gateway set in )ANTHROPIC_BASE_URL|"
          # A gateway that drops the anthropic-beta header (Request errors, "Extra inputs are not
          # permitted"), and Remote Control off the Anthropic API (Bedrock, Vertex, a base URL).
          r"extra inputs are not permitted|anthropic-beta|only available when using Claude via api\.anthropic|"
          # Go's net/http answer for a path it does not serve ("404 page not found", plain text): the base URL
          # names a server without Anthropic's /v1/messages (cc#50229), not an unknown model.
          r"\b404 page not found\b|"
          # Azure's answer for a deployment name the resource does not have (Foundry and Azure OpenAI alike):
          # the deployment setting, not the model.
          r"DeploymentNotFound|deployment for this resource does not exist"),
    # Server-side failures, whatever field came with them: a 5xx/overload after output (2.1.199+; the
    # record says only `error: "server_error"`), the auto-mode classifier model overloaded, "high load".
    _rule(OUTAGE, text=r"server error mid-response|temporarily unavailable, so auto mode|"
          # A relay's report that its upstream's stream broke after it began ("upstream stream disconnected:
          # unexpected EOF", sub2api's "upstream stream ended without terminal event"): the serving side cut
          # the response, as "Connection closed mid-response" says of Anthropic's.
          r"upstream stream (?:disconnected|ended|closed)|"
          r"is experiencing high load|"
          # "API returned an empty or malformed response (HTTP 200) — check for a proxy or gateway …": an
          # answer with nothing usable in it, as a stream that ended without events; the advice's "proxy"
          # must not make it this machine's.
          r"returned an empty or malformed response"),
    # Claude Code gives every cut stream `error: "server_error"`; these texts say the cause was local.
    _rule(LOCAL_RUNTIME, text=r"check your internet connection|computer went to sleep|host_not_allowed|unable to resize image|"
          # The firewall in front of Anthropic's API answers a request from an unsupported region, or through
          # a VPN or proxy routed through one, with HTTP 403 and a body of its own shape, `{"error":{"type":
          # "forbidden","message":"Request not allowed"}}` with no `"type":"error"` around it (2.1.332 reads
          # that shape as `network_edge_blocked`; the threads of cc#1613, cc#453, cc#36660 end in a region or
          # a proxy). Whatever "/login" advice follows, signing in changes nothing.
          r"\{\s*\\?[\"']error\\?[\"']\s*:\s*\{\s*\\?[\"']type\\?[\"']\s*:\s*\\?[\"']forbidden\\?[\"']|"
          # The same refusal in words: Bedrock's for a caller in an unsupported region (cc#2656), OpenAI's
          # `unsupported_country_region_territory` behind a relay, and a corporate proxy's block page.
          r"not allowed from unsupported countries|country, region, or territory not supported|"
          r"unsupported_country_region_territory|\bZscaler\b|"
          # A certificate this machine's trust store could not verify, also when a local relay or proxy
          # reports it for its own upstream under a 500 (guojinpeng/cli_proxy#17: Python's
          # "[SSL: CERTIFICATE_VERIFY_FAILED] … unable to get local issuer certificate").
          r"certificate verify failed|unable to get local\s+issuer certificate|"
          # Cloudflare's own refusals of the caller (its 1xxx codes: 1006-1008 a banned IP, 1009 a banned
          # country, 1010 a banned client signature, 1012 access denied, 1020 a firewall rule), whoever's zone
          # answered: the network the request came from, not a credential.
          r"\berror code: 10(?:0[6-9]|1[02]|20)\b|"
          # Cloudflare's managed challenge ("Just a moment…", `_cf_chl_opt`, `cf-mitigated: challenge`) for
          # a client that runs no JavaScript: the edge doubts the network (a VPN's or a datacenter's exit,
          # cc#30437, cc#30901), as 2.1.332's `network_edge_blocked` says of its 403s.
          r"<title>\s*Just a moment\.\.\.\s*</title>|_cf_chl_opt|cf-mitigated:\s*challenge|"
          r"installation was killed|while downloading the update|--bg and --print conflict|"
          r"workspace has not been trusted|"
          # 2.1.332's texts for failures on this machine: a stream suspended by sleep, the login refresh
          # blocked by another Claude Code process, a full disk or a locked Keychain (each "… /login" or
          # with `error: "server_error"`), a request its network's edge refused (HTTP 403, region or VPN),
          # a local mod's fetch hook.
          r"computer was asleep|another Claude Code process is refreshing|"
          r"disk that holds the Claude Code config|save to the Keychain|"
          r"blocked before it reached Anthropic|hook stopped this request|"
          # A local hook that blocked the step ("Compaction blocked by PreCompact hook", "Blocked by PreToolUse
          # hook"); cloud credentials the desktop app hosts but did not hand over ("Bedrock credentials are managed
          # by the desktop app, but none are available. The app may have quit or its credential file is stale —
          # restart the desktop app."); the client's own attempt budget spent, so nothing was sent ("Not sent:
          # no API attempts left"): this machine, no request failed on a server.
          r"blocked by (?:\w+ )?hook\b|app may have quit or its credential file is stale|no API attempts left|"
          # The start-up reachability check answered with a 4xx ("Failed to connect to api.anthropic.com:
          # ERR_BAD_REQUEST … might not be available in your country"): the network's edge, region or proxy.
          r"failed to connect to [\w.-]+: ERR_BAD_REQUEST"),
    # A timeout has no HTTP answer: the reference names high load and slow networks or proxies alike
    # (2.1.332's final record says `error: "server_error"` and suggests raising API_TIMEOUT_MS).
    _rule(NETWORK, text=r"connection (?:lost|closed) before a response|due to a network error|"
          r"^\s*(?:API Error:? ?\(?)?Request timed out|"
          # 2.1.332: "Connection dropped (ECONNRESET|EPIPE|ConnectionClosed|Malformed_HTTP_Response…)",
          # a bare "Connection lost" (a suspended stream), "No response from API (waited …)" (no headers in
          # the first-byte window), "The response could not be read (ZlibError)": no HTTP-level proof.
          r"^\s*(?:API Error:? ?)?Connection (?:dropped\b|lost\s*$)|no response from (?:the )?API\b|"
          r"response could not be read"),
    # "Server is temporarily limiting requests (not your usage limit)": a short-lived throttle of the
    # request rate, not the plan's quota and not "at capacity across all users" (that is a 529). The
    # reference files it under Usage limits, apart from the server errors "which affect everyone", and
    # public reports tie it to bursts of parallel launches: a rate limit, never outage evidence.
    _rule(QUOTA_RATE, text=r"temporarily limiting requests|credit balance (?:is )?too low|usage limit reached|"
          r"hit your (?:\w+ ){0,2}limit|(?:session|weekly|5-hour|opus) limit|limit will reset|out of extra usage|"
          # A spend limit you set answers 400 invalid_request_error (Claude API errors, 400).
          r"reached your (?:specified )?(?:workspace )?API usage limits|usage credits required|"
          # A relay's account out of money answers 401 (302.AI: "Insufficient account balance").
          r"insufficient (?:account |credit )?balance|"
          # 2.1.332's usage-credit texts ("Usage credits ran out before the response was finished", "… requires
          # usage credits", "You're out of usage credits", "You've hit your monthly spend limit").
          r"usage credits ran out|out of usage credits|requires usage credits|monthly spend limit|"
          # 2.1.332's 429 texts when usage credits are off for the org, the seat or the member ("Your org is
          # out of usage · contact your admin", "Your seat type doesn't include usage credits", "Your usage
          # allocation has been disabled by your admin", "This service is disabled for your org"): the plan's
          # limit reached with nothing to continue on, not a failing server.
          r"\bout of usage\b|doesn't include usage\b|usage allocation has been disabled|service is disabled for your org|"
          # An aggregator's key or account out of credit, whatever status it chose (OpenRouter's 403 "Key
          # limit exceeded", "create a key with a higher monthly limit"; "You have used all your credits").
          r"key limit exceeded|higher monthly limit|used all (?:of )?your credits|add more credits|"
          # Relays: new-api/one-api's "the current group's upstream load is saturated" (its 429, the upstream
          # key's rate: a public one-api issue's maintainer), a token's quota used up, an aggregator's
          # account without credits (OpenRouter's 402 "Insufficient credits").
          r"负载已饱和|额度已用尽|额度不足|余额不足|insufficient credits|"
          # new-api's 403 when a request costs more than the token's balance: "预扣费额度失败, 用户剩余额度:
          # ＄0.32, 需要预扣费额度: ＄0.39" (pre-charging failed, remaining balance, amount needed).
          r"预扣费额度失败|用户剩余额度|"
          # Chinese providers' and relays' rate limits: "您的账户已达到速率限制，请您控制请求频率" (Zhipu's 1302,
          # zai-org/GLM-5#78), "请求过于频繁", "并发数超限".
          r"速率限制|请求频率|请求过于频繁|频率限制|限流|并发(?:数)?(?:超|过|已达)|"
          # A relay's daily cap per key, behind Claude Code's "Please run /login" of every 403 ("API Error:
          # 403 daily usage limit exceeded"; its 429s: `reason="DAILY_LIMIT_EXCEEDED"`).
          r"usage limit exceeded|daily_limit_exceeded|"
          # A relay whose upstream (official) accounts are throttled: "官方算力限制，请等待一段时间后再进行使用"
          # ("official compute limit, wait a while before using it again", its 400s in a 2.0.29 tree).
          r"官方算力限制"),
    _rule(MODEL_PROVIDER, text=r"prompt is too long|output token maximum|exceed context limit|"
          r"issue with the selected model|violate (?:our )?usage policy|content filtering policy|"
          r"conversation too long|flagged this message for a cybersecurity|not available with the Claude \w+ plan|"
          # 2.1.332's refusals (a 200 answer with `stop_reason: "refusal"`, `error: "invalid_request"`): "<model>'s
          # safeguards flagged this message …", "Claude can't help with this. Start a new session …", "… can't
          # respond to this message with <model>".
          r"safeguards flagged this message|can't help with this\. start a new session|"
          r"can't respond to (?:this|your last) message with|"
          # Its 400s for settings the request model refuses: an advisor model it cannot pair with, auto mode
          # outside the plan; a compaction whose summary came back without its block or whose media are too big.
          r"cannot be used as an advisor|auto mode is unavailable for your plan|"
          r"reply has no <summary> block|attached media exceeds size limits|"
          r"is not a recognized model id|restricted by your organization's settings|"
          r"auto mode could not evaluate|auto mode classifier transcript exceeded|"
          # A relay that turned a model off answers 500 api_error ("Permission denied, this model has
          # been disabled"): no server failing, the model is not offered.
          r"model has been disabled|"
          # A relay or an aggregator with no route for the model asked (new-api's 503 "No available channel
          # for model X under group default (distributor)", one-api's "无可用渠道", OpenRouter's 404 "No
          # allowed providers are available for the selected model"): the model setting, not a failing server.
          r"no available channel for model|无可用渠道|no allowed providers are available|"
          # MiniMax's content check on the prompt or the answer ("API Error: output new_sensitive (1027)",
          # 1026 for the input): the provider refused the content, no server failed.
          r"\b(?:input|output) new_sensitive\b"),
)

# Claude Code 2.1.199+ hands a subagent's terminal API error to its parent behind this prefix (Server
# errors, "Agent terminated early due to an API error"): the detail after it decides the class.
AGENT_TERMINATED = "Agent terminated early due to an API error"
# 2.1.332 (-p mode, subagents) keeps a partial answer after a failed stream and sends the model this
# meta message (two wordings, this prefix) instead of writing an error record.
CUT_OFF_NUDGE = "Your response above was cut off mid-stream"
# What claimback files for an attempt 2.1.332 answered by compacting the conversation instead of writing
# an error record (the API refused it as too large: 400 "prompt is too long", 413): the refusal's class.
COMPACTED_REFUSAL = "refused as too large: the client compacted the conversation and re-sent it"
# 2.1.332's final when that compaction's own request failed: "Prompt is too long · automatic compaction
# failed: API Error: 529 Overloaded. …" (status 400, the refused request's). The refusal is what the client
# recovers from; what ended the run is the compaction's error, which decides the class.
COMPACTION_FAILED = "automatic compaction failed:"
# 2.1.332's `/compact` whose summary request failed (every attempt; those are in no record): a `system`
# / `local_command` record whose content is `<local-command-stderr>Error during compaction: API Error:
# 529 Overloaded. …</local-command-stderr>`. The command the user ran ended by that error.
MANUAL_COMPACTION_FAILED = "Error during compaction:"

# Tier 2 (fields) and tier 3 (text). Order matters: specific signals first (deployment settings, auth,
# quota) so that a generic word such as "error" in the text never wins over a field.
RULES: tuple[Rule, ...] = (
    _rule(DEPLOYMENT_CONFIG, error_types=("cloud_credential_error",),
          text=r"\bbedrock\b|\bvertex\b|aws credentials|base.?url|"
          r"region .* not (?:supported|enabled)|project .* not (?:found|enabled)"),
    _rule(AUTH, statuses=(401, 403), error_types=("authentication_error", "permission_error",
          "authentication_failed", "oauth_org_not_allowed", "forbidden", "account_on_hold"),
          text=r"/login|invalid (?:x-)?api[ -]?key|missing api key|oauth token (?:has )?(?:expired|"
          r"been revoked)|oauth token revoked|not logged in|authenticat|not authorized|permission denied|"
          r"forbidden|request not allowed|no api key available"),
    _rule(QUOTA_RATE, statuses=(429, 402), error_types=("rate_limit_error", "rate_limit",
          "billing_error", "quota_exceeded"),
          text=r"usage limit|rate.?limit|limit reached|resets \d|billing|quota|add funds|"
          r"too many requests|request rejected \(429\)"),
    _rule(LOCAL_RUNTIME, codes=("ECONNREFUSED", "CONNECTIONREFUSED", "ENOTFOUND", "EAI_AGAIN",
          "FAILEDTOOPENSOCKET", "CERT_HAS_EXPIRED", "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
          "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "SELF_SIGNED_CERT_IN_CHAIN",
          "DEPTH_ZERO_SELF_SIGNED_CERT", "ERR_TLS_CERT_ALTNAME_INVALID", "ENETUNREACH",
          "EHOSTUNREACH", "ERR_PROXY_CONNECTION_FAILED", "ERR_SSL_WRONG_VERSION_NUMBER",
          "CERTIFICATEVERIFYFAILED",
          # the rest of the codes Claude Code itself counts as "network down" (its isNetworkDown)
          "ENETDOWN", "EHOSTDOWN", "ERR_PROXY_TUNNEL"),
          text=r"connectionrefused|connection refused|failedtoopensocket|unable to connect|"
          r"getaddrinfo|enotfound|eai_again|self[- ]signed certificate|certificate|unable_to_get_issuer|"
          r"unable to verify|\bssl\b|\btls\b|proxy|network is unreachable|unable to get local issuer|"
          # 2.1.332's limit on unattended restarts of a cloud session (no request was sent)
          r"stopped continuing it automatically|couldn't confirm that it could continue this session"),
    # A stream cut after the API answered 200 (mid-response, idle) is the API's side: HTTP-level.
    _rule(OUTAGE, statuses=(500, 502, 503, 504, 520, 522, 524, 529),
          error_types=("overloaded_error", "api_error", "server_error", "timeout_error"),
          codes=("STREAMTRUNCATED",),
          text=r"overloaded|internal server error|\b5\d\d\b|stream idle timeout|"
          # The cut-stream notices (Server errors, "The response above may be incomplete"; 2.1.332's
          # own wordings beside the documented ones).
          r"connection (?:lost|closed) mid-response|response stalled|response stopped arriving|"
          r"part of the response never arrived|response stream was malformed|service unavailable|"
          # `\b`: a relay's own error types (`new_api_error`, `one_api_error`) are labels, not a server error.
          r"bad gateway|gateway timeout|upstream connect error|\bserver_error|\bapi_error|"
          # 2.1.332 after HTTP 200: a stream with no events or a malformed one, a route turned away.
          r"stream ended without receiving any events|content block (?:not found|already closed)|"
          r"stream event unreadable|API is temporarily unavailable|"
          # Bedrock's server-side exceptions, named in its event stream's `:exception-type` or the SDK's error
          # (InternalServerException "The system encountered an unexpected error during processing",
          # ServiceUnavailableException, ModelNotReadyException).
          r"internalServerException|serviceUnavailableException|modelNotReadyException|"
          r"encountered an unexpected error during processing|"
          r"connection closed before the response finished"),
    # The connection went away with no HTTP answer: no proof of an outage on its own (NETWORK above).
    _rule(NETWORK, codes=("ECONNRESET", "ETIMEDOUT", "EPIPE", "UND_ERR_SOCKET", "ECONNABORTED",
                          "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT",
                          "ECONNRESET_BY_PEER", "ERR_STREAM_PREMATURE_CLOSE",
                          # the client's "stale connection" codes beside ECONNRESET/EPIPE/ETIMEDOUT
                          "CONNECTIONCLOSED", "ERR_SOCKET_CLOSED", "STREAMSUSPENDED"),
          text=r"econnreset|socket hang up|connection error|socket connection was closed|"
          r"request timed out|timed? ?out|\bterminated\b|other side closed|fetch failed|"
          r"network (?:error|connection was lost)|"
          # A relay's words for its upstream's stream cut short (sub2api/claude-relay-service's
          # `stream_read_error` "upstream stream disconnected: unexpected EOF"; Go's io.ErrUnexpectedEOF),
          # and Node's "write EOF" on a socket the other side closed.
          r"stream disconnected|\bunexpected EOF\b|\bwrite EOF\b|"
          # 2.1.332 in -p mode and in subagents: the partial answer is kept and the client asks the
          # model to resume; the nudge does not say why the stream was cut (either side).
          r"cut off mid-stream|waiting for api response|couldn't reconnect"),
    _rule(MODEL_PROVIDER, statuses=(400, 404, 409, 413, 422),
          error_types=("invalid_request_error", "invalid_request", "not_found_error", "conflict_error",
                       "request_too_large", "max_output_tokens", "model_not_found"),
          text=r"max_output_tokens|max_tokens|maximum context|context (?:length|window|limit)|"
          r"model .*(?:not found|does not exist|not available)|not_found_error|invalid model|"
          r"unknown model|invalid_request|refus|content filter|output blocked|too large|"
          r"\bPDF\b|password protected|"
          # 2.1.332's own request-error texts (records with the 400 status; the text alone for explain).
          r"exceeds the dimension limit|could not be processed and was removed|isn't available with thinking|"
          r"does not support this model|returned an empty response|tool call could not be parsed|"
          r"autocompact is thrashing|message is too long to send"),
)

# 2.1.332's typed kind of a final error record (`apiError`, beside the coarse `error` field). Its own
# schema describes it as the cause "for consumers that key on the cause instead of the message text (the
# text stays the fallback and may change)", and some kinds name a cause no text does: "Connection to the
# API was lost (StreamSuspended)" says `computer_slept`, "The model returned an empty response (retry also
# failed)" carries `empty_completion` and no `error` at all. Only kinds whose cause is one class are read;
# the mixed ones (`connection_failed`: refused and reset alike; `stream_idle_timeout`: the client's timer;
# `provider_credentials`: a refused credential or a model the account may not call) leave the class to
# the status, type and text, as does any kind not listed.
CLIENT_ERROR_KINDS: dict[str, str] = {
    # this machine: it slept, its network's edge refused it (HTTP 403: region, VPN or proxy), a local
    # hook, its certificate store, the Keychain, a proxy that rewrote Bedrock's stream, the client's own
    # limit on unattended restarts of a cloud session (no request was sent)
    "computer_slept": LOCAL_RUNTIME,
    "network_edge_blocked": LOCAL_RUNTIME,
    "hook_denied": LOCAL_RUNTIME,
    "tls_untrusted_ca": LOCAL_RUNTIME,
    "tls_cert_signature_failure": LOCAL_RUNTIME,
    "oauth_refresh_store_refused": LOCAL_RUNTIME,
    "gateway_content_type": LOCAL_RUNTIME,
    "unattended_start_limit": LOCAL_RUNTIME,
    "unattended_start_unconfirmed": LOCAL_RUNTIME,
    # no response headers within the first-byte window: nobody answered
    "no_response": NETWORK,
    # sign-in: a gateway with nobody signed in or an expired session, an unusable named profile, a stored
    # login the organization's settings refuse, API keys off, a disabled organization's key, a credential
    # that cannot be sent as a header
    "gateway_signin_required": AUTH,
    "gateway_session_expired": AUTH,
    "named_profile_unusable": AUTH,
    "stored_login_refused": AUTH,
    "api_key_auth_disabled": AUTH,
    "org_disabled_credential": AUTH,
    "invalid_credential_header": AUTH,
    # the plan's limits and usage credits (a declined or unanswered credits prompt sends nothing)
    "usage_limit_reached": QUOTA_RATE,
    "model_requires_usage_credits": QUOTA_RATE,
    "long_context_credits_required": QUOTA_RATE,
    "consent_unanswered": QUOTA_RATE,
    "no_allowed_fallback": QUOTA_RATE,
    # the request or the model's reply: refused by a policy or a safety monitor, too long for the context,
    # a broken tool history, media the API would not take, settings the model refuses, an empty reply or
    # a tool call that could not be parsed (each after its retry)
    "dlp_request_denied": MODEL_PROVIDER,
    "safety_monitor_blocked": MODEL_PROVIDER,
    "claude_code_version_too_old": MODEL_PROVIDER,
    "message_over_context_limit": MODEL_PROVIDER,
    "autocompact_thrashing": MODEL_PROVIDER,
    "tool_history_mismatch": MODEL_PROVIDER,
    "max_output_tokens": MODEL_PROVIDER,
    "pdf_too_large": MODEL_PROVIDER,
    "pdf_password_protected": MODEL_PROVIDER,
    "media_removed": MODEL_PROVIDER,
    "effort_requires_thinking": MODEL_PROVIDER,
    "advisor_incompatible": MODEL_PROVIDER,
    "empty_completion": MODEL_PROVIDER,
    "malformed_tool_use_exhausted": MODEL_PROVIDER,
}

# Cut-stream texts (final errors, retry causes, 2.1.332's resume nudge): the stream died under a
# request that had started answering (analysis/loss.py, partial responses)...
MID_STREAM_MARKERS = ("mid-response", "mid-stream", "stream idle timeout", "partial response", "ECONNRESET",
                      "socket hang up", "terminated", "other side closed")
# ...unless the text says nothing had been produced yet (2.1.332: "… before a response was produced").
NO_OUTPUT_MARKERS = ("before a response was produced", "no response was produced")

# Every text from outside is cut to this many characters before any pattern sees it: what identifies an
# error is at its start, and no pattern then costs more than a few KB of work, whatever a proxy sent
# (a 1 MB error froze `otel serve` for 15+ minutes before this bound).
TEXT_LIMIT = 4096


def bounded(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit]


# Texts that say "the user stopped it", not "the API failed".
INTERRUPT_MARKERS = ("[Request interrupted by user", "Request was aborted", "[Request interrupted",
                     "API Error: Request was aborted",
                     # 1.0.x when Esc stops a request between its retries ("… Operation aborted", then
                     # "Interrupted · What should Claude do instead?": public issue cc#8156)
                     "API Error: Operation aborted")

# Reading fields out of a pasted or recorded message: `API Error: 529 …`, `API Error (529 {…})`,
# `API Error (claude-opus-4-6): 400 …`, `Error: 400 {…}`, `"status":529`, `HTTP 503`, `status code 403`.
_STATUS_IN_TEXT = lazy_compile(
    r"(?:API Error(?:\s*\((?![1-5]\d\d\b)[^)]{1,80}\))?|\bError|\bHTTP|status(?: code)?|"
    r"Error code|Repeated)[\s:=(\"']{0,4}([1-5]\d\d)\b", re.IGNORECASE)
_LEADING_STATUS = lazy_compile(r"^\s*([1-5]\d\d)\s+(?:\{|[A-Z])")
_TYPE_IN_TEXT = lazy_compile(r'"type"\s*:\s*"([a-z_]+_error|forbidden)"')
_CODE_IN_TEXT = lazy_compile(
    r"\b(E[A-Z]{3,}[A-Z_]*|UND_ERR_[A-Z_]+|ERR_[A-Z_]+|(?:UNABLE|SELF|DEPTH|CERT)_[A-Z_]+|"
    r"ConnectionRefused|FailedToOpenSocket|CertificateVerifyFailed|ConnectionClosed|StreamSuspended|StreamTruncated)\b")
_NOT_CODES = frozenset({"ERROR", "EOF", "ENV"})


def extract_fields(text: str | None) -> tuple[int | None, str | None, str | None]:
    """(status, error type, network code) named inside an error message, when it names them."""
    if not text:
        return None, None, None
    text = bounded(text)
    status = None
    found = _STATUS_IN_TEXT.search(text) or _LEADING_STATUS.search(text)
    if found:
        status = int(found.group(1))
    found_type = _TYPE_IN_TEXT.search(text)
    code = None
    for match in _CODE_IN_TEXT.finditer(text):
        if match.group(1).upper() not in _NOT_CODES:
            code = match.group(1)
            break
    return status, (found_type.group(1) if found_type else None), code


def decisive_class(text: str | None) -> str | None:
    """The class a decisive phrase (tier 1) anywhere in `text` names, or None. For a failed attempt whose
    record keeps the whole answer beside the inner message it is classified by (`error.message` holds the
    firewall's `{"error":{"type":"forbidden",…}}` body, the inner message only "Request not allowed")."""
    if not text:
        return None
    text = " ".join(bounded(text).split())
    return next((rule.failure_class for rule in DECISIVE if rule.text is not None and rule.text.search(text)), None)


def is_interrupt(text: str | None) -> bool:
    return bool(text) and text.lstrip().startswith(INTERRUPT_MARKERS)


def classify(
    status: int | None = None,
    error_type: str | None = None,
    code: str | None = None,
    text: str | None = None,
) -> str:
    """The failure class of one failure. Any argument may be missing.

    Returns one of CLASSES, or INTERRUPT when the text is Claude Code's own interruption marker.
    """
    if is_interrupt(text):
        return INTERRUPT
    if text:
        text = bounded(text)
        if "\\u" in text:
            # A body written with JSON's \\uXXXX escapes (Python's json.dumps): its words, decoded. Imported
            # here, not at the top: only such texts pay for the provider module's patterns.
            from claimback.core.provider import decode_unicode_escapes

            text = decode_unicode_escapes(text)
        # A terminal wraps a long message at its width, and users paste it so ("… which appears to violate\n
        # our Usage Policy"): every run of white space reads as one space, so no phrase depends on where the
        # line broke. One linear pass over at most TEXT_LIMIT characters.
        text = " ".join(text.split())
        prefix = text.find(AGENT_TERMINATED, 0, len(AGENT_TERMINATED) + 16)  # also behind "Error: "
        if prefix >= 0:
            # "…: <detail>" (the final error of the subagent); a \bterminated\b network pattern must
            # not decide it.
            text = text[prefix + len(AGENT_TERMINATED):].lstrip(" :.")
        failed = text.find(COMPACTION_FAILED)
        if failed >= 0:
            detail = text[failed + len(COMPACTION_FAILED):].strip()
            found = classify(text=detail) if detail else UNKNOWN
            if found != UNKNOWN:
                return found
        for rule in DECISIVE:
            if rule.text is not None and rule.text.search(text):
                return rule.failure_class
        if status is None or error_type is None or code is None:
            t_status, t_type, t_code = extract_fields(text)
            status = status if status is not None else t_status
            error_type = error_type or t_type
            code = code or t_code
    etype = (error_type or "").lower()
    if etype == "unknown":
        etype = ""  # the record's `error` field says "unknown": no information, fall through to text
    ecode = (code or "").upper()
    # Fields first, across all rules, then text: a 529 whose text mentions "proxy" is still an outage.
    # The status decides first, then a connection code, then an error type: Claude Code gives every
    # connection failure's final record `error: "server_error"`, and the code its text names
    # ("Unable to connect to API (ECONNRESET)") says more than that summary.
    if status is not None:
        for rule in RULES:
            if status in rule.statuses:
                return rule.failure_class
    if ecode:
        for rule in RULES:
            if ecode in rule.codes:
                return rule.failure_class
    if etype:
        for rule in RULES:
            if etype in rule.error_types:
                return rule.failure_class
    if text:
        # The phrase that opens the message names the error; what follows is often the client's advice
        # ("Request timed out. If … a proxy or gateway holds responses, set API_TIMEOUT_MS …"): of the
        # rules whose pattern matches, the one matching earliest wins (the table's order on a tie).
        best: tuple[int, str] | None = None
        for rule in RULES:
            found = rule.text.search(text) if rule.text is not None else None
            if found is not None and (best is None or found.start() < best[0]):
                best = (found.start(), rule.failure_class)
        if best is not None:
            return best[1]
    return UNKNOWN


# Normalization: what varies between two occurrences of the same error (ids, times, numbers, paths,
# secrets) becomes a placeholder; what identifies the error (words, HTTP status, model names) stays.
_PROTECT = lazy_compile(
    r"\b(?:(?:us|eu|apac|global)\.)?(?:anthropic\.)?claude-[a-z0-9][\w.:\[\]-]*"  # model names
    r"|(?<=API Error: )[1-5]\d\d\b|(?<=API Error \()[1-5]\d\d\b|(?<=\): )[1-5]\d\d\b"
    r"|(?<=Error: )[1-5]\d\d\b|^[1-5]\d\d\b|(?<=HTTP )[1-5]\d\d\b|(?<=Repeated )[1-5]\d\d\b"
    r"|(?<=status code )[1-5]\d\d\b|(?<=\"status\":)[1-5]\d\d\b|(?<=\"code\":)[1-5]\d\d\b"
    r"|(?<=Error code: )[1-5]\d\d\b|(?<=Request rejected \()[1-5]\d\d\b",
    re.IGNORECASE,
)
_NORMALIZERS: tuple[tuple[LazyPattern, str], ...] = (
    (lazy_compile(r"\bsk-ant-[A-Za-z0-9_-]+|\bsk-[A-Za-z0-9_-]{16,}"), "<secret>"),
    (lazy_compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 <secret>"),
    (lazy_compile(r"https?://[^\s\"'<>)\]]+"), "<url>"),
    # Anchored at the start of a run (lookbehind): tried once per run, not once per character of it.
    (lazy_compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+\.[\w.-]+"), "<email>"),
    (lazy_compile(r"\b(?:req|msg|toolu|srvtoolu)_[A-Za-z0-9]+"), "<id>"),
    (lazy_compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (lazy_compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (lazy_compile(r"\b\d{1,2}(?::\d{2})?\s?(?:am|pm)\b", re.I), "<time>"),
    (lazy_compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b"), "<time>"),
    (lazy_compile(r"\((?:[A-Za-z]+/[A-Za-z_+-]+(?:/[A-Za-z_]+)?|UTC|GMT)\)"), "(<tz>)"),
    (lazy_compile(r"(?:[A-Za-z]:)?(?:[/\\][\w.@~$-]+){2,}"), "<path>"),
    (lazy_compile(r"\|\d{9,}"), "|<epoch>"),
    # One linear scan per hex run; _hex decides (digit and letter, long enough). The former
    # digit-then-letter alternation backtracked cubically inside a long run.
    (lazy_compile(r"\b[0-9a-fA-F]+\b"), "<hex>"),
    (lazy_compile(r"\d+(?:[.,]\d+)*"), "<n>"),
    (lazy_compile(r"\s+"), " "),
)
_URL = lazy_compile(r"https?://[^\s\"'<>)\]]+")
_HEX_MIN = 12  # shorter mixed tokens ("v1", "4o") are words, not ids
_DIGITS = frozenset("0123456789")


def _hex(match: re.Match[str]) -> str:
    token = match.group(0)
    if len(token) >= _HEX_MIN and not _DIGITS.isdisjoint(token) and not _DIGITS.issuperset(token):
        return "<hex>"
    return token


def _normalize_body(body: str) -> str:
    from claimback.core.secrets import REPLACEMENT, scrub  # the one list of secret shapes

    # URLs first (a password in one must not leave its host behind), then every secret shape, before
    # digits turn into <n> and keys stop looking like keys.
    body = scrub(_URL.sub("<url>", body)).replace(REPLACEMENT, "<secret>")
    protected: list[str] = []

    def keep(match: re.Match[str]) -> str:
        protected.append(match.group(0))
        return "\x00" + chr(0xE000 + len(protected) - 1) + "\x00"  # no digits: survives <n>

    body = _PROTECT.sub(keep, body)
    for pattern, replacement in _NORMALIZERS:
        if replacement == "<hex>":
            body = pattern.sub(_hex, body)
        else:
            body = pattern.sub(replacement, body)
    return re.sub("\x00(.)\x00", lambda m: protected[ord(m.group(1)) - 0xE000], body)


def normalize_signature(text: str | None, status: int | None = None, error_type: str | None = None,
                        code: str | None = None) -> str:
    """A stable signature: ids, numbers, times, paths and secrets stripped, so repeats of one error
    group together. HTTP status codes and model names are kept: they tell errors apart."""
    parts = []
    if status is not None:
        parts.append(str(status))
    if error_type:
        parts.append(error_type)
    if code:
        parts.append(code)
    body = _normalize_body(bounded(text or "").strip()).strip()[:160]
    if body:
        parts.append(body)
    return " | ".join(parts) if parts else "<empty>"
