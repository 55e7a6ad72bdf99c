"""Error texts users pasted into public issues, classified and routed as claimback must.

Source: GitHub issue threads (anthropics/claude-code and the relays, routers, gateways and cloud clients
people run it through), searched on 2026-12-01 for the messages of every failure class (docs/reliability.md,
"Public error texts", lists what was searched and what was fixed). Each row is written here in the shape the
issue shows, with its own ids, hosts and times: the product strings the API, the client or the relay emits
are kept as they are, long pages are cut to what identifies them. The source names the issue (`cc#N` is
github.com/anthropics/claude-code/issues/N, `owner/repo#N` another repository's).

Four checks per row:
- the class of the text alone (`claimback doctor explain`), per docs/methodology.md;
- its route: `provider.judge(text=…)` is the provider the text proves (a relay's, gateway's or cloud's
  error is never Anthropic's), or None when it proves none (then the session's route decides, Claude Code's
  default Anthropic for a session with no other evidence: Anthropic's own texts must stay claimable);
- the text as the final API-error record of a turn (`isApiErrorMessage`, `error`, `apiErrorStatus`) through
  the real ingest, one session per row: the ledger's class and provider;
- the text as a failed attempt (a `system`/`api_error` record whose `error.message` holds it, with the
  network code in `cause` when the text names one) through the real ingest: the same class and provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from records import ingest_text_rows

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

ANTHROPIC, OTHER, BEDROCK, VERTEX = provider.ANTHROPIC, provider.OTHER, provider.BEDROCK, provider.VERTEX
NONE = None  # the text proves no route: the session's (here Claude Code's default, Anthropic's) decides
STATUS_PAGE = " This is a server-side issue, usually temporary — try again in a moment. If it persists, check "


@dataclass(frozen=True)
class Public:
    text: str
    expected: str
    route: str | None
    source: str
    attempt: bool = True  # False: never a failed attempt's text (the user's interruption)


P = Public
PUBLIC: list[Public] = [
    # --- Anthropic's own server errors: outage, claimable ----------------------------------------------------
    P('API Error: 500 {"type":"error","error":{"type":"api_error","message":"Internal server error"},'
      '"request_id":"req_011CXq7Lm2Nv8Rt4Yz6Wb3Hk"}', OUTAGE, NONE, "cc#22766"),
    P('Error: 500 {"type":"error","error":{"type":"api_error","message":"Internal server error"},"request_id":'
      '"req_011CXq7Lm2Nv8Rt4Yz6Wb3Hk"}\n    at generate (/$bunfs/root/claude:340:8942)\n    at makeRequest '
      '(/$bunfs/root/claude:357:5435)', OUTAGE, NONE, "cc#22766 (the errors log)"),
    P("API Error: 500 Internal server error." + STATUS_PAGE + "https://status.claude.com.", OUTAGE, NONE,
      "cc#70344"),
    # the terminal wrapped the body: spaces and line breaks inside it
    P('API Error: 500                                      \n     {"type":"error","error":{"type":"api_error",'
      '"message":"Internal server     \n     error"},"request_id":"req_011CY4Pq9Zx2Lm7Nb5Vc8Kd"}', OUTAGE, NONE,
      "cc#24820"),
    P("API Error: 502 Bad Gateway." + STATUS_PAGE + "\n  https://status.claude.com", OUTAGE, NONE, "cc#69785"),
    P("API Error: 529 Overloaded." + STATUS_PAGE + "status.claude.com.", OUTAGE, NONE, "cc#63051"),
    P("API Error: Repeated 529 Overloaded errors", OUTAGE, NONE, "lbjlaq/Antigravity-Manager#112"),
    P("API Error: Stream idle timeout - partial response received", OUTAGE, NONE, "link-assistant/hive-mind#1937"),
    # Cloudflare in front of api.anthropic.com: Anthropic's own edge, not a relay's page
    P('API Error (520 <!DOCTYPE html>\n<html class="no-js" lang="en-US">\n<head>\n<title>api.anthropic.com | 520: '
      'Web server is returning an unknown error</title>\n</head>\n<body><p>There is an issue between Cloudflare\'s '
      'cache and your origin web server.</p></body>', OUTAGE, NONE, "cc#3197"),
    P('API Error: 522 {"type":"https://developers.cloudflare.com/support/troubleshooting/http-status-codes/'
      'cloudflare-5xx-errors/error-522/","title":"Error 522: Connection timed out","status":522,"error_code":522,'
      '"error_name":"connection_timeout","zone":"api.anthropic.com","cloudflare_error":true,"retryable":true}',
      OUTAGE, NONE, "cc#67341"),
    P("API Error: API returned an empty or malformed response (HTTP 200) — check for a proxy or gateway "
      "intercepting the request", OUTAGE, NONE, "Alishahryar1/free-claude-code#686"),
    P("API Error: 500 terminated", OUTAGE, NONE, "ding113/claude-code-hub#307"),
    # Claude Code writes the title of Cloudflare's page for api.anthropic.com as the retry's text
    P("API Error (api.anthropic.com | 504: Gateway time-out) · Retrying in 9 seconds… (attempt 5/10)", OUTAGE, NONE,
      "cc#6784"),
    P('API Error: 504 <!DOCTYPE html>\n<html class="no-js" lang="en-US">\n<head>\n<title>api.anthropic.com | 504: '
      'Gateway time-out</title>', OUTAGE, NONE, "cc#2728"),
    P("API Error (503 upstream connect error or disconnect/reset before headers. reset reason: connection timeout) · "
      "Retrying in 5 seconds… (attempt 4/10)", OUTAGE, NONE, "cc#7403"),
    P("Error: Error during compaction: API Error: 504 Gateway Time-out." + STATUS_PAGE + "status.claude.com.", OUTAGE,
      NONE, "cc#54736"),
    P("API Error: 502\nBad gateway Error code 502 Visit cloudflare.com for more information. 2026-03-24 10:51:57 UTC",
      OUTAGE, NONE, "YishenTu/claudian#397"),
    # --- a lost connection: network (outage evidence only beside HTTP-level errors or an incident) ------------
    P("Unable to connect to API (ECONNRESET) · Retrying in 0s · attempt 3/10", NETWORK, NONE, "cc#81847"),
    P("ECONNRESET: The socket connection was closed unexpectedly. For more information, pass `verbose: true` in "
      "the second argument to fetch()", NETWORK, NONE, "anomalyco/opencode#50568"),
    P("API Error (Connection error.) · Retrying in 1 seconds… (attempt 1/10)\n    ⎿  TypeError (fetch failed)",
      NETWORK, NONE, "SSYCloud/claude-code-proxy-ssy#1"),
    P("API Error (Request timed out.) · Retrying in 2 seconds… (attempt 3/10)", NETWORK, NONE, "cc#3197"),
    P("API Error (Connection error.) · Retrying in 1 seconds… (attempt 1/10)\n    ⎿  FetchError (request to "
      "https://api.anthropic.com/v1/messages?beta=true failed, reason: socket hang up)", NETWORK, NONE, "cc#1101"),
    # Esc between two retries (1.0.x): the user stopped it
    P("API Error: Operation aborted", "interrupt", NONE, "cc#8156", attempt=False),
    # --- Anthropic's own limits and billing --------------------------------------------------------------------
    P('Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed your '
      'account\'s rate limit. Please try again later."},"request_id":"req_011CX6hT3kLp9Wq2Zr5Ny8Mb"}', QUOTA_RATE,
      NONE, "cc#18078"),
    P("2026-01-19T04:28:42.504Z [ERROR] Error in non-streaming fallback: 429 {\"type\":\"error\",\"error\":{\"type\":"
      "\"rate_limit_error\",\"message\":\"This request would exceed your account's rate limit. Please try again "
      "later.\"},\"request_id\":\"req_011CXG7Rk2Lm9Pq4Ws6Tz3Vb\"}", QUOTA_RATE, NONE, "cc#19155"),
    P("You've hit your limit · resets Apr 23 at 4pm (America/Recife)", QUOTA_RATE, NONE, "cc#51981"),
    P("You've hit your limit - resets Feb 7, 11am (Asia/Seoul)/login to switch to an API usage-billed account.",
      QUOTA_RATE, NONE, "cc#22976"),
    P("Claude AI usage limit reached|1753077600", QUOTA_RATE, NONE, "cc#4048"),
    P("5-hour limit reached · resets 2pm (Pacific/Auckland) · /upgrade to Max 20x or turn on /extra-usage",
      QUOTA_RATE, NONE, "cc#12308"),
    P("Opus weekly limit reached ∙ resets Oct 31, 9am", QUOTA_RATE, NONE, "cc#10333"),
    P("You've hit your session limit · resets 12:50am (America/Los_Angeles)", QUOTA_RATE, NONE, "cc#74079"),
    P('Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too '
      'low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."},'
      '"request_id":"req_011CZEd4Fq7Rn2Lk8Wp5Tz9M"}', QUOTA_RATE, NONE, "cc#36604"),
    # --- sign-in ------------------------------------------------------------------------------------------------
    P('API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"OAuth token has expired. '
      'Please obtain a new token or refresh your \n     existing token."},"request_id":"req_011CSJp4Kd8Lm2Rq6Tw9Zb"}',
      AUTH, NONE, "cc#6177"),
    P('Failed to authenticate. API Error: 401 {"type":"error","error":{"type":"authentication_error","message":'
      '"OAuth token has expired. Please obtain a new token or refresh your existing token."},"request_id":""}',
      AUTH, NONE, "BloopAI/vibe-kanban#2853"),
    P('Error: 401 {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},'
      '"request_id":"req_011CUBg7Hn3Kq8Lp2Wr5Tz"}', AUTH, NONE, "cc#9694"),
    P("Error code: 401 - {'type': 'error', 'error': {'type': 'authentication_error', 'message': 'invalid "
      "x-api-key'}}", AUTH, NONE, "anthropics/claude-quickstarts#193"),
    P("Invalid API key · Fix external API key", AUTH, NONE, "cc#9694"),
    P("Error: Failed to get auth headers: No API key available", AUTH, NONE, "cc#6331"),
    # --- the request: model_provider ------------------------------------------------------------------------------
    P('API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"messages.22: `tool_use` '
      'ids were found without `tool_result` blocks immediately after: toolu_01Hq7Lm2Nv8Rt4Yz6Wb3. Each `tool_use` '
      'block must have a corresponding `tool_result` block in the next message."}}', MODEL_PROVIDER, NONE,
      "cc#5989"),
    P('Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"messages.13.content.29: '
      '`thinking` or `redacted_thinking` blocks in the latest assistant message cannot be modified. These blocks '
      'must remain as they were in the original response."},"request_id":"req_011CbV7Lm3Kq9Pw2Zr6Tb"}',
      MODEL_PROVIDER, NONE, "cc#63155"),
    P("API Error: 400 messages.7.content.12: `thinking` or `redacted_thinking` blocks in the latest assistant "
      "message cannot be modified. These blocks\n     must remain as they were in the original response.",
      MODEL_PROVIDER, NONE, "cc#63418"),
    # --- this machine: TLS, a proxy's certificate ------------------------------------------------------------------
    P("API Error (Connection error.) · Retrying in 4 seconds… (attempt 4/10)\n    ⎿  Error (self signed "
      "certificate in certificate chain) (SELF_SIGNED_CERT_IN_CHAIN)", LOCAL_RUNTIME, NONE, "cc#8054"),
    P("Failed to connect to console.anthropic.com: SELF_SIGNED_CERT_IN_CHAIN", LOCAL_RUNTIME, NONE, "cc#3374"),
    P("OAuth error: unable to get local issuer certificate", LOCAL_RUNTIME, NONE, "cc#8032 (behind Zscaler)"),
    P("Unable to connect to API due to poor internet connection", LOCAL_RUNTIME, NONE, "cc#8032"),
    P("Failed to connect to api.anthropic.com: ECONNREFUSED", LOCAL_RUNTIME, NONE, "KimYx0207/AI-Coding-Guide-Zh#5"),
    # the start-up reachability check answered 4xx ("… might not be available in your country")
    P("Failed to connect to api.anthropic.com: ERR_BAD_REQUEST", LOCAL_RUNTIME, NONE, "LLM-Red-Team/kimi-cc#46"),
    P("Unable to connect to API (ConnectionRefused)      Retrying in 2s · attempt 9/10", LOCAL_RUNTIME, NONE,
      "cc#62793"),
    P("Failed to fetch version from https://storage.googleapis.com/claude-code-dist-0000/claude-code-releases/"
      "latest: unable to get local issuer certificate", LOCAL_RUNTIME, NONE, "cc#22756"),
    P("[Error] <urlopen error [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self signed certificate "
      "in certificate chain (_ssl.c:1131)>", LOCAL_RUNTIME, NONE, "barryceelen/Claudette#9"),
    # --- Amazon Bedrock -----------------------------------------------------------------------------------------
    P("API Error (429 Too many tokens, please wait before trying again.)", QUOTA_RATE, BEDROCK, "cc#236"),
    P("An error occurred (ThrottlingException) when calling the InvokeModel operation (reached max retries: 4): "
      "Too many tokens, please wait before trying again.", QUOTA_RATE, BEDROCK, "hyunhwan-bcm/MARRVEL_MCP#225"),
    P("API Error: 400 Invocation of model ID anthropic.claude-3-7-sonnet-20250219-v1:0 with on-demand throughput "
      "isn’t supported. Retry your request with the ID or ARN of an inference profile that contains this model.",
      DEPLOYMENT_CONFIG, BEDROCK, "cc#110"),
    P("Error: 400 The provided model identifier is invalid.", DEPLOYMENT_CONFIG, BEDROCK, "cc#12621"),
    P("API Error: 503 Bedrock is unable to process your request. This is a server-side issue, usually temporary — "
      "try\n  again in a moment. If it persists, check your Amazon Bedrock service status", OUTAGE, BEDROCK, "cc#70366"),
    P("API Error: 403 The security token included in the request is expired · Please run /login", AUTH, BEDROCK,
      "cc#28032"),
    P("API Error (403 The security token included in the request is invalid.) · Retrying in 1 seconds… (attempt "
      "1/10)", DEPLOYMENT_CONFIG, BEDROCK, "cc#5418 (the AWS profile Claude Code was given)"),
    P("API Error: The SSO session associated with this profile has expired. To refresh this SSO session run aws sso "
      "login with the corresponding profile.", AUTH, BEDROCK, "cc#849"),
    P("httpx.HTTPStatusError: Server error '503 Service Unavailable' for url 'https://bedrock-runtime.us-west-2."
      "amazonaws.com/model/anthropic.claude-3-5-sonnet-20241022-v2:0/converse'", OUTAGE, BEDROCK,
      "Aider-AI/aider#2530"),
    # --- Google Vertex AI ---------------------------------------------------------------------------------------
    # a 429 quota the `aiplatform.` setting rule had filed under deployment_config
    P('API Error (429 {"error":{"code":429,"message":"Quota exceeded for aiplatform.googleapis.com/'
      'online_prediction_input_tokens_per_minute_per_base_model with base model: anthropic-claude-opus-4. Please '
      'submit a quota increase request. https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai.",'
      '"status":"RESOURCE_EXHAUSTED"}}) · Retrying in 32 seconds… (attempt 7/10)', QUOTA_RATE, VERTEX, "cc#1440"),
    P('400 {"type":"error","error":{"type":"invalid_request_error","message":"messages.33: `tool_use` ids were '
      'found without `tool_result` blocks immediately after: toolu_vrtx_01Kq7Lm2Nv8Rt4. Each `tool_use` block must '
      'have a corresponding `tool_result` block in the next message."},"request_id":"req_vrtx_011CXD4Lm8Pq2Wr"}',
      MODEL_PROVIDER, VERTEX, "Kilo-Org/kilocode#5163"),
    P('API Error: 404 {"error":{"code":404,"message":"Publisher Model `projects/p/locations/us-east5/publishers/'
      'anthropic/models/claude-sonnet-4-5-20250929` not found.","status":"NOT_FOUND"}}', MODEL_PROVIDER, VERTEX,
      "cc#10419"),
    P("The model claude-opus-4-6@default is not available on your vertex deployment. Try /model to switch to "
      "claude-opus-4-1@20250805, or ask your admin to enable this model.", MODEL_PROVIDER, VERTEX,
      "QuantumNous/new-api#2945"),
    # --- Microsoft Foundry ------------------------------------------------------------------------------------
    P('Azure AI Foundry rejected model "claude-opus-4-5" (HTTP 404)\nrequestUrl: https://myres.services.ai.azure.com/'
      'models/chat/completions', MODEL_PROVIDER, provider.FOUNDRY, "cc#67179"),
    P("API Error: 404 Resource not found", MODEL_PROVIDER, NONE, "anthropics/claude-agent-sdk-python#382 (a Foundry "
      "base URL without /anthropic)"),
    # --- relays and aggregators: never Anthropic's -------------------------------------------------------------
    P("NotFoundError(\"Error code: 404 - {'error': {'message': 'Publisher Model `projects/p/locations/us-east5/"
      "publishers/google/models/claude-sonnet-4-20250514` not found.', 'type': 'upstream_error', 'param': '', "
      "'code': 404}}\")", MODEL_PROVIDER, OTHER, "QuantumNous/new-api#1476"),
    # a body in Anthropic's words from another server: `"type":"error"` after the error object, where
    # Anthropic's API writes it first (Go relays and Moonshot's endpoint)
    P('API Error: 400 {"error":{"type":"invalid_request_error","message":"a max of 128 tools can be \n     '
      'supported"},"type":"error"}', MODEL_PROVIDER, OTHER, "MoonshotAI/Kimi-K2#90"),
    P("API Error: 529 [1305][The service may be temporarily overloaded, please try again later][2026062418aa0b]",
      OUTAGE, NONE, "repoprompt/repoprompt-ce#295 (Z.ai)"),
    P('{"type":"error","error":{"type":"overloaded_error","message":"No available accounts: All accounts failed '
      'or unhealthy."}}', OUTAGE, OTHER, "lbjlaq/Antigravity-Manager#2234"),
    P('Antigravity API request failed: Antigravity API error (429): {\n  "error": {\n    "code": 429,\n    '
      '"message": "Resource has been exhausted (e.g. check quota).",\n    "status": "RESOURCE_EXHAUSTED"\n  }\n}',
      QUOTA_RATE, OTHER, "su-kaka/gcli2api#274"),
    # new-api / one-api: "the current group's upstream load is saturated" (the upstream key's rate)
    P("429 当前分组上游负载已饱和，请稍后再试 (request id: 20250423020142736330894dLoIRrS6)", QUOTA_RATE, OTHER,
      "QuantumNous/new-api#991"),
    P('{"error":{"message":"当前分组上游负载已饱和，请稍后再试 (request id: 2024121602163036521732429064585)",'
      '"type":"new_api_error","param":"","code":null}}', QUOTA_RATE, OTHER, "popjane/free_chatgpt_api#65"),
    # no channel (route) for the model asked
    P("API Error: 503 No available channel for model claude-opus-5 under group default (distributor) (request id: "
      "2026081804515968201623282aBcDeFgH)." + STATUS_PAGE.split(" If")[0] + " If it persists, check your inference "
      "gateway (api.relay.example).", MODEL_PROVIDER, OTHER, "QuantumNous/new-api#6915"),
    P('503 {"error":{"code":"model_not_found","message":"分组 default 下模型 Qwen3.5-9B-MLX-4bit 无可用渠道'
      '（distributor） (request id: 20260327022820998104656PvVioTdm)","type":"new_api_error"}}\n     Retrying in 15 '
      'seconds… (attempt 6/10) · API_TIMEOUT_MS=3000000ms, try increasing it', MODEL_PROVIDER, OTHER, "jundot/omlx#417"),
    P('API Error: 503 {"type":"one_hub_error","error":{"type":"one_hub_error","message":"当前分组 \n    default 下对于'
      '模型 claude-sonnet-4-20250514 无可用渠道 (request id: \n    20250803220350957398114ZufW5TnN)"}}',
      MODEL_PROVIDER, OTHER, "MartialBE/one-hub#788"),
    P('API Error (401 {"error":{"message":"无效的令牌 (request id: 20250720182654457470344fBdI4eO0)","type":'
      '"api_error"}}) · Retrying in 5 seconds… (attempt 4/10)', AUTH, OTHER, "MartialBE/one-hub#788"),
    P('bad response status code 503, message: No available accounts: this group only allows Claude Code clients, '
      'body: {"error":{"message":"No available accounts: this group only allows Claude Code clients","type":'
      '"api_error"},"type":"error"}', OUTAGE, OTHER, "Aichs/new-api#3"),
    P("API Error: 503 No available accounts: no available accounts." + STATUS_PAGE + "status.claude.com.", OUTAGE,
      OTHER, "cc#57552 (a relay's wording under Claude Code's advice)"),
    P("API Error: 502 status code (no body)." + STATUS_PAGE.split(" If")[0] + " If it persists, check your "
      "inference gateway (relay.example:3000).", OUTAGE, OTHER, "Wei-Shaw/claude-relay-service#1203"),
    P('API Error (429 {"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed your '
      'account\'s rate limit. Please try again later."}}) · Retrying in 2892 seconds… (attempt 1/10)', QUOTA_RATE,
      NONE, "Wei-Shaw/claude-relay-service#56 (the relay passed Anthropic's body on: its settings tell)"),
    # Anthropic-shaped bodies with a request id Anthropic never mints (Z.ai, MiniMax) and OpenAI-shaped ones
    P('429 {"type":"error","error":{"type":"1113","message":"Insufficient balance or no resource package. \n     '
      'Please recharge."},"request_id":"20251009174412aa55cc77ee99bb11"}', QUOTA_RATE, OTHER, "cc#9201"),
    P('API Error: 429 {"error":{"code":"1113","message":"Insufficient balance or no resource package. Please '
      'recharge."},"request_id":"20260316142054cc33aa11ee77dd99"}', QUOTA_RATE, OTHER, "cc#34851"),
    # Chinese words in the server's answer: never Anthropic's API's
    P("429 余额不足或无可用资源包,请充值。", QUOTA_RATE, OTHER, "continuedev/continue#11823 (GLM)"),
    P('API Error: 500 {"type":"error","error":{"type":"api_error","message":"insufficient balance (1008)"},'
      '"request_id":"05997465cd2ee4bd50b24b216c9aa0ff"}', QUOTA_RATE, OTHER, "MiniMax-AI/MiniMax-M2#62"),
    P('API Error: 402 {"error":{"message":"Insufficient credits — top up your balance at https://gateway.example/'
      'credits","type":"insufficient_quota","code":"insufficient_credits"}}', QUOTA_RATE, OTHER,
      "Gitlawb/openclaude#1528"),
    P("402 Insufficient Balance", QUOTA_RATE, NONE, "continuedev/continue#11387 (DeepSeek)"),
    # OpenRouter and claude-code-router wrap their upstream's error
    P('API Error: 400 {"error":{"message":"Provider returned error","code":400,"metadata":{"raw":"{\\"error\\":'
      '{\\"code\\":\\"400\\",\\"message\\":\\"Param Incorrect\\"}}","provider_name":"Xiaomi"}}', MODEL_PROVIDER, OTHER,
      "farion1231/cc-switch#464"),
    P('Upstream provider OPENROUTER returned HTTP 402.\nCategory: api_error\nMapped message: Provider API request '
      'failed.\n\nUpstream error:\n{"error":{"message":"Insufficient credits. This account never purchased credits.",'
      '"code":402}}', QUOTA_RATE, OTHER, "Alishahryar1/free-claude-code#772"),
    P('HTTP 404: {"error":{"message":"No allowed providers are available for the selected model.","code":404,'
      '"metadata":{"available_providers":["z-ai"],"requested_providers":["anthropic"]}}}', MODEL_PROVIDER, OTHER,
      "farion1231/cc-switch#995"),
    P('API Error (429 {"error":{"message":"Error from provider: {\\n  \\"error\\": {\\n    \\"code\\": 429,\\n    '
      '\\"message\\": \\"Resource has been exhausted (e.g. check quota).\\",\\n    \\"status\\": \\"RESOURCE_EXHAUSTED\\"'
      '\\n  }\\n}","type":"api_error","code":"provider_response_error"}}) · Retrying in 1 seconds… (attempt 1/10)',
      QUOTA_RATE, OTHER, "musistudio/claude-code-router#463"),
    # a LiteLLM proxy around Anthropic's body, and its own OpenAI-shaped error
    P("litellm.BadRequestError: AnthropicException - b'{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
      "\"message\":\"messages: text content blocks must be non-empty\"},\"request_id\":\"req_011CXrg4Lm8Pq2Wr\"}'. "
      "Received Model Group=claude-sonnet-4-5\nAvailable Model Group Fallbacks=None LiteLLM Retried: 2 times",
      MODEL_PROVIDER, OTHER, "BerriAI/litellm#20575"),
    # a LiteLLM proxy in front of Bedrock, the model group's name on a wrapped line
    P('API Error: 400 {"error":{"message":"{\\"message\\":\\"messages.0.content.3.text.cache_control.ephemeral.ttl: '
      'Extra inputs are not permitted\\"}. Received \n    Model Group=claude-sonnet-4-5\\nAvailable Model Group '
      'Fallbacks=None","type":"None","param":"None","code":"400"}}', DEPLOYMENT_CONFIG, OTHER, "cc#12122"),
    P('{"error":{"message":"Invalid JSON payload: unexpected character: line 1 column 26867 (char 26866)","type":'
      '"invalid_request_error","param":"request_body","code":"400"}}', MODEL_PROVIDER, OTHER, "BerriAI/litellm#26112"),
    # a relay's or a gateway's HTML page: its host is not Anthropic's
    P('API Error: 524 <!DOCTYPE html>\n<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->\n'
      '<head>\n<title>relay.example | 524: A timeout occurred</title>\n</head>', OUTAGE, OTHER, "cc#16737"),
    P("<html>\n<head><title>504 Gateway Time-out</title></head>\n<body>\n<center><h1>504 Gateway Time-out</h1>"
      "</center>\n</body>\n</html>", OUTAGE, OTHER, "continuedev/continue#10041"),
    P("<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n"
      "<hr><center>cloudflare</center>\n</body>\n</html>", OUTAGE, OTHER, "continuedev/continue#12769"),
]

IDS = [f"{n}-{row.source.split()[0]}" for n, row in enumerate(PUBLIC)]


def test_enough_public_texts_from_many_sources() -> None:
    assert len(PUBLIC) >= 80
    assert len({row.source.split()[0].split("#")[0] for row in PUBLIC}) >= 25  # repositories
    assert {row.route for row in PUBLIC} >= {NONE, OTHER, BEDROCK, VERTEX, provider.FOUNDRY}


@pytest.mark.parametrize("row", PUBLIC, ids=IDS)
def test_public_text_class(row: Public) -> None:
    assert classify(text=row.text) == row.expected


@pytest.mark.parametrize("row", PUBLIC, ids=IDS)
def test_public_text_route(row: Public) -> None:
    assert provider.judge(text=row.text) == row.route


@pytest.fixture(scope="module")
def public_ledger(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return ingest_text_rows(tmp_path_factory.mktemp("public-texts"), PUBLIC)


RECORDS = [(n, kind) for n, row in enumerate(PUBLIC) for kind in ("final", "retry") if row.attempt or kind == "final"]


@pytest.mark.parametrize(("n", "kind"), RECORDS, ids=[f"{IDS[n]}-{kind}" for n, kind in RECORDS])
def test_public_text_through_ingest(public_ledger: dict[str, dict[str, Any]], n: int, kind: str) -> None:
    row = PUBLIC[n]
    got = public_ledger[f"{kind}-{n}"]
    want_kind = "interrupt" if row.expected == "interrupt" else kind
    assert (got["kind"], got["failure_class"]) == (want_kind, row.expected)
    # A relay's or cloud's error is never claimed from Anthropic; Anthropic's own stays claimable.
    assert got["provider"] == (row.route or ANTHROPIC)


def test_a_declared_gateways_own_wording_and_shapes_prove_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # A LiteLLM proxy (or any gateway) the user declares as forwarding to Anthropic's API writes its own
    # wording and OpenAI-shaped errors around Anthropic's answers: then they are no evidence of another
    # route. A relay's own wording, or a cloud's, still is.
    litellm = next(r.text for r in PUBLIC if r.source == "BerriAI/litellm#20575")
    shaped = next(r.text for r in PUBLIC if r.source == "BerriAI/litellm#26112")
    foreign_id = next(r.text for r in PUBLIC if r.source == "MiniMax-AI/MiniMax-M2#62")
    relay = next(r.text for r in PUBLIC if r.source == "QuantumNous/new-api#991")
    bedrock = next(r.text for r in PUBLIC if r.source == "cc#236")
    assert [provider.judge(text=t) for t in (litellm, shaped, foreign_id)] == [OTHER] * 3
    monkeypatch.setenv(provider.GATEWAY_UPSTREAM_VAR, "anthropic")
    assert [provider.judge(text=t) for t in (litellm, shaped, foreign_id)] == [None] * 3
    assert (provider.judge(text=relay), provider.judge(text=bedrock)) == (OTHER, BEDROCK)


@pytest.mark.parametrize(("zone", "route"), [
    ("api.anthropic.com", NONE), ("API.Anthropic.com", NONE), ("mcp-proxy.anthropic.com", NONE),
    ("api.anthropic.com.relay.example", OTHER), ("evilanthropic.com", OTHER), ("relay.example", OTHER),
])
def test_only_anthropics_own_cloudflare_zone_is_anthropics_edge(zone: str, route: str | None) -> None:
    page = (f"API Error: 502 <!DOCTYPE html>\n<html><head>\n<title>{zone} | 502: Bad gateway</title></head>"
            "<body>Cloudflare</body></html>")
    body = (f'API Error: 522 {{"title":"Error 522: Connection timed out","status":522,"zone":"{zone}",'
            '"cloudflare_error":true}')
    assert (provider.judge(text=page), provider.judge(text=body)) == (route, route)
