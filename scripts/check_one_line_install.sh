#!/usr/bin/env bash
# Build the wheel and run `uvx` and `pipx run` on it, each from an empty cache and a throwaway HOME,
# the way a new user's one-line install runs (README, "Install"). uv and pipx themselves go into a
# throwaway venv from PyPI. Prints each step's wall time; exits non-zero if either run fails.
#   bash scripts/check_one_line_install.sh            (about a minute; needs PyPI)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/tools"
"$work/tools/bin/pip" install -q uv pipx
python3 -m pip wheel --no-deps -q -w "$work/dist" "$root"
wheel="$(ls "$work"/dist/claimback-*.whl)"
run() {  # name, command...
  local name="$1"; shift
  mkdir -p "$work/$name/home"
  local start end
  start=$(date +%s.%N)
  # an empty environment, but this machine's CA and proxy settings (a registry may sit behind them)
  local keep=()
  for var in SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE PIP_CERT PIP_INDEX_URL UV_INDEX_URL HTTPS_PROXY \
             https_proxy HTTP_PROXY http_proxy NO_PROXY no_proxy; do
    if [ -n "${!var:-}" ]; then keep+=("$var=${!var}"); fi
  done
  env -i "${keep[@]}" PATH="$work/tools/bin:/usr/bin:/bin" HOME="$work/$name/home" LANG=C.UTF-8 COLUMNS=100 \
    UV_CACHE_DIR="$work/$name/uv-cache" PIPX_HOME="$work/$name/pipx" PIP_CACHE_DIR="$work/$name/pip-cache" \
    CLAIMBACK_HOME="$work/$name/cb" "$@" > "$work/$name/out.txt"
  end=$(date +%s.%N)
  grep -q "DEMO data" "$work/$name/out.txt"
  printf '%-5s ok in %s s: %s\n' "$name" "$(python3 -c "print(f'{$end - $start:.1f}')")" "$*"
}
cd "$work"
run uvx uvx --from "$wheel" claimback audit --demo
run pipx pipx run --spec "$wheel" claimback audit --demo
