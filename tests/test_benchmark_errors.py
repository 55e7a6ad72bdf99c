"""benchmarks/*.py on bad input: one line on stderr, never a traceback (exit 2 for bad usage, 1 when a
server they start or reach is not there)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def bench(script: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})}, cwd=cwd)


def one_line_error(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr[-800:])
    assert "Traceback" not in proc.stderr, proc.stderr[-800:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr[-800:]
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("layout", ["empty", "no-projects", "missing"])
def test_scale_bench_on_an_empty_corpus_directory(tmp_path: Path, layout: str) -> None:
    corpus = tmp_path / "corpus"
    if layout != "missing":
        corpus.mkdir()
    if layout == "empty":
        (corpus / "projects" / "-app").mkdir(parents=True)
    proc = bench("scale_bench.py", "--corpus", f"c={corpus}", "--rounds", "1", "--work", str(tmp_path / "w"))
    one_line_error(proc, 2, "c=", "no transcripts")


def test_ingest_bench_on_an_empty_corpus_directory(tmp_path: Path) -> None:
    corpus = tmp_path / "work" / "corpus-1mb-s1"
    corpus.mkdir(parents=True)
    (corpus / ".complete").write_text("ok\n")  # a corpus folder left without transcripts
    proc = bench("ingest_bench.py", "--size-mb", "1", "--rounds", "1", "--no-ccusage", "--work", str(tmp_path / "work"))
    one_line_error(proc, 2, "no transcripts")


def test_ingest_bench_without_the_corpus_generator(tmp_path: Path) -> None:
    proc = bench("ingest_bench.py", "--size-mb", "1", "--no-ccusage", "--work", str(tmp_path / "work"),
                 env={"CLAIMBACK_GEN_CORPUS": str(tmp_path / "no-such-gen_corpus.py")})
    one_line_error(proc, 2, "gen_corpus")


def test_hostile_text_when_the_receiver_does_not_start(tmp_path: Path) -> None:
    broken = tmp_path / "src" / "claimback"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise SystemExit('this tree cannot start')\n")
    proc = bench("hostile_text.py", "--sizes", "2000", "--rounds", "1", "--paths", "otlp", "--src", str(tmp_path / "src"))
    one_line_error(proc, 1, "did not start")


def test_pg_bench_when_the_server_cannot_be_reached(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    proc = bench("pg_bench.py", "--size-mb", "1", "--pg-url", "postgresql://127.0.0.1:9/nothing", cwd=tmp_path)
    one_line_error(proc, 1, "PostgreSQL", "127.0.0.1:9")


def test_ledger_dump_on_a_missing_ledger(tmp_path: Path) -> None:
    proc = bench("ledger_dump.py", str(tmp_path / "a.sqlite3"), str(tmp_path / "b.sqlite3"))
    one_line_error(proc, 2, "a.sqlite3")
    one_line_error(bench("ledger_dump.py"), 2, "usage")


def test_add_cost_states_on_an_empty_corpus(tmp_path: Path) -> None:
    one_line_error(bench("add_cost_states.py", "--src", str(tmp_path), "--out", str(tmp_path / "o")), 2,
                   "no transcripts")


def test_incremental_plans_without_a_ledger(tmp_path: Path) -> None:
    one_line_error(bench("incremental_plans.py", "--db", str(tmp_path / "none.sqlite3"), "--source", str(tmp_path)),
                   2, "no such ledger")
    assert not (tmp_path / "none.sqlite3").exists()
