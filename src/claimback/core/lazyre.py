"""Regular expressions compiled on first use.

The secret shapes (core/secrets.py) and the failure rules (core/classify.py) are ~50 patterns whose
compilation took ~20 ms of every process that imported them, though most runs (a report with nothing new
to ingest, a JSON print of numbers and dates) never match a single one. `lazy_compile` keeps the
definition where it is and defers `re.compile` until a method of the pattern is first called.

The guard hook's modules (sources/incident_text.py) use it too, so importing this module imports
neither `re` nor `typing`: `re` loads with the first pattern compiled (flags are plain ints, or
`re` flags where the caller has imported it anyway).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~2 ms on the hook path
if TYPE_CHECKING:
    import re
    from collections.abc import Iterator
    from typing import Any


class LazyPattern:
    """`re.compile(source, flags)`, made on first use; then the pattern's own bound methods replace the
    ones below on the instance, so a compiled pattern costs nothing more per call than `re.Pattern`."""

    def __init__(self, source: str, flags: int | re.RegexFlag = 0) -> None:
        self.source = source
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None

    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            import re

            pattern = re.compile(self.source, self.flags)
            for name in ("search", "match", "fullmatch", "finditer", "findall", "sub", "subn", "split",
                         "groupindex"):
                setattr(self, name, getattr(pattern, name))
            self._compiled = pattern
        return self._compiled

    # Until the first call (each then binds the compiled pattern's method, see compiled()).
    def search(self, *args: Any) -> re.Match[str] | None:
        return self.compiled().search(*args)

    def match(self, *args: Any) -> re.Match[str] | None:
        return self.compiled().match(*args)

    def fullmatch(self, *args: Any) -> re.Match[str] | None:
        return self.compiled().fullmatch(*args)

    def finditer(self, *args: Any) -> Iterator[re.Match[str]]:
        return self.compiled().finditer(*args)

    def findall(self, *args: Any) -> list[Any]:
        return self.compiled().findall(*args)

    def sub(self, *args: Any) -> str:
        return self.compiled().sub(*args)

    def subn(self, *args: Any) -> tuple[str, int]:
        return self.compiled().subn(*args)

    def split(self, *args: Any) -> list[Any]:
        return self.compiled().split(*args)

    def __getattr__(self, name: str) -> Any:
        # Only for what is not set yet: `groupindex` before the first compile.
        if name == "groupindex":
            return self.compiled().groupindex
        raise AttributeError(name)

    @property
    def pattern(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"lazy_compile({self.source!r}, {self.flags!r})"


def lazy_compile(source: str, flags: int | re.RegexFlag = 0) -> LazyPattern:
    return LazyPattern(source, flags)
