"""Shapes the fourth sweep of published `~/.claude/projects` trees found claimback wrong on
(docs/reliability.md, "fourth sweep"). Every record here is our own, in the shape the published files had."""

from __future__ import annotations

import json
from pathlib import Path

from records import SESSION, assistant, final_error, line, user_prompt, write

from claimback.core.classify import DEPLOYMENT_CONFIG, classify
from claimback.core.secrets import scrub
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest

PROJECT = "-home-u-app"


def _pi_log(ts: str) -> list[dict]:
    """The first records of the pi coding agent's session log (OpenClaw), as one published tree kept them
    beside Claude Code's transcripts: a `session` head, model and thinking settings, custom data, messages
    (an assistant's usage under its own names)."""
    return [
        {"type": "session", "version": 3, "id": "7d3c0000-0000-4000-8000-0000000000aa", "timestamp": ts,
         "cwd": "/home/u/.agent/workspace"},
        {"type": "model_change", "id": "a1b2c3d4", "parentId": None, "timestamp": ts, "provider": "acme",
         "modelId": "acme-m2"},
        {"type": "thinking_level_change", "id": "b2c3d4e5", "parentId": "a1b2c3d4", "timestamp": ts,
         "thinkingLevel": "low"},
        {"type": "custom", "customType": "model-snapshot", "id": "c3d4e5f6", "parentId": "b2c3d4e5",
         "timestamp": ts, "data": {"provider": "acme", "modelApi": "anthropic-messages", "modelId": "acme-m2"}},
        {"type": "message", "id": "d4e5f6a7", "parentId": "c3d4e5f6", "timestamp": ts,
         "message": {"role": "user", "content": [{"type": "text", "text": "check the queue"}]}},
        {"type": "message", "id": "e5f6a7b8", "parentId": "d4e5f6a7", "timestamp": ts,
         "message": {"role": "assistant", "content": [], "model": "acme-m2", "stopReason": "stop",
                     "usage": {"input": 120, "output": 40, "cacheRead": 0, "cacheWrite": 0, "totalTokens": 160}}},
    ]


def test_another_programs_session_log_is_skipped_whole_not_counted_as_unknown_records(tmp_path: Path) -> None:
    """(And 2.1.27's `saved_hook_context`, 42 unknown records of another published tree, is a kind read by name.)
    A published 2.1.50 tree held two pi session logs under ~/.claude/projects: their 40 records were
    `unknown_records` (session, message, model_change, thinking_level_change, custom), as if a newer Claude
    Code wrote kinds claimback misses. They are another program's lines: skipped, under one reason, also
    when the log grows after the first ingest; the Claude Code session beside them is read as before."""
    projects = tmp_path / "projects"
    pi = projects / PROJECT / "7d3c0000-0000-4000-8000-0000000000aa.jsonl"
    write(pi, _pi_log("2026-03-07T10:00:00.000Z"))
    write(projects / PROJECT / f"{SESSION}.jsonl", [
        # 2.1.27 kept a SessionStart hook's added context for --resume: nothing to count, a kind it knows
        {"type": "saved_hook_context", "uuid": "h1", "parentUuid": None, "isSidechain": False, "sessionId": SESSION,
         "version": "2.1.27", "timestamp": "2026-03-07T10:00:00.500Z", "hookEvent": "SessionStart",
         "hookName": "SessionStart:startup", "toolUseID": "SessionStart", "content": ["Explain as you go."]},
        user_prompt("hi", "2026-03-07T10:00:01.000Z", uuid="p1"),
        assistant("msg_01AbCdEfGhJkLmNoPqRsTuVw", "req_011CAbCdEfGhJkLmNoPqRsTu", "2026-03-07T10:00:03.000Z")])
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    try:
        first = ingest(ledger, [projects], machine="m")
        assert first.unknown_records == {}
        assert first.lines_skipped == {"another program's session log (pi)": 6}
        with pi.open("a") as f:
            f.write(line(_pi_log("2026-03-07T10:05:00.000Z")[-1]) + line({"type": "custom", "customType": "x",
                                                                          "id": "f6a7b8c9", "timestamp": "2026-03-07T10:05:01.000Z"}))
        again = ingest(ledger, [projects], machine="m")
        assert again.unknown_records == {}
        assert again.lines_skipped == {"another program's session log (pi)": 2}
        assert [tuple(r.values()) for r in ledger.rows("SELECT message_id, session_id FROM requests")] == [
            ("msg_01AbCdEfGhJkLmNoPqRsTuVw", SESSION)]
    finally:
        ledger.close()


def test_a_header_value_claude_code_could_not_send_is_a_setting_and_never_kept(tmp_path: Path) -> None:
    """Claude Code on Bun refuses a header value holding a character no header may carry and prints the
    value whole ("API Error: Header '14' has invalid value: 'Bearer …'", a published 2.1.50 tree with a
    placeholder in ANTHROPIC_AUTH_TOKEN). It was `unknown`, and the value, a credential whatever its shape
    (the vendor shapes stop at the bad character), was kept in the ledger as written."""
    token = "Bearer cbk-7Hq2Lm9Pz4Rt8Wx1\u00e9Ns5Vb3Kd6"
    text = f"API Error: Header '14' has invalid value: '{token}'"
    assert classify(text=text) == DEPLOYMENT_CONFIG
    assert scrub(text) == "API Error: Header '14' has invalid value: '[REDACTED]'"
    write(tmp_path / "projects" / PROJECT / f"{SESSION}.jsonl", [
        user_prompt("hi", "2026-02-23T01:41:18.300Z", uuid="p1"),
        final_error("2026-02-23T01:41:18.351Z", text, error="unknown", status=None)])
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    try:
        ingest(ledger, [tmp_path / "projects"], machine="m")
        rows = [dict(r) for r in ledger.rows("SELECT * FROM failures WHERE kind = 'final'")]
        assert [r["failure_class"] for r in rows] == [DEPLOYMENT_CONFIG]
        assert "cbk-" not in json.dumps(rows) and "Ns5Vb3Kd6" not in json.dumps(rows)
    finally:
        ledger.close()
    assert b"Ns5Vb3Kd6" not in (tmp_path / "ledger.sqlite3").read_bytes()


def _bare_retry(ts: str, uuid: str, status: int, *, session: str) -> dict:
    """A 2.1.3x failed attempt that says nothing of who answered: `headers` written empty, no request id."""
    return {"type": "system", "subtype": "api_error", "level": "error", "sessionId": session, "timestamp": ts,
            "uuid": uuid, "isSidechain": False, "version": "2.1.31", "cwd": "/home/u/app", "retryAttempt": 1,
            "maxRetries": 10, "retryInMs": 510.2, "error": {"status": status, "headers": {}, "requestID": None}}


def test_failures_of_a_session_that_never_got_an_answer_take_the_route_of_the_nearest_answer(
        tmp_path: Path, ledger_db: str) -> None:
    """A published 2.1.31 tree behind a relay: two sessions of 502 attempts with nothing to say who answered,
    25 minutes before the first of the machine's answers (every one the relay's), were Anthropic's and made a
    logs-only window claimable with Anthropic. Such failures take the route of the nearest answer in time
    (the same project first, within 12 hours); with none that near they keep Claude Code's default."""
    relay_failed, relay_answered = "0c2a0000-0000-4000-8000-000000000001", "0c2a0000-0000-4000-8000-000000000002"
    first_failed, first_answered = "0c2a0000-0000-4000-8000-000000000003", "0c2a0000-0000-4000-8000-000000000004"
    alone = "0c2a0000-0000-4000-8000-000000000005"
    cloud_answered, own_id = "0c2a0000-0000-4000-8000-000000000006", "0c2a0000-0000-4000-8000-000000000007"
    files = {
        ("-home-u-app", relay_failed): [user_prompt("go", "2026-02-05T11:40:40.000Z", session=relay_failed, uuid="a1")]
        + [_bare_retry(f"2026-02-05T11:4{i}:49.000Z", f"relay-{i}", 502, session=relay_failed) for i in range(3)],
        # the relay passes Anthropic-shaped ids with its own request ids: `other` (docs/methodology.md)
        ("-home-u-app", relay_answered): [
            user_prompt("go", "2026-02-05T12:06:00.000Z", session=relay_answered, uuid="a2"),
            assistant("msg_01RelAyPassedThroughAbCd", "2c9e6b1a-0000-4000-8000-00000000abcd", "2026-02-05T12:06:12.000Z",
                      session=relay_answered)],
        ("-home-u-site", first_answered): [
            user_prompt("go", "2026-03-01T08:00:00.000Z", session=first_answered, uuid="a3"),
            assistant("msg_01FirstPartyAbCdEfGhJk", "req_011CFirstPartyAbCdEfGh", "2026-03-01T08:00:05.000Z",
                      session=first_answered)],
        # another project of the same machine an hour later: the machine's nearest answer is first-party
        ("-home-u-tools", first_failed): [user_prompt("go", "2026-03-01T09:00:00.000Z", session=first_failed, uuid="a4"),
                                          _bare_retry("2026-03-01T09:00:02.000Z", "first-0", 529, session=first_failed)],
        ("-home-u-app", alone): [user_prompt("go", "2026-04-10T10:00:00.000Z", session=alone, uuid="a5"),
                                 _bare_retry("2026-04-10T10:00:02.000Z", "alone-0", 529, session=alone)],
        # Anthropic's own request id in the body rules a cloud out: minutes after a Bedrock answer, it stays
        ("-home-u-cloud", cloud_answered): [
            user_prompt("go", "2026-03-30T11:20:00.000Z", session=cloud_answered, uuid="a6"),
            assistant("msg_bdrk_01AbCdEfGhJkLmNoPqRsTu", None, "2026-03-30T11:23:42.000Z", session=cloud_answered)],
        ("-home-u-cloud", own_id): [
            user_prompt("go", "2026-03-30T11:30:00.000Z", session=own_id, uuid="a7"),
            final_error("2026-03-30T11:30:31.000Z", 'API Error: 401 {"type":"error","error":{"type":"authentication_'
                        'error","message":"Invalid bearer token"},"request_id":"req_011CAbCdEfGhJkLmNoPqRsTu"}',
                        error="authentication_failed", status=None, session=own_id)],
    }
    for (project, session), records in files.items():
        write(tmp_path / "projects" / project / f"{session}.jsonl", records)
    ledger = open_ledger(ledger_db)
    try:
        ingest(ledger, [tmp_path / "projects"], machine="m")
        rows = {r["failure_key"]: r["provider"] for r in ledger.rows("SELECT failure_key, provider FROM failures")}
    finally:
        ledger.close()
    assert rows == {"relay-0": "other", "relay-1": "other", "relay-2": "other", "first-0": "anthropic",
                    "alone-0": None, "e-2026-03-30T11:30:31.000Z": None}


def test_a_relays_refused_pre_charge_is_its_balance_not_a_credential() -> None:
    """new-api's 403 when the token's balance is below what the request would cost ("预扣费额度失败, 用户剩余额度:
    …, 需要预扣费额度: …") was `auth` by its status: it is the balance (`quota_rate`), and the relay's."""
    from claimback.core import provider
    from claimback.core.classify import QUOTA_RATE
    text = ('API Error: 403 {"error":{"type":"new_api_error","message":"预扣费额度失败, 用户剩余额度: ＄0.104210, '
            '需要预扣费额度: ＄0.250000 (request id: 20260301093000123456789AbCdEfGh)"}}')
    assert classify(403, "new_api_error", None, text) == QUOTA_RATE
    assert provider.judge(text=text) == provider.OTHER


def test_a_key_glued_to_a_relays_words_never_reaches_the_ledger(tmp_path: Path) -> None:
    """A relay answering a refused key with the key glued to its words ("Invalid token<KEY>  tid:…", 401) in a
    published 2.1.7x tree: the Anthropic OAuth token was kept in the ledger twice, in the failure's message
    (the key shapes wanted no letter before them) and whole in the file's saved parser state (the last
    failure's text, never scrubbed)."""
    oauth = "sk-ant-oat01-" + "Zq7Xw2Vb9Nm4Lk8Jh3Gf6Ds1Pa5Oi0Uy" * 2
    relay_key = "sk-" + "Rt5Ey8Wq2Ui7Op3As6Df9Gh1Jk4Lz0Xc"
    write(tmp_path / "projects" / PROJECT / f"{SESSION}.jsonl", [
        user_prompt("hi", "2026-03-31T13:26:40.000Z", uuid="p1"),
        *[{"type": "system", "subtype": "api_error", "level": "error", "sessionId": SESSION, "uuid": f"r{i}",
           "timestamp": f"2026-03-31T13:26:4{i + 1}.000Z", "isSidechain": False, "version": "2.1.76",
           "retryAttempt": i + 1, "maxRetries": 10, "retryInMs": 600.0,
           "error": {"status": 401, "headers": {}, "requestID": None,
                     "error": {"error": {"type": "authentication_error",
                                         "message": f"Invalid token{key}  tid:1774963603418-00825c31-e243"}}}}
          for i, key in enumerate((oauth, relay_key))]])
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    try:
        ingest(ledger, [tmp_path / "projects"], machine="m")
        messages = [r["message"] for r in ledger.rows("SELECT message FROM failures ORDER BY ts")]
    finally:
        ledger.close()
    assert messages == ["Invalid token[REDACTED]  tid:1774963603418-00825c31-e243"] * 2
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("ledger.sqlite3*"))
    assert b"Zq7Xw2Vb9Nm4" not in stored and b"Rt5Ey8Wq2Ui7" not in stored
