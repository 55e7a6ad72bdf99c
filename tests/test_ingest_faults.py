"""Ingest under faults: concurrent ingesters, Claude Code appending while we read, kill -9 at random and
at every commit, and transcripts deleted after ingest. Each case ends in the same ledger (table by table)
as one clean run over the final files, with real processes and a real SQLite ledger.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from claimback.demo import build_demo
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest
from records import agent_launch, assistant, final_error, line, retry, task_result, user_prompt

# Derived or bookkeeping data that legitimately differs between two runs over the same files.
VOLATILE = {"files": {"updated_at"}, "machines": {"first_seen", "last_seen"}}
SKIP_TABLES = {"ingest_runs", "meta", "schema_migrations", "report_cache"}


def dump(db: Path) -> dict[str, list]:
    """Every table's rows (sorted, volatile columns removed): two equal dumps are the same ledger."""
    ledger = open_ledger(db)
    with ledger:
        tables = [r["name"] for r in ledger.rows("SELECT name FROM sqlite_master WHERE type = 'table'")]
        out = {}
        for table in sorted(set(tables) - SKIP_TABLES):
            rows = ledger.rows(f"SELECT * FROM {table}")
            drop = VOLATILE.get(table, set())
            out[table] = sorted(repr(sorted((k, v) for k, v in row.items() if k not in drop)) for row in rows)
    return out


def ts(base_minute: int, second: float = 0.0) -> str:
    day, minute = divmod(base_minute, 24 * 60)
    hour, minute = divmod(minute, 60)
    return f"2026-05-{1 + day % 28:02d}T{hour:02d}:{minute:02d}:{int(second):02d}.{int(second * 1000) % 1000:03d}Z"


def write_corpus(root: Path, sessions: int, seed: int, turns: int = 40) -> Path:
    """Claude-Code-shaped sessions: streamed requests, retries, final errors, subagents (some killed,
    each replaying the parent's message), prompts and tool results."""
    rng = random.Random(seed)
    projects = root / "projects"
    for s in range(sessions):
        sid = f"5e55{seed:04d}-{s:04d}-4000-8000-{rng.randrange(16**12):012x}"
        project = projects / f"-home-u-proj{s % 3}"
        main_lines: list[str] = []
        minute = rng.randrange(28 * 24 * 60 - 200)
        for t in range(turns):
            main_lines.append(line(user_prompt(f"turn {t} of {sid}: " + "word " * rng.randrange(5, 80),
                                               ts(minute + t, 1), session=sid, uuid=f"p-{sid}-{t}")))
            msg, req = f"msg_{sid[:8]}_{s}_{t}", f"req_{s}_{t}_{seed}"
            if rng.random() < 0.1:
                for attempt in range(1, rng.randrange(2, 6)):
                    main_lines.append(line(retry(ts(minute + t, 2 + attempt), attempt, session=sid,
                                                 uuid=f"r-{sid}-{t}-{attempt}")))
            if rng.random() < 0.05:
                main_lines.append(line({**final_error(ts(minute + t, 20), "API Error: 529 Overloaded"),
                                        "sessionId": sid, "uuid": f"e-{sid}-{t}"}))
                continue
            if rng.random() < 0.12:
                tool_id = f"toolu_{s}_{t}_{seed}"
                agent_id = f"a{seed:03d}{s:04d}{t:03d}"
                prompt = f"Review part {t} of {sid}"
                main_lines.append(line(agent_launch(msg, req, ts(minute + t, 5), tool_id, prompt, session=sid)))
                sub = [line(user_prompt(prompt, ts(minute + t, 6), session=sid, sidechain=True, agent_id=agent_id,
                                        uuid=f"sp-{agent_id}")),
                       line(assistant(msg, f"req_replay_{agent_id}", ts(minute + t, 6), session=sid,
                                      sidechain=True, agent_id=agent_id, out=188))]
                for k in range(rng.randrange(1, 12)):
                    sub.append(line(assistant(f"msg_{agent_id}_{k}", f"req_{agent_id}_{k}", ts(minute + t, 7 + k),
                                              session=sid, sidechain=True, agent_id=agent_id,
                                              inp=rng.randrange(1, 9), out=rng.randrange(10, 3000),
                                              cw=rng.randrange(0, 9000), cr=rng.randrange(0, 90000))))
                killed = rng.random() < 0.4
                if killed:
                    sub.append(line(retry(ts(minute + t, 40), 1, session=sid, agent_id=agent_id,
                                          uuid=f"sr-{agent_id}")))
                    sub.append(line({**final_error(ts(minute + t, 50), "API Error: 500 Internal server error",
                                                   agent_id=agent_id), "sessionId": sid, "uuid": f"se-{agent_id}"}))
                (project / sid / "subagents").mkdir(parents=True, exist_ok=True)
                (project / sid / "subagents" / f"agent-{agent_id}.jsonl").write_text("".join(sub))
                main_lines.append(line(task_result(tool_id, ts(minute + t, 55), status="completed", agent_id=agent_id,
                                                   is_error=False, text="API Error: 500" if killed else "done",
                                                   session=sid)))
                continue
            out = rng.randrange(5, 4000)
            for part, block in enumerate(("thinking", "text", "tool_use")[:rng.randrange(1, 4)]):
                main_lines.append(line(assistant(
                    msg, req, ts(minute + t, 10), session=sid, out=out if part else out // 3,
                    inp=rng.randrange(1, 9), cw=rng.randrange(0, 5000), cr=rng.randrange(0, 120000),
                    uuid=f"a-{sid}-{t}-{part}",
                    content=[{"type": "text", "text": block + " " + "x" * rng.randrange(10, 2500)}])))
        project.mkdir(parents=True, exist_ok=True)
        (project / f"{sid}.jsonl").write_text("".join(main_lines))
    return projects


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(generated projects dir ~8 MB, the demo scenario's projects dir)."""
    root = tmp_path_factory.mktemp("corpus")
    projects = write_corpus(root, sessions=60, seed=7)
    demo = build_demo(root / "demo")
    return projects, demo.projects_dir


def cli(*args: str, **kwargs: Any) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "claimback", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)


def clean_run(tmp_path: Path, *roots: Path, name: str = "clean.sqlite3") -> Path:
    db = tmp_path / name
    ledger = open_ledger(db)
    with ledger:
        ingest(ledger, list(roots))
    return db


def test_two_concurrent_ingest_processes_make_the_ledger_one_run_makes(tmp_path, corpus):
    projects, demo = corpus
    db = tmp_path / "shared.sqlite3"
    procs = [cli("ingest", "--source", str(projects), "--source", str(demo), "--db", str(db), "--json")
             for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err.decode()
    assert dump(db) == dump(clean_run(tmp_path, projects, demo))
    # Each run's summary counts rows that were not there when it started (the other may add them too).
    counts = [json.loads(out)["new_requests"] for out, _ in results]
    assert 0 < max(counts) <= len(dump(db)["requests"])


WRITER = textwrap.dedent("""
    import json, os, random, sys, time
    sys.path.insert(0, sys.argv[3])
    from records import assistant, retry, user_prompt, line
    projects, seed = sys.argv[1], int(sys.argv[2])
    rng = random.Random(seed)
    sessions = [f"77777777-0000-4000-8000-{i:012d}" for i in range(4)]
    paths = [os.path.join(projects, "-home-u-live", f"{s}.jsonl") for s in sessions]
    os.makedirs(os.path.dirname(paths[0]), exist_ok=True)
    for n in range(int(sys.argv[4])):
        i = rng.randrange(len(sessions))
        stamp = f"2026-05-15T01:{n // 600 % 60:02d}:{n // 10 % 60:02d}.{n % 1000:03d}Z"
        kind = rng.random()
        if kind < 0.1:
            rec = retry(stamp, n % 10 + 1, session=sessions[i], uuid=f"w-r-{n}")
        elif kind < 0.2:
            rec = user_prompt(f"prompt {n}", stamp, session=sessions[i], uuid=f"w-p-{n}")
        else:
            rec = assistant(f"msg_w{n // 3}", f"req_w{n // 3}", stamp, session=sessions[i], out=n % 97 + n // 3,
                            uuid=f"w-a-{n}", content=[{"type": "text", "text": "y" * rng.randrange(1, 9000)}])
        data = line(rec).encode()
        # Node writes a line in pieces when it is big or the disk is slow: split it at random places.
        cuts = sorted(rng.sample(range(1, len(data)), k=min(rng.randrange(0, 4), len(data) - 1)))
        with open(paths[i], "ab", buffering=0) as handle:
            last = 0
            for cut in cuts + [len(data)]:
                handle.write(data[last:cut])
                last = cut
                if rng.random() < 0.3:
                    time.sleep(rng.random() * 0.002)
    """)


def test_claude_code_appending_while_we_ingest_loses_nothing_and_stores_no_partial_line(tmp_path):
    projects = tmp_path / "projects"
    projects.mkdir()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    tests_dir = str(Path(__file__).parent)
    writer = subprocess.Popen([sys.executable, str(script), str(projects), "11", tests_dir, "3000"])
    db = tmp_path / "live.sqlite3"
    ledger = open_ledger(db)
    runs = partial_seen = 0
    with ledger:
        while writer.poll() is None:
            summary = ingest(ledger, [projects])
            runs += 1
            partial_seen += summary.partial_lines_left
        assert writer.wait() == 0
        ingest(ledger, [projects])
    assert runs >= 5
    for path in projects.rglob("*.jsonl"):  # the writer finished every line it began
        assert path.read_bytes().endswith(b"\n")
    assert dump(db) == dump(clean_run(tmp_path, projects))
    print(f"live append: {runs} ingests during the writes, {partial_seen} partial lines left for later")


def _kill_at_random(tmp_path: Path, roots: list[Path], clean_seconds: float, seed: int) -> tuple[Path, bool]:
    db = tmp_path / f"killed-{seed}.sqlite3"
    rng = random.Random(seed)
    args = ["ingest", "--db", str(db), "-q"] + [a for r in roots for a in ("--source", str(r))]
    proc = cli(*args)
    # Within the first 80 % of a clean run's time: on a loaded machine a run may go faster than the timed
    # one, and a kill that comes after the end tests nothing.
    time.sleep(rng.uniform(0.0, clean_seconds * 0.8))
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=300)
    return db, killed


@pytest.mark.slow
def test_kill_9_at_random_points_then_reingest_equals_a_clean_run(tmp_path, corpus):
    # A bigger corpus than the others (~25 MB, several flushes): most of the process's life is ingest.
    # Five kills at random points: the every-commit test below covers each transaction boundary in turn
    # (eight kills on ~35 MB were 50 of .ci/run's ~550 s).
    projects, demo = write_corpus(tmp_path / "big", sessions=180, seed=9), corpus[1]
    roots = [projects, demo]
    clean = dump(clean_run(tmp_path, *roots))
    started = time.perf_counter()
    proc = cli("ingest", "--db", str(tmp_path / "timed.sqlite3"), "-q", "--source", str(projects), "--source", str(demo))
    proc.communicate(timeout=300)
    clean_seconds = time.perf_counter() - started
    kills = with_rows = 0
    for seed in range(5):
        db, killed = _kill_at_random(tmp_path, roots, clean_seconds, seed)
        kills += killed
        if db.exists():
            ledger = open_ledger(db)
            with ledger:
                with_rows += ledger.scalar("SELECT COUNT(*) FROM requests") > 0
        again = cli("ingest", "--db", str(db), "-q", "--source", str(projects), "--source", str(demo))
        _, err = again.communicate(timeout=300)
        assert again.returncode == 0, err.decode()
        assert dump(db) == clean, f"seed {seed}"
    assert kills >= 3  # most kills must land while the ingest runs
    print(f"kill -9 at random: {kills} of 5 runs killed, {with_rows} after some rows were committed "
          f"({clean_seconds:.2f} s clean run)")


CRASHER = textwrap.dedent("""
    import os, signal, sys
    from claimback.ledger import ingest as ingest_mod, store
    ingest_mod.FLUSH_ROWS = 300  # many commits from a small corpus
    target, when = int(sys.argv[2]), sys.argv[3]
    if os.environ.get("CRASHER_PARALLEL"):
        ingest_mod.PARALLEL_BYTES = 0  # parse in worker processes, as a big run does
        ingest_mod.PARALLEL_MAX_LOAD = float("inf")  # whatever the machine's load
        ingest_mod.CPU_PROBE_SECONDS = 0  # workers from the first file
    original = store.Ledger.transaction
    seen = [0]

    from contextlib import contextmanager
    @contextmanager
    def transaction(self):
        seen[0] += 1
        with original(self):
            yield
            if seen[0] == target and when == "before-commit":
                os.kill(os.getpid(), signal.SIGKILL)
        if seen[0] == target and when == "after-commit":
            os.kill(os.getpid(), signal.SIGKILL)

    store.Ledger.transaction = transaction
    ledger = store.open_ledger(sys.argv[1])
    ingest_mod.ingest(ledger, [__import__("pathlib").Path(p) for p in sys.argv[4:]])
    print("transactions", seen[0])
    """)


def _alive_with(marker: str) -> list[str]:
    """Processes whose command line holds `marker` (orphaned parse workers would)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(proc.name)
        except OSError:
            continue
    return found


@pytest.mark.slow
@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parse-workers"])
def test_kill_9_at_every_commit_then_reingest_equals_a_clean_run(tmp_path, parallel, monkeypatch):
    if parallel:
        monkeypatch.setenv("CRASHER_PARALLEL", "1")
    projects = write_corpus(tmp_path / "small", sessions=8, seed=3, turns=25)
    demo = build_demo(tmp_path / "demo").projects_dir
    clean = dump(clean_run(tmp_path, projects, demo))
    script = tmp_path / "crasher.py"
    script.write_text(CRASHER)
    probe = subprocess.run([sys.executable, str(script), str(tmp_path / "probe.sqlite3"), "0", "none",
                            str(projects), str(demo)], capture_output=True, text=True, timeout=300)
    total = int(probe.stdout.split()[-1])
    assert total >= 6  # migrations, several flushes, the final links, the machine row
    for target in range(1, total + 1):
        for when in ("before-commit", "after-commit"):
            db = tmp_path / f"crash-{target}-{when}.sqlite3"
            crashed = subprocess.run([sys.executable, str(script), str(db), str(target), when, str(projects),
                                      str(demo)], capture_output=True, timeout=300)
            assert crashed.returncode == -signal.SIGKILL
            if parallel and Path("/proc/self/cmdline").exists():
                deadline = time.monotonic() + 10  # workers notice their parent is gone and exit
                while _alive_with(str(script)) and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert _alive_with(str(script)) == [], "parse workers outlived a killed ingest"
            ledger = open_ledger(db)
            with ledger:
                ingest(ledger, [projects, demo])
            assert dump(db) == clean, f"killed {when} of transaction {target}"
    print(f"kill -9 at every commit ({'parse workers' if parallel else 'serial'}): {total} transactions x 2 "
          f"(before/after commit) = {2 * total} crashes")


def _reports(db: Path, roots: list[Path], out: Path, *, no_ingest: bool) -> dict[str, Any]:
    """usage, loss and the claim packet's evidence, as JSON, from the CLI."""
    from click.testing import CliRunner

    from claimback.cli import main

    runner = CliRunner()
    common = ["--db", str(db)] + [a for r in roots for a in ("--source", str(r))]
    if no_ingest:
        common.append("--no-ingest")
    results = {}
    for name, args in {"daily": ["usage", "daily", "--json"], "session": ["usage", "session", "--json"],
                       "loss": ["loss", "--json", "--offline"]}.items():
        result = runner.invoke(main, args + common)
        assert result.exit_code == 0, result.output
        results[name] = json.loads(result.output)
    result = runner.invoke(main, ["claim", "--offline", "--out", str(out), "--json"] + common)
    assert result.exit_code == 0, result.output
    evidence = json.loads((out / "evidence.json").read_text())
    evidence["generator"].pop("generated_at")  # the one field that says when the packet was written
    results["evidence"] = evidence
    results["csv"] = (out / "evidence.csv").read_text()
    results["message"] = (out / "message.txt").read_text()
    return results


def test_transcripts_deleted_after_ingest_change_no_ledger_report_or_packet(tmp_path):
    demo = build_demo(tmp_path / "demo")
    roots = [demo.projects_dir]
    db = tmp_path / "ledger.sqlite3"
    ledger = open_ledger(db)
    with ledger:
        ingest(ledger, roots)
        demo.load_extras(ledger)
    before_tables = dump(db)
    before = _reports(db, roots, tmp_path / "packet-before", no_ingest=True)
    assert before["evidence"]["windows"], "the demo outage must be in the packet"
    # Claude Code's cleanup (cleanupPeriodDays): transcripts go, subagent folders too. Keep one old file
    # truncated to nothing, as a half-finished deletion would.
    files = sorted(demo.projects_dir.rglob("*.jsonl"))
    for path in files[1:]:
        path.unlink()
    files[0].write_bytes(b"")
    for folder in sorted(demo.projects_dir.rglob("subagents"), reverse=True):
        shutil.rmtree(folder.parent)
    after_ingest = _reports(db, roots, tmp_path / "packet-after", no_ingest=False)
    after_tables = dump(db)
    # The emptied file's bookkeeping row changes (that is the point of it); no evidence does.
    for table in set(before_tables) - {"files"}:
        assert after_tables[table] == before_tables[table], table
    assert after_ingest == before
