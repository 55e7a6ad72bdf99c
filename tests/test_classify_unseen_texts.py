"""Error texts nobody on the team had seen, classified and routed as claimback must.

A second corpus beside tests/test_classify_public_texts.py (none of its texts is repeated here): what users
met in Claude Code and pasted into GitHub issues of anthropics/claude-code and of the relays, routers,
gateways and clouds they run it through (new-api/one-api, sub2api, claude-relay-service, claude-code-hub,
claude-code-router, CLIProxyAPI, LiteLLM, OpenRouter, Bedrock, Vertex, Azure), searched on 2026-12-02.
Each row is written in the issue's shape with our own ids, hosts, numbers and times; the product strings
are kept as emitted (a terminal's line breaks too), long bodies cut to what identifies them. `cc#N` is
github.com/anthropics/claude-code/issues/N, `owner/repo#N` another repository's issue.

The same four checks as the first corpus: the class of the text alone (`doctor explain`), its route
(`provider.judge(text=…)`: a relay's, gateway's or cloud's error is never Anthropic's; Anthropic's own and
Claude Code's own prove no route, so their sessions stay claimable), and the text as the final API-error
record of a turn and as a failed attempt (`system`/`api_error`), each through the real ingest. Then what
such texts do to the rest: line breaks anywhere, bodies cut short, `\\uXXXX` escapes, a megabyte of them,
and the secrets pasted beside them (`doctor --json`). docs/methodology.md, "Error texts nobody had seen",
names the rules these rows changed and the threads they rest on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from records import ingest_text_rows
from test_classify_public_texts import PUBLIC as FIRST_CORPUS
from test_classify_public_texts import Public as P

from claimback.cli import main
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
    normalize_signature,
)

OTHER, BEDROCK, VERTEX = provider.OTHER, provider.BEDROCK, provider.VERTEX
NONE = None  # the text proves no route: the session's (here Claude Code's default, Anthropic's) decides

UNSEEN: list[P] = [
    # --- Anthropic's API and Claude Code's own texts: no other route in the text (the session's decides) ---------
    P('API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded.\nhttps:/'
      '/docs.claude.com/en/api/errors"},"request_id":"req_011CZQw3Rt7Lm9Kp2Vb6Nx4H"}', OUTAGE, NONE, 'cc#39745'),
    P('API Error (529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"reque'
      'st_id":null}) · Retrying in 4 seconds… (attempt 4/10)', OUTAGE, NONE, 'cc#7218'),
    P('API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a '
      'moment. If it persists, check https://status.claude.com/.', OUTAGE, NONE, 'cc#87317'),
    P('API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a '
      'moment.', OUTAGE, NONE, 'cc#69755'),
    P('Agent "Port the build scripts" failed: Agent terminated early due to an API error: API Error: '
      '529 Overloaded. This is a server-side issue, usually temporary — try again in a moment. If it '
      'persists, check https://status.claude.com.', OUTAGE, NONE, 'cc#81327'),
    P("API Error: Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', 'message': "
      "'Overloaded'}}", OUTAGE, NONE, 'Doriandarko/claude-engineer#161'),
    P('Error: 500 {"type":"error","error":{"type":"api_error","message":"Internal server '
      'error"},"request_id":"req_011CXmQ7Lp2Wd8Kr4Nz6Tb3V"}\n    at g4.generate '
      '(file:///usr/local/lib/node_modules/@anthropic-ai/claude-code/cli.js:404:8909)\n    at '
      'gy.makeStatusError (file:///usr/local/lib/node_modules/@anthropic-ai/claude-code/cli.js:421:2195'
      ')', OUTAGE, NONE, 'cc#22797'),
    P('{"type":"error","error":{"type":"api_error","message":"Internal server '
      'error"},"request_id":"req_011CZ8Lq4Rm7Tw2Xb9Nk5Hc"}', OUTAGE, NONE, 'cc#35469'),
    P('API Error: 500 {"type":"error","error":{"type":"api_\n    error","message":"Internal server      '
      '             \n    error"},"request_id":"req_011CXmR4Tw8Lp2Qd6Nk9Vb3"}', OUTAGE, NONE, 'cc#22785'),
    P('API Error: 500 {"type":"error","error":{"type":"api_error","message":"Internal server '
      'error"},"request_id":"req_011Ca6Lm2Qw8Rt4Vb9Nk3Px"} · check\n     status.claude.com',
      OUTAGE, NONE, 'cc#48591'),
    P('API Error (503 no healthy upstream) · Retrying in 2 seconds… (attempt 3/10)', OUTAGE, NONE, 'cc#2024'),
    P('API Error: 503 no healthy upstream', OUTAGE, NONE, 'cc#2024 (the final)'),
    P('API Error (503 upstream connect error or disconnect/reset before headers. reset reason: remote '
      'connection failure, transport failure reason: delayed connect error: Connection refused) · '
      'Retrying in 4 seconds… (attempt 4/10)', OUTAGE, NONE, 'cc#8800'),
    P('API Error (503 upstream connect error or disconnect/reset before headers. reset reason: '
      'overflow) · Retrying in 8 seconds… (attempt 5/10)', OUTAGE, NONE, 'cc#7043'),
    P('AxiosError: Request failed with status code 503', OUTAGE, NONE, 'cc#7402'),
    P('API Error: 529 {"type":"error","error":{"type":"overloaded_error","message\n    '
      '":"Overloaded"},"request_id":null}', OUTAGE, NONE, 'cc#12401'),
    P('{\n  "type": "error",\n  "error": {\n    "type": "overloaded_error",\n    "message": "Overloaded"\n  '
      '},\n  "request_id": "req_011CXo4Lm8Qw2Rt6Vb9NkPz"\n}', OUTAGE, NONE, 'cc#23049'),
    P('API Error: 500 {"type":"error","error":{"type":"api_error","message":"Overloaded"},"request_id":'
      'null}', OUTAGE, NONE, 'cc#8116'),
    P('Errore API\nAPI Error: Stream idle timeout - partial response received',
      OUTAGE, NONE, 'cc#48684 (the desktop app, Italian)'),
    P('[WARNING][2026-03-28 23:25:44][claude_api_bot.py:116] - [CLAUDE_API] Exception: Error code: 529 '
      "- {'type': 'error', 'error': {'type': 'overloaded_error', 'message': 'Overloaded'}}",
      OUTAGE, NONE, 'zhayujie/CowAgent#1866'),
    P('529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded.\n     '
      'https://docs.claude.com/en/api/errors"},"request_id":"req_011CZ9F4Lm8Qw2Rt6Vb9NkP"}. Claude '
      'Code is hardly usable at this point', OUTAGE, NONE, 'cc#35487'),
    P('API Error (529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}) · '
      'Retrying in 16 seconds… (attempt 5/10)', OUTAGE, NONE, 'cc#1816'),
    P('AxiosError: timeout of 5000ms exceeded', NETWORK, NONE, 'cc#6266'),
    P('API Error: The operation timed out', NETWORK, NONE, 'farion1231/cc-switch#5831'),
    P('Error: read ECONNRESET', NETWORK, NONE, 'cc#6596'),
    P('API Error (Connection error.) · Retrying in 9 seconds… (attempt 5/10) · '
      'API_TIMEOUT_MS=600000ms, try increasing it\n    ⎿  TypeError (fetch failed)',
      NETWORK, NONE, 'musistudio/claude-code-router#766'),
    P('Error: write EOF', NETWORK, NONE, 'cc#11399'),
    P('API Error: terminated', NETWORK, NONE, 'decolua/9router#1229'),
    P('{"error":{"type":"rate_limit_error","message":"Number of concurrent connections to Claude '
      'exceeds your rate limit. Please try again, or contact sales@anthropic.com to discuss your '
      'options for a rate limit increase."}}', QUOTA_RATE, NONE, 'jtsang4/claude-to-chatgpt#15'),
    P('{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too '
      'low to access the Claude API. Please go to Plans & Billing to upgrade or purchase credits."}}',
      QUOTA_RATE, NONE, 'phodal/auto-dev#209'),
    P('API Error: Rate limit reached', QUOTA_RATE, NONE, 'cc#40976'),
    P('Session limit reached ∙ resets 8pm', QUOTA_RATE, NONE, 'cc#11577'),
    P('You have used all your credits for this month. Please add more credits to continue.',
      QUOTA_RATE, NONE, 'xtekky/gpt4free#3020'),
    P('Error: Claude Code web sessions require authentication with a Claude.ai account. API key '
      'authentication is not sufficient. Please run /login to authenticate, or check your '
      'authentication status with /status.', AUTH, NONE, 'cc#55469'),
    P('AxiosError: Request failed with status code 401', AUTH, NONE, 'cc#55469 (the errors log)'),
    P('Error: 403 {"type":"error","error":{"type":"permission_error","message":"OAuth token has been '
      'revoked. Please obtain a new token."},"request_id":"req_011CUB7Lq2Wm9Rt4Kb6Nx"}', AUTH, NONE, 'cc#9635'),
    P('Error: Failed to load usage data: {"type":"error","error":{"type":"permission_error","message":"'
      'OAuth token has been\n  revoked. Please obtain a new\n  token.","details":{"error_visibility":"use'
      'r_facing"}},"request_id":"req_011CYa4Lm7Qw2Rt8Vb3Nk"}', AUTH, NONE, 'cc#29497'),
    P('API Error: 401\n{"type":"error","error":{"type":"authentication_error","message":"OAuth token '
      'has expired. Please obtain a new token or refresh your existing token."}} · Please run /login',
      AUTH, NONE, 'cc#33811'),
    P('API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"Invalid OAuth '
      'token. The provided token was not found or is\n     malformed."},"request_id":"req_011CVR7Lq4Wm2T'
      'b9Kx6Nz"} · Please run /login', AUTH, NONE, 'cc#4138'),
    P('Failed to authenticate. API Error: 401 OAuth access token has been revoked.', AUTH, NONE, 'vm0-ai/vm0#29128'),
    P('Failed to authenticate. API Error: 401 Invalid bearer token', AUTH, NONE, 'openclaw/openclaw#97669'),
    P('API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"This \n    '
      'organization has been disabled."},"request_id":"req_011CU2Lm7Qw4Rt8Vb3Nk6Px"}', AUTH, NONE, 'cc#9384'),
    P('API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"This '
      'organization has been\ndisabled."},"request_id":"req_011CZb4Lm8Qw2Rt6Vb9Nk3P"}',
      AUTH, NONE, 'router-for-me/CLIProxyAPI#2442'),
    P('Your organization has disabled API key authentication for Claude Code · Switch to a Claude.ai '
      'subscription, or ask your admin to enable API key access', AUTH, NONE, 'cc#66392'),
    P('Error: 403 {"type":"error","error":{"type":"permission_error","message":"OAuth token has been '
      'revoked. Please obtain a new token."}}\n    at new rW (unknown:1:28)\n    at generate '
      '(/$bunfs/root/claude:1117:2380)', AUTH, NONE, 'cc#5210 (the errors log)'),
    P('400 {"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: '
      '207311 tokens > 199999 maximum"}}', MODEL_PROVIDER, NONE, 'kodu-ai/claude-coder#64'),
    P('API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: '
      '128001 > 64000, which is the maximum allowed number of\n    output tokens for '
      'claude-opus-4-5-20251101"},"request_id":"req_011CXy4Lm8Qw2Rt6Vb3Nk9P"}', MODEL_PROVIDER, NONE, 'cc#24451'),
    P('API Error: 400 status code (no body)', MODEL_PROVIDER, NONE, 'ding113/claude-code-hub#474'),
    P('API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"input length '
      'and max_tokens exceed context limit: 197204 + 21333 > 200000, decrease input length or '
      'max_tokens and try again"},"request_id":"req_011CSNq4Lm7Rt2Wb9Kx6Vz"}',
      MODEL_PROVIDER, NONE, 'anymorph-ai/Claudable#3'),
    P('HTTP 400 Bad Request from https://api.anthropic.com/v1/messages '
      '{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: 8192 > 4096, '
      'which is the maximum allowed number of output tokens for claude-3-haiku-20240307"}}',
      MODEL_PROVIDER, NONE, 'continuedev/continue#4225'),
    P('API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"The \n    '
      'request body is not valid JSON: invalid high surrogate in string: line 1 column 24417 \n    '
      '(char 24416)"}}', MODEL_PROVIDER, NONE, 'cc#3276'),
    P('API Error: 400\n    {"type":"error","error":{"type":"invalid_request_error","message":"messages.0'
      '.content.3:\n    unexpected `tool_use_id` found in `tool_result` blocks: '
      'toolu_01Lq7Wm3Rt9Kp2Vb6Nx4Hc. Each\n    `tool_result` block must have a corresponding `tool_use` '
      'block in the previous message."}}', MODEL_PROVIDER, NONE, 'cc#558'),
    P('API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"The request '
      'body is not valid JSON: no low surrogate in string: line 1 column 181203 (char \n     '
      '181202)"},"request_id":"req_011CTg7Lm2Qw9Rt4Vb6Nk"}', MODEL_PROVIDER, NONE, 'cc#8514'),
    P("API Error: 400 Invalid 'user_id': string does not match pattern. Expected a string that matches "
      "the pattern '^[a-zA-Z0-9_-]+$'.", MODEL_PROVIDER, NONE, 'deepseek-ai/awesome-deepseek-agent#67'),
    P('{"type":"not_found_error","message":"model: claude-3.5-sonnet"}',
      MODEL_PROVIDER, NONE, 'continuedev/continue#10287'),
    P('Error code: 404\n{\n  "type": "error",\n  "error": {\n    "type": "not_found_error",\n    "message": '
      '"model: claude-3-opus-20240229"\n  }\n}', MODEL_PROVIDER, NONE, 'langgenius/dify-official-plugins#1346'),
    P('API Error: 404 {"type":"error","error":{"type":"not_found_error","message":"model: default"}}',
      MODEL_PROVIDER, NONE, 'cc#13369'),
    P('API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"input length '
      'and `max_tokens` exceed context limit: 183770 +\n20000 > 204648, decrease input length or '
      '`max_tokens` and try again"}}', MODEL_PROVIDER, NONE, 'cc#228'),
    P('API Error: 400 Prompt exceeds maximum context length', MODEL_PROVIDER, NONE, 'ddalcu/mlx-serve#66'),
    P('API Error: 400 The request is invalid: Invalid request parameters. Please check your input and '
      'try again.. Please check the request body, required fields, and request format.',
      MODEL_PROVIDER, NONE, 'multica-ai/multica#8614'),
    P('API Error: 400 Your input exceeds the context window of this model. Please adjust your input '
      'and try again.', MODEL_PROVIDER, NONE, 'cc#77992'),
    P('AI_APICallError: input length and `max_tokens` exceed context limit: 142077 + 64000 > 200000, '
      'decrease input length or `max_tokens` and try again', MODEL_PROVIDER, NONE, 'anomalyco/opencode#798'),
    P('API Error: 413 \n    {"error":{"type":"request_too_large","message":"Request \n    exceeds the '
      'maximum size"}}', MODEL_PROVIDER, NONE, 'cc#3335'),
    P('Request too large (max 32MB). Double press esc to go back and try with a smaller file.',
      MODEL_PROVIDER, NONE, 'cc#74048'),
    P('API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"Output '
      'blocked by content filtering policy"},"request_id":null}', MODEL_PROVIDER, NONE, 'cc#13986'),
    P('API Error: Claude Code is unable to respond to this request, which appears to violate our Usage '
      'Policy (https://www.anthropic.com/legal/aup). This request triggered restrictions on violative '
      "cyber content and was blocked under Anthropic's Usage Policy. To learn more, provide feedback, "
      'or request an exemption based on how you use Claude, visit our help center: '
      'https://support.claude.com/en/articles/14604842-real-time-cyber-safeguards-on-claude. Please '
      'double press esc to edit your last message or start a new session for Claude Code to assist '
      'with a different task.\n\nRequest ID: req_011Cbh7Lm2Qw8Rt4Vb9Nk3', MODEL_PROVIDER, NONE, 'cc#65116'),
    P('API Error: 400 \n     {"type":"error","error":{"type":"invalid_request_error","message":"Output '
      '\n     blocked by content filtering \n     policy"},"request_id":"req_011CYT4Lm8Qw2Rt6Vb9Nk3P"}',
      MODEL_PROVIDER, NONE, 'cc#28205'),
    P('API Error: Claude Code is unable to respond to this request, which appears to violate\n     our '
      'Usage Policy (https://www.anthropic.com/legal/aup). Please double press esc to \n    edit your '
      'last message or start a new session for Claude Code to assist with a \n    different task.',
      MODEL_PROVIDER, NONE, 'cc#3028'),
    P("API Error: Claude's response exceeded the 32000 output token maximum. To configure\n     this "
      'behavior, set the CLAUDE_CODE_MAX_OUTPUT_TOKENS environment variable.',
      MODEL_PROVIDER, NONE, '7836246/cursor2api#70'),
    P('API Error: 403 {"error":{"type":"forbidden","message":"Request not \n     allowed"}}',
      LOCAL_RUNTIME, NONE, 'cc#1613'),
    P("PermissionDeniedError: Error code: 403 - {'error': {'type': 'forbidden', 'message': 'Request "
      "not allowed'}}", LOCAL_RUNTIME, NONE, 'cc#453'),
    P('Error: 403 {\\"error\\":{\\"type\\":\\"forbidden\\",\\"message\\":\\"Request not allowed\\"}}',
      LOCAL_RUNTIME, NONE, 'cc#453 (the errors log)'),
    P('API Error: 400 Access to Anthropic models is not allowed from unsupported countries, regions, '
      'or territories. \nPlease refer to https://www.anthropic.com/supported-countries for more '
      'information.', LOCAL_RUNTIME, NONE, 'cc#2656'),
    P("HTTPSConnectionPool(host='api.anthropic.com', port=443): Max retries exceeded with url: "
      '/v1/messages (Caused by NameResolutionError("<urllib3.connection.HTTPSConnection object at '
      '0x000001F2A7C3D910>: Failed to resolve \'api.anthropic.com\' ([Errno 11002] getaddrinfo failed)"))',
      LOCAL_RUNTIME, NONE, 'BerriAI/litellm#2489'),
    P('API Error: 403 {"error":{"type":"forbidden","message":"Request not allowed"}} · Please run '
      '/login', LOCAL_RUNTIME, NONE, 'cc#10776'),
    P('API Error: Unable to connect to API: SSL certificate verification failed. Check your proxy or '
      'corporate SSL certificates', LOCAL_RUNTIME, NONE, 'cc#28859'),
    P('Unable to connect to Anthropic services\n\nFailed to connect to api.anthropic.com: '
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY\n\nPlease check your internet connection and network '
      'settings.\n\nNote: Claude Code might not be available in your country. Check supported countries '
      'at https://anthropic.com/supported-countries', LOCAL_RUNTIME, NONE, 'cc#8223'),
    P('Unable to connect to Anthropic services\nFailed to connect to platform.claude.com: '
      'CERT_HAS_EXPIRED\nSSL certificate error (CERT_HAS_EXPIRED). If you are behind a corporate proxy '
      'or TLS-intercepting firewall, set NODE_EXTRA_CA_CERTS to your CA bundle.', LOCAL_RUNTIME, NONE, 'cc#71708'),
    P('API Error: 403 error code: 1020',
      LOCAL_RUNTIME, NONE, "JimmyLaurent/cloudflare-scraper#27 (Cloudflare's firewall rule)"),
    P('403 {"error":{"type":"forbidden","message":"Request not allowed"}}',
      LOCAL_RUNTIME, NONE, 'cc#36660 (the login, behind a proxy in an unsupported region)'),
    P('Unable to connect to API (ConnectionRefused) · Retrying in 11s · attempt 8/10',
      LOCAL_RUNTIME, NONE, 'cc#71188'),
    P('API Error: 403 <!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title><meta '
      'http-equiv="Content-Type" content="text/html; charset=UTF-8"><meta http-equiv="X-UA-Compatible" '
      'content="IE=Edge"><meta name="robots"\n     content="noindex,nofollow"><meta name="viewport"\n    '
      ' content="width=device-width,initial-scale=1"><style>*{box-sizing:border-box;margin:0;padding:0}'
      'body{display:flex;flex-direction:column;height:100vh;min-height:100vh}#challenge-error-text{back'
      'ground-image:url("data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmci'
      'IHdpZHRoPSIzMiIg', LOCAL_RUNTIME, NONE, 'cc#30437'),
    # --- a relay's, gateway's, proxy's or another vendor's answer: never Anthropic's -----------------------------
    P('API Error: 503 {"error":{"type":"","message":"bad response status code 503 (request id: '
      '2026031109254418820374619285031) (request id: 20260311012544391208817KxQpLmVz)"},"type":"error"}',
      OUTAGE, OTHER, 'QuantumNous/new-api#3051'),
    P("litellm.APIConnectionError: Bad response code, expected 200: {'status_code': 400, 'headers': "
      "{':exception-type': 'internalServerException', ':content-type': 'application/json', "
      '\':message-type\': \'exception\'}, \'body\': b\'{"message":"The\nsystem encountered an unexpected error '
      'during processing. Try your request again."}\'}', OUTAGE, OTHER, 'BerriAI/litellm#6559'),
    P('API Error: {"error":{"message":"upstream stream disconnected: unexpected '
      'EOF","type":"stream_read_error"},"type":"error"}', OUTAGE, OTHER, 'xintaofei/codeg#152'),
    P('HTTP 503\n{"error":{"message":"Service temporarily unavailable","type":"api_error"}}',
      OUTAGE, OTHER, 'router-for-me/CLIProxyAPI#3967'),
    P('upstream stream ended without terminal event', OUTAGE, OTHER, 'Wei-Shaw/sub2api#1552'),
    P('503 {"error":{"message":"{\\"error\\":{\\"message\\":\\"Sorry, the upstream model provider is '
      'currently experiencing high demand. Please try again later or consider switching '
      'models.\\",\\"code\\":\\"model_overloaded\\"}}\\n","type":"error"}}',
      OUTAGE, OTHER, 'caozhiyuan/copilot-api#114'),
    P('API Error: 529 [1305][该模型当前访问量过大，请您稍后再试][20260702091544a8c3e17f02b94d61]. This is a server-side '
      'issue, usually temporary — try again in a moment. If it persists, check your inference gateway '
      '(10.8.0.14:8317).', OUTAGE, OTHER, 'fancy1108/Clutch#19'),
    P('litellm.BadRequestError: AnthropicException - b\'{"type":"error","error":{"type":"invalid_request'
      '_error","message":"You have reached your specified API usage limits. You will regain access on '
      '2026-10-01 at 00:00 UTC."},"request_id":"req_011CeF4Lm8Qw2Rt6Vb9Nk"}\'. Received Model '
      'Group=claude-haiku-4-5-20251001\nAvailable Model Group Fallbacks=None',
      QUOTA_RATE, OTHER, 'BerriAI/litellm#37599'),
    P('litellm.llms.base_llm.chat.transformation.BaseLLMException:\n{"type":"error","error":{"type":"rat'
      'e_limit_error","message":"Error"},"request_id":"req_011CeB7Lq2Wm9Rt4Kb6Nx"}',
      QUOTA_RATE, OTHER, 'BerriAI/litellm#37344'),
    P('Error code: 429, with error text {"error":{"code":"1113","message":"余额不足或无可用资源包,请充值。"}}',
      QUOTA_RATE, OTHER, 'zhayujie/CowAgent#2910'),
    P('{\n  "error": {\n    "message": "Concurrency limit exceeded for user, please retry later",\n    '
      '"type": "rate_limit_error"\n  },\n  "type": "error"\n}', QUOTA_RATE, OTHER, 'Wei-Shaw/sub2api#3821'),
    P('[glmt-proxy] Request error: Upstream error: 429 Too Many Requests\n{"error":{"code":"1302","messa'
      'ge":"High concurrency usage of this API, please reduce concurrency or contact customer service '
      'to increase limits"}}', QUOTA_RATE, OTHER, 'kaitranntt/ccs#402'),
    P('API Error: [1302][您的账户已达到速率限制，请您控制请求频率]', QUOTA_RATE, OTHER, 'zai-org/GLM-5#78'),
    P('API请求失败 (429): {\n  "error": {\n    "code": 429,\n    "message": "Resource has been exhausted '
      '(e.g. check quota).",\n    "status": "RESOURCE_EXHAUSTED"\n  }\n}',
      QUOTA_RATE, OTHER, 'liuw1535/antigravity2api-nodejs#43'),
    P('API Error: 429 {"error":{"code":"model_cooldown","message":"All credentials for model '
      'gemini-claude-sonnet-4-5-thinking are cooling down via provider '
      'antigravity","model":"gemini-claude-sonnet-4-5-thinking","provider":"antigravity","reset_seconds'
      '":1507,"reset_time":"25m07s"}}', QUOTA_RATE, OTHER, 'router-for-me/CLIProxyAPI#913'),
    P('429 Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model requests '
      'per day', QUOTA_RATE, OTHER, 'cline/cline#5301 (OpenRouter)'),
    P('API Error: 402 {"error":{"message":"This request requires more credits, or fewer max_tokens. '
      'You requested up to 32000 tokens, but can only\n     afford 2144. To increase, visit '
      'https://openrouter.ai/settings/credits and upgrade to a paid\n     '
      'account","code":402,"metadata":{"provider_name":null}},"user_id":"user_2Yq8Lm4Wd7Rt3Kp9Vb6Nx1Hc"'
      '}', QUOTA_RATE, OTHER, 'Alishahryar1/free-claude-code#237'),
    P('Upstream provider OPENROUTER returned HTTP 402.\n\nThis request requires more credits, or fewer '
      'max_tokens.\nYou requested up to 32000 tokens, but can only afford 30517.',
      QUOTA_RATE, OTHER, 'Alishahryar1/free-claude-code#752'),
    P('403 Key limit exceeded. Manage it using https://openrouter.ai/keys',
      QUOTA_RATE, OTHER, 'RooCodeInc/Roo-Code#515'),
    P('429 {"error":{"message":"Rate limit exceeded: free-models-per-day-high-balance.","type":"rate_li'
      'mit_error","code":"429"}}', QUOTA_RATE, OTHER, 'Gitlawb/openclaude#1549'),
    P('Prompt tokens limit exceeded: 228814 > 91442. To increase, visit '
      'https://openrouter.ai/settings/keys and\ncreate a key with a higher monthly limit',
      QUOTA_RATE, OTHER, 'anomalyco/opencode#12219'),
    P('API Error (429 {"error":{"message":"Error from provider(429): {\\n  \\"error\\": {\\n    \\"code\\": '
      '429,\\n    \\"message\\": \\"Resource has been exhausted (e.g. check quota).\\",\\n    \\"status\\": '
      '\\"RESOURCE_EXHAUSTED\\"\\n  }\\n}\\nError: Error from provider(429)\\n    at bt '
      '(/usr/local/lib/node_modules/@musistudio/claude-code-router/dist/cli.js:74721:11)","type":"api_e'
      'rror","code":"provider_response_error"}}) · Retrying in 1 seconds… (attempt 1/10)',
      QUOTA_RATE, OTHER, 'musistudio/claude-code-router#601'),
    P("发生错误：{'type': 'error', 'error': {'type': 'RESOURCE_EXHAUSTED', 'message': 'Quota exceeded for "
      'aiplatform.googleapis.com/online_prediction_requests_per_base_model with base model: '
      'anthropic-claude-3-5-sonnet. Please submit a quota increase request. '
      "https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai.'}}",
      QUOTA_RATE, OTHER, 'TheValkyrja/VertexClaudeProxy#5'),
    P('429 {"type":"error","error":{"type":"1113","message":"Insufficient balance or no resource '
      'package. Please\n     recharge."},"request_id":"20251029114518c47e2b0a96d31f58"}\n     Retrying '
      'in 29 seconds… (attempt 7/10)', QUOTA_RATE, OTHER, 'MiniMax-AI/MiniMax-M2#6'),
    P('Failed to authenticate. API Error: 403 {"error":{"type":"client_validation_error","message":"Thi'
      's endpoint only accepts requests from Claude Code CLI"}}', AUTH, OTHER, 'Wei-Shaw/claude-relay-service#1093'),
    P('API Error (401 {"error":"Unauthorized\\n"}) · Retrying in 1 seconds… (attempt 1/10)',
      AUTH, OTHER, 'kiyo-e/claude-code-proxy#6'),
    P('{"error":{"code":"invalid_request","message":"该令牌已过期，请前往令牌页面调整该令牌"}}',
      AUTH, OTHER, "songquanpeng/one-api model/token.go (a new-api fork's wording)"),
    P('API Error: 401 该令牌已过期 (request id: 20260425213714631516043Hq2m7RZ)',
      AUTH, OTHER, 'songquanpeng/one-api model/token.go (ValidateUserToken)'),
    P('API Error: 401 {"error":{"message":"无效的令牌 (request id: 2026051809123377104528Lw3nPq)","type":"ne'
      'w_api_error"}}', AUTH, OTHER, 'songquanpeng/one-api model/token.go (unknown key)'),
    P('{"error":{"message":"未提供令牌","type":"one_api_error"}}',
      AUTH, OTHER, 'songquanpeng/one-api model/token.go (no key)'),
    P('Provider rel**** returned 400: Provider returned 400: 400 | Upstream: '
      '{"error":{"type":"\\u003cnil\\u003e","message":"prompt is too long: 214077 tokens \\u003e 200000 '
      'maximum (request id: 2026031408152260418831Kq7mzx)"},"type":"error"}',
      MODEL_PROVIDER, OTHER, "ding113/claude-code-hub#474 (the hub's log)"),
    P('API Error: 400 {"error":{"message":"{\\"type\\":\\"error\\",\\"error\\":{\\"type\\":\\"invalid_request_er'
      'ror\\",\\"message\\":\\"max_tokens: 21333 > 4096, which is the maximum allowed\n    number of output '
      'tokens for claude-3-opus-20240229\\"},\\"request_id\\":\\"req_011CUx7Lm2Pq9Wr4Tb6Nz\\"}. Received '
      'Model Group=claude-haiku-4-5-20251001\\nAvailable Model Group\n    '
      'Fallbacks=None","type":"None","param":"None","code":"400"}}', MODEL_PROVIDER, OTHER, 'cc#11302'),
    P('API Error: 404 {"error":{"message":"Error from provider: {\\"error\\":{\\"message\\":\\"No endpoints '
      'found that support cache control\\",\\"code\\":404}}","type":"api_error","code":"provider_response_'
      'error"}}', MODEL_PROVIDER, OTHER, 'musistudio/claude-code-router#251'),
    P('API Error: 404 {"error":{"message":"Error from provider(404): {\\"error\\":{\\"message\\":\\"No\n    '
      'endpoints found that support tool use. To learn more about provider routing, visit:\n    '
      'https://openrouter.ai/docs/provider-routing\\",\\"code\\":404}}Error: Error from\n    '
      'provider(404): {\\"error\\":{\\"message\\":\\"No endpoints found that support tool '
      'use.\\",\\"code\\":404}}\\n    at bt\n    (C:\\\\Users\\\\dev\\\\AppData\\\\Roaming\\\\npm\\\\node_modules\\\\@musi'
      'studio\\\\claude-code-router\\\\d\n    ist\\\\cli.js:74721:11)","type":"api_error","code":"provider_res'
      'ponse_error"}}', MODEL_PROVIDER, OTHER, 'musistudio/claude-code-router#583'),
    P('API Error: 404 {"error":{"message":"No endpoints found that support tool use.\n    To learn more '
      'about provider routing, visit:\n    https://openrouter.ai/docs/provider-routing","code":404}}',
      MODEL_PROVIDER, OTHER, 'luohy15/y-router#7'),
    P("Error code: 404 - {'error': {'message': 'No endpoints found for vendor/some-model-7b:free.', "
      "'code': 404}, 'user_id': 'user_2Xb7Lm4Qw9Rt2Kp8Vd3Nz6Hc'} (request_id=req_4f8a2c9e71b3)",
      MODEL_PROVIDER, OTHER, 'Alishahryar1/free-claude-code#166'),
    P('Upstream provider OPENROUTER returned HTTP 404.', MODEL_PROVIDER, OTHER, 'Alishahryar1/free-claude-code#974'),
    P('API Error: 400 {"error":{"message":"Invalid request","type":"invalid_request_error"},"type":"err'
      'or"}', MODEL_PROVIDER, OTHER, 'Wei-Shaw/sub2api#370'),
    P('API Error: 400 {"detail":"Error code: 400 - {\'error\': {\'code\': \n    \'invalid_parameter_error\', '
      '\'message\': \\"<400> InternalError.Algo.InvalidParameter: The\n     content field\'s type should be '
      '`str` in messages.\\", \'param\': None, \'type\': \n    \'invalid_request_error\'}, \'request_id\': '
      '\'3c7e91a2-5b4d-4f08-9e16-8a2d0c4b7f53\'}"}', MODEL_PROVIDER, OTHER, 'modelscope/modelscope#1478'),
    P('API Error: 400 {"error":{"type":"invalid_request_error","message":"Invalid request '
      'Error"},"type":"error"}', MODEL_PROVIDER, OTHER, 'MoonshotAI/kimi-cli#1344'),
    P('API Error: 400 {\\"error\\":{\\"type\\":\\"invalid_request_error\\",\\"message\\":\\"messages.6.content.2'
      ": Input tag 'document' found using 'type' does not match any of the expected tags: 'image', "
      "'server_tool_use', 'text', 'thinking', 'tool_result', 'tool_use', "
      '\'web_search_tool_result\'\\"},\\"request_id\\":\\"5e2a90c4-1f37-11f1-9a0b-3c2de864f017\\",\\"type\\":\\"e'
      'rror\\"}', MODEL_PROVIDER, OTHER, 'MoonshotAI/Kimi-K2.5#27'),
    P('API Error: 400 {"error":{"code":"1211","message":"Unknown Model, please check the model '
      'code."},"request_id":"2026030214361827aec84f51337e12"}',
      MODEL_PROVIDER, OTHER, 'deepseek-ai/DeepSeek-V3#1103'),
    P("API Error: 400 An assistant message with 'tool_calls' must be followed by tool messages "
      "responding to each 'tool_call_id'. (insufficient tool messages following tool_calls message)",
      MODEL_PROVIDER, OTHER, 'claude-code-best/claude-code#168'),
    P('Error: 404 {"type":"error","error":{"type":"not_found_error","message":"model '
      '\'claude-haiku-4-5-20251001\' not found"},"request_id":"req_5c2e91a7d04b3f68e1a9c2d7"}',
      MODEL_PROVIDER, OTHER, 'cc#41120 (the errors log)'),
    P('{"error":"Claude API error","status":404,"details":"\\u001f�\\b\\u0000\\u0000\\u0000\\u0000\\u0000\\u000'
      '0\\u0003��V*�,HU�RJ-*�/R��V�0","timestamp":"2026-04-02T11:17:05.219Z"}',
      MODEL_PROVIDER, OTHER, 'RooCodeInc/Roo-Code#8383'),
    P('API Error: 400 {"detail":"Error code: 400 - {\'object\': \'error\', \'message\': \\"The input (231907 '
      'tokens) is longer than the model\'s context length (202752 tokens).\\", \'type\': '
      '\'BadRequestError\', \'param\': None, \'code\': 400}"}',
      MODEL_PROVIDER, OTHER, 'fuergaosi233/claude-code-proxy#60'),
    P('API Error: 400 {"error":{"message":"This model\'s maximum context length is 102400 tokens. '
      'However, you requested 104118 tokens (40118 in the messages, 64000 in the completion).\n     '
      'Please reduce the length of the messages or completion.","type":"invalid_request_error","param":'
      'null,"code":"invalid_request_error"}}', MODEL_PROVIDER, OTHER, 'cc#50011'),
    P('API Error: 413 <html>\n     <head><title>413 Request Entity Too Large</title></head>\n     '
      '<body>\n     <center><h1>413 Request Entity Too Large</h1></center>\n     '
      '<hr><center>nginx/1.26.0 (Ubuntu)</center>\n     </body>\n     </html>',
      MODEL_PROVIDER, OTHER, 'Wei-Shaw/claude-relay-service#630'),
    P('{"error":{"code":"unsupported_country_region_territory","message":"Country, region, or '
      'territory not supported","param":null,"type":"request_forbidden"}}',
      LOCAL_RUNTIME, OTHER, 'openai/codex#9714'),
    P('API Error: 403 <!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" '
      '"http://www.w3c.org/TR/1999/REC-html401-19991224/loose.dtd">\n<html>\n<head>\n<meta '
      'content="Zscaler makes the internet safe for businesses by protecting their employees from '
      'malware, viruses, and other security threats." name="description"/>\n<title>Internet Security by '
      'Zscaler</title>', LOCAL_RUNTIME, OTHER, 'Ekultek/WhatWaf#178 (a Zscaler block page)'),
    P('500 {"error":"连接错误","detail":"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: '
      'unable to get local\n     issuer certificate (_ssl.c:1000)"}',
      LOCAL_RUNTIME, OTHER, 'guojinpeng/cli_proxy#17'),
    P('Error 403: <div class="data"><form id="challenge-form" class="challenge-form"><div '
      'id="cf-please-wait"></div><noscript id="cf-captcha-bookmark" class="cf-captcha-info"><h1>Please '
      'turn JavaScript on and reload the page.</h1></noscript></form><script>(function(){window._cf_chl'
      '_opt={cvId: \'3\',cZone: "api.relay-example.net",\ncType: \'managed\',cNounce: \'40917\',cRay: '
      "'9b17c05e3a2d4f61'", LOCAL_RUNTIME, OTHER, "lifan0127/ai-research-assistant#109 (a zone not Anthropic's)"),
    P('API Error: 400 {"error":{"message":"{\\"type\\":\\"error\\",\\"error\\":{\\"type\\":\\"invalid_request_er'
      'ror\\",\\"message\\":\\"Unexpected value(s)\n     `prompt-caching-scope-2026-01-05` for the '
      '`anthropic-beta` header. Please consult our documentation at docs.anthropic.com or try again '
      'without the\n     header.\\"},\\"request_id\\":\\"req_vrtx_011CXj7Lm4Qw2Rt8Vb5Nk\\"}. Received Model '
      'Group=claude-sonnet-4-5-20250929\\nAvailable Model Group\n     '
      'Fallbacks=None","type":"None","param":"None","code":"400"}}',
      DEPLOYMENT_CONFIG, OTHER, 'adesso-ai/homebrew-streb#5'),
    P('Error: 404 404 page not found', DEPLOYMENT_CONFIG, OTHER, 'cc#50229 (the errors log)'),
    P("Error code: 404 - {'error': {'code': 'DeploymentNotFound', 'message': 'The API deployment for "
      'this resource does not exist. If you created the deployment within the last 5 minutes, please '
      "wait a moment and try again.'}}", DEPLOYMENT_CONFIG, OTHER, 'rashadphz/farfalle#79 (Azure)'),
    # --- Amazon Bedrock ------------------------------------------------------------------------------------------
    P('API Error (503 Too many connections, please wait before trying again.) · Retrying in 1 seconds… '
      '(attempt 1/10)', OUTAGE, BEDROCK, 'cc#562'),
    P('{\n\t"name": "ThrottlingException",\n\t"$fault": "client",\n\t"$metadata": {\n\t\t"httpStatusCode": '
      '429,\n\t\t"requestId": "7d1c4e2a-93b8-4f05-a6e1-2b9c0d8f4a73",\n\t\t"attempts": '
      '3,\n\t\t"totalRetryDelay": 812\n\t}\n}', QUOTA_RATE, BEDROCK, 'posit-dev/positron#7844'),
    P('[ERROR] Failed to process response: Too many tokens, please wait before trying again.',
      QUOTA_RATE, BEDROCK, 'cline/cline#4196'),
    P('[ERROR] API error (attempt 1/11): 403 403 {"Message":"User: arn:aws:iam::210987654321:user/ci-ru'
      'nner is not authorized to perform: bedrock:InvokeModelWithResponseStream on resource: '
      'arn:aws:bedrock:::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0 with an explicit '
      'deny in a service control policy"}', AUTH, BEDROCK, 'cc#27241'),
    P('Error: Malformed input request: #: subject must not be valid against schema '
      '{required:[messages]}#: required key [max_tokens] not found, please reformat your input and try '
      'again.', MODEL_PROVIDER, BEDROCK, 'diffbot/code-gpt-docs#300'),
    P("API Error: 403 You don't have access to the model with the specified model ID.",
      DEPLOYMENT_CONFIG, BEDROCK, 'cc#568'),
    P('botocore.errorfactory.ValidationException: An error occurred (ValidationException) when calling '
      'the InvokeModel operation: Invocation of model ID anthropic.claude-sonnet-4-20250514-v1:0 with '
      'on-demand throughput isn’t supported. Retry your request with the ID or ARN of an inference '
      'profile that contains this model.', DEPLOYMENT_CONFIG, BEDROCK, 'cc#1466'),
    # --- Google Vertex AI ----------------------------------------------------------------------------------------
    P('429 [{"error":{"code":429,"message":"Quota exceeded for aiplatform.googleapis.com/online_predict'
      'ion_requests_per_base_model with base model: anthropic-claude-3-5-sonnet-v2. Please submit a '
      'quota increase request. https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai.","st'
      'atus":"RESOURCE_EXHAUSTED"}}]', QUOTA_RATE, VERTEX, 'cline/cline#651'),
    P('API Error: Resource exhausted. Please try again later. Please refer to\n  '
      'https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more\n  details.',
      QUOTA_RATE, VERTEX, "google-gemini/gemini-cli#15498 (Vertex's 429)"),
    P('[{\n    "error": {\n      "code": 429,\n      "message": "Resource exhausted. Please try again '
      'later. Please refer to\n  https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 '
      'for more details.",\n      "errors": [\n        {\n          "message": "Resource exhausted. '
      'Please try again later.",\n          "domain": "global",\n          "reason": '
      '"rateLimitExceeded"\n        }\n      ],\n      "status": "RESOURCE_EXHAUSTED"\n    }\n  }\n  ]',
      QUOTA_RATE, VERTEX, "google-gemini/gemini-cli#14811 (Vertex's 429 body)"),
    P('Resource has been exhausted (e.g. check quota).',
      QUOTA_RATE, VERTEX, "google-gemini/gemini-cli#23981 (Google's RESOURCE_EXHAUSTED)"),
    P('API Error: {"error":"invalid_grant","error_description":"reauth related error '
      '(invalid_rapt)","error_uri":"https://support.google.com/a/answer/9368756","error_subtype":"inval'
      'id_rapt"}', AUTH, VERTEX, 'cc#726'),
    P('Error: HTTP Error: 401, Request had invalid authentication credentials. Expected OAuth 2 access '
      'token, login cookie or other valid authentication credential. See '
      'https://developers.google.com/identity/sign-in/web/devconsole-project.',
      AUTH, VERTEX, "firebase/firebase-tools#1846 (Google's 401)"),
    P('API Error: 400 {"error":{"code":400,"message":"Project `acme-dev-4821` is not allowed to use '
      'Publisher Model `projects/acme-dev-4821/locations/us-east5/publishers/anthropic/models/claude-so'
      'nnet-4@20250514`","status":"FAILED_PRECONDITION"}}', DEPLOYMENT_CONFIG, VERTEX, 'yym68686/uni-api#41'),
    P('API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"input length '
      'and `max_tokens` exceed context limit: 192408 + 21333 >\n 200000, decrease input \n    length or '
      '`max_tokens` and try again"},"request_id":"req_vrtx_011CWt4Lm8Qw2Rt6Vb9Nk"}',
      MODEL_PROVIDER, VERTEX, 'cc#16580'),
    P('400: {"type":"error","error":{"type":"invalid_request_error","message":"Unexpected value(s) '
      '`web-search-2025-03-05` for the `anthropic-beta` header. Please consult our documentation at '
      'docs.anthropic.com or try again without the header."},"request_id":"req_vrtx_011CVW4Lm8Qw2Rt6Vb9'
      'Nk"}', DEPLOYMENT_CONFIG, VERTEX, 'cc#12429'),

]

IDS = [f"{n}-{row.source.split()[0]}" for n, row in enumerate(UNSEEN)]


def test_enough_texts_none_seen_before_from_many_sources() -> None:
    texts = [row.text for row in UNSEEN]
    assert len(texts) >= 150 and len(set(texts)) == len(texts)
    assert not set(texts) & {row.text for row in FIRST_CORPUS}
    assert len({row.source.split()[0].split("#")[0] for row in UNSEEN}) >= 50  # repositories
    assert {row.route for row in UNSEEN} >= {NONE, OTHER, BEDROCK, VERTEX}
    assert {row.expected for row in UNSEEN} >= {OUTAGE, NETWORK, QUOTA_RATE, AUTH, MODEL_PROVIDER, LOCAL_RUNTIME,
                                                DEPLOYMENT_CONFIG}


@pytest.mark.parametrize("row", UNSEEN, ids=IDS)
def test_unseen_text_class(row: P) -> None:
    assert classify(text=row.text) == row.expected


@pytest.mark.parametrize("row", UNSEEN, ids=IDS)
def test_unseen_text_route(row: P) -> None:
    assert provider.judge(text=row.text) == row.route


@pytest.fixture(scope="module")
def unseen_ledger(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return ingest_text_rows(tmp_path_factory.mktemp("unseen-texts"), UNSEEN)


RECORDS = [(n, kind) for n in range(len(UNSEEN)) for kind in ("final", "retry")]


@pytest.mark.parametrize(("n", "kind"), RECORDS, ids=[f"{IDS[n]}-{kind}" for n, kind in RECORDS])
def test_unseen_text_through_ingest(unseen_ledger: dict[str, dict[str, Any]], n: int, kind: str) -> None:
    row = UNSEEN[n]
    got = unseen_ledger[f"{kind}-{n}"]
    assert (got["kind"], got["failure_class"]) == (kind, row.expected)
    assert got["provider"] == (row.route or provider.ANTHROPIC)


@pytest.mark.parametrize("row", [r for r in UNSEEN if " " in r.text], ids=lambda r: r.source.split()[0])
def test_a_line_break_anywhere_between_words_changes_nothing(row: P) -> None:
    # A terminal wraps at its width, wherever that falls: every space of the text as a line break and an
    # indent (how a wrapped paste reads) gives the same class and route.
    wrapped = row.text.replace(" ", "\n     ")
    assert (classify(text=wrapped), provider.judge(text=wrapped)) == (row.expected, row.route)


@pytest.mark.parametrize(("text", "expected", "route"), [
    # bodies a relay, a proxy or the log cut short: what was read so far decides, nothing fails
    ('API Error: 529 {"type":"error","error":{"type":"overloaded_err', OUTAGE, NONE),
    ('API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"invalid x-ap', AUTH, NONE),
    ('API Error: 429 {"error":{"code":"1113","message":"余额不足或无可', QUOTA_RATE, OTHER),
    ('API Error: 503 {"error":{"type":"","message":"bad response status code 503 (request id: 20260311092544188',
     OUTAGE, OTHER),
    ('API Error: 403 {"error":{"type":"forbi', AUTH, NONE),  # too short to tell the firewall's body
    ('API Error: 403 {"error":{"type":"forbidden","mess', LOCAL_RUNTIME, NONE),
    ('API Error: 502 <html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Ga',
     OUTAGE, OTHER),
    ('API Error: 413 <html>\n     <head><title>413 Request Entity Too Large</title></head>\n     <bo',
     MODEL_PROVIDER, OTHER),
    ("API Error: 400 {\"error\":{\"message\":\"This model's maximum context length is 131072 tokens. However, you",
     MODEL_PROVIDER, OTHER),
    ('API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 2',
     MODEL_PROVIDER, NONE),
])
def test_a_body_cut_short_is_judged_on_what_arrived(text: str, expected: str, route: str | None) -> None:
    assert (classify(text=text), provider.judge(text=text)) == (expected, route)


@pytest.mark.parametrize(("escaped", "expected", "route"), [
    # a Python relay's json.dumps writes non-ASCII as \\uXXXX: the words count as written
    ('API Error: 429 {"error": {"message": "\\u4f59\\u989d\\u4e0d\\u8db3", "type": "relay"}}', QUOTA_RATE, OTHER),
    ('API Error: 401 {"error": "\\u65e0\\u6548\\u7684\\u4ee4\\u724c"}', AUTH, OTHER),
    # a lone surrogate escape stays as it is; an ASCII escape decodes to its letter
    ('API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded \\ud83d"}}',
     OUTAGE, NONE),
    ('API Error: 500 {"type":"error","error":{"type":"api_error","message":"\\u0049nternal server error"}}',
     OUTAGE, NONE),
])
def test_escaped_words_are_read_decoded(escaped: str, expected: str, route: str | None) -> None:
    assert (classify(text=escaped), provider.judge(text=escaped)) == (expected, route)
    assert provider.decode_unicode_escapes("a \\ud83d b \\u0041") == "a \\ud83d b A"


def test_a_megabyte_of_the_new_shapes_is_read_whole_and_stays_bounded() -> None:
    # Every shape the new rules look for, repeated to 1 MB (a relay's runaway page or body): each text is
    # judged, classified and normalized, and what they return is what the text's first 4 KB says (both
    # read a bounded prefix). No timing here (the machine is shared); benchmarks/hostile_text.py measures
    # the cost.
    pieces = ['{"error":{"type":"x_error","message":"', "(request id: 2026031109254418820374619285031) ",
              "余额不足 ", "\\u4f59", "\n     ", '},"type":"error"}', '{"error":"', "error code: 1020 ",
              "upstream stream ", '{"detail":"', "'tool_call_id' "]
    for piece in pieces:
        text = "API Error: 500 " + piece * (1_000_000 // len(piece))
        head = text[:4096]
        assert provider.judge(text=text) == provider.judge(text=head), piece
        assert classify(text=text) == classify(text=head), piece
        assert len(normalize_signature(text)) <= 200


# Secrets people paste beside such errors, in the places these texts carry them: a relay's key preview, a
# key beside Chinese words with no space, an OpenRouter key, a LiteLLM header dump, an AWS key in botocore's
# words, a token in a Vertex URL. Built at run time so no scanner mistakes this file for a leak.
_PLANTED = {
    "relay key": "sk-" + "Pq7" * 16,
    "openrouter key": "sk-or-v1-" + "0f3a" * 16,
    "anthropic key": "sk-ant-api03-" + "Zx9_" * 23 + "-AAAAAAAA",
    "bearer": "eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiJwbGFudGVkIn0" + ".c2lnbmF0dXJlcGxhbnRlZDAxMjM0NTY3",
    "aws key": "AKIA" + "PLANTED7EXAMPLE2",
    "google token": "ya29." + "a0AfB_planted" * 6,
}
_WITH_SECRETS = [
    'API Error: 503 {"error":{"type":"","message":"bad response status code 503 (request id: 2026031109254418820374'
    '619285031)"},"type":"error"} 当前 API Key 预览: ' + _PLANTED["relay key"],
    "API Error: 401 无效的令牌" + _PLANTED["relay key"] + "(request id: 2026051809123377104528Lw3nPq)",
    "Upstream provider OPENROUTER returned HTTP 402. key=" + _PLANTED["openrouter key"],
    'litellm.AuthenticationError: AnthropicException - {"type":"error","error":{"type":"authentication_error",'
    '"message":"invalid x-api-key"}} x-api-key: ' + _PLANTED["anthropic key"] + " Authorization: Bearer "
    + _PLANTED["bearer"],
    "botocore.exceptions.ClientError: An error occurred (UnrecognizedClientException) when calling the "
    "InvokeModel operation: The security token included in the request is invalid. (key " + _PLANTED["aws key"]
    + ")",
    "API Error: 401 https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5/publishers/"
    "anthropic/models/claude-sonnet-4-5:streamRawPredict?access_token=" + _PLANTED["google token"],
]


def test_doctor_json_never_carries_a_secret_pasted_beside_these_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                      ) -> None:
    rows = [P(text, classify(text=text), provider.judge(text=text), "planted") for text in _WITH_SECRETS]
    ingest_text_rows(tmp_path, rows)
    monkeypatch.setenv("CLAIMBACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", "http://127.0.0.1:9")
    runner = CliRunner()
    doctor = runner.invoke(main, ["doctor", "--json", "--no-ingest", "--db", str(tmp_path / "ledger.sqlite3"),
                                  "--source", str(tmp_path / "projects"), "--project", str(tmp_path)])
    assert doctor.exit_code in (0, 1), doctor.output
    report = json.loads(doctor.output)
    outputs = [doctor.output]
    for text in _WITH_SECRETS:
        explained = runner.invoke(main, ["doctor", "explain", "--json", text])
        assert explained.exit_code == 0, explained.output
        outputs.append(explained.output)
    assert sum(group["count"] for group in report["failures"]) == 2 * len(_WITH_SECRETS)
    for name, secret in _PLANTED.items():
        for output in outputs:
            assert secret not in output and secret[8:24] not in output, name
