"""The one-line install: the built wheel carries everything and runs from a clean environment.

`uvx --from WHEEL claimback ...` and `pipx run --spec WHEEL claimback ...` both make a fresh virtual
environment, install the wheel and its dependencies into it and run the entry point; this test does the
same with the standard library's venv and pip (installing uv or pipx themselves on every run would add
a download and ~15 s for no extra coverage of our package). `scripts/check_one_line_install.sh` runs the
real uvx and pipx against a local wheel (docs/benchmarks.md, "Install footprint", has its numbers).
Marked slow (~30-60 s: a wheel build and a dependency install); .ci/run still runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Read at import, before the per-test HOME is set: the wheels pip already downloaded stay reusable.
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "pip")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (built,) = out.glob("claimback-*.whl")
    return built


def test_wheel_carries_data_templates_and_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = Parser().parsestr(z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
    packaged = {p.relative_to(ROOT / "src").as_posix() for p in (ROOT / "src" / "claimback").rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}
    assert packaged <= names, packaged - names  # every source, data file and template
    for needed in ("claimback/data/pricing.json", "claimback/data/anthropic-incidents.json",
                   "claimback/outputs/templates/report.html.j2", "claimback/py.typed"):
        assert needed in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    urls = dict(v.split(", ", 1) for v in meta.get_all("Project-URL"))
    assert {"Homepage", "Source", "Issues"} <= set(urls)
    assert "Programming Language :: Python :: 3.11" in meta.get_all("Classifier")
    requires = " ".join(meta.get_all("Requires-Dist"))
    assert "matplotlib" not in requires and "numpy" not in requires


def test_wheel_runs_the_demo_in_a_clean_venv(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True, symlinks=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    install = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)],
                             capture_output=True, text=True, timeout=600,
                             env={**os.environ, "PIP_CACHE_DIR": PIP_CACHE})
    assert install.returncode == 0, install.stderr[-2000:]
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin", "HOME": str(home), "CLAIMBACK_HOME": str(home / "cb"),
           "CLAIMBACK_STATUS_URL": "http://127.0.0.1:9", "COLUMNS": "100", "LANG": "C.UTF-8"}
    demo = subprocess.run(["claimback", "audit", "--demo"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "DEMO data" in demo.stdout and "claim packet" in demo.stdout.lower()
    packets = list(tmp_path.glob("claimback-packet*/report.html"))
    assert packets and "<svg" in packets[0].read_text()  # the chart, drawn without any plotting library
    # nothing from outside the clean venv was used: the package is the installed one
    where = subprocess.run([str(bin_dir / "python"), "-c", "import claimback, importlib.util as u; "
                            "print(claimback.__file__, u.find_spec('matplotlib') is None)"],
                           env=env, capture_output=True, text=True, timeout=60)
    path, no_matplotlib = where.stdout.split()
    assert Path(path).is_relative_to(env_dir) and no_matplotlib == "True"
    completion = subprocess.run(["claimback"], env={**env, "_CLAIMBACK_COMPLETE": "bash_source"},
                                capture_output=True, text=True, timeout=60)
    assert completion.returncode == 0 and "complete -o nosort -F" in completion.stdout
