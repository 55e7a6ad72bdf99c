"""The `claimback` console script.

`claimback hook EVENT` runs inside Claude Code for every hooked event, so it is dispatched here,
before the click CLI (and its rich/httpx-using modules) is imported: the hook path loads only the
standard library and `claimback.prevent`. So are the status line and, before click, the `usage … --json`
reports scripts poll (`claimback.fastcli`). Everything else goes to `claimback.cli.main`.
"""

from __future__ import annotations

import sys


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "hook" and not {"-h", "--help"} & set(sys.argv[2:]):
        from claimback.prevent.hook import run

        sys.exit(run(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "statusline" and not {"-h", "--help"} & set(sys.argv[2:]):
        from claimback.sources.statusline import run as statusline

        sys.exit(statusline(sys.argv[2:]))
    if len(sys.argv) > 3 and sys.argv[1] == "usage":
        from claimback.fastcli import run as fast

        code = fast(sys.argv[1:])
        if code is not None:
            sys.exit(code)
    import gc

    from claimback.cli import main as cli_main

    try:
        cli_main(prog_name="claimback")
    finally:
        # What is alive now lives until exit: in the permanent generation, the interpreter's collections
        # at shutdown skip it (~10 % of an unchanged report's CPU: they re-walked every imported module's
        # objects). Objects are still released at exit as before; atexit and weakref finalizers still run.
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    main()
