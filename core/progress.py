"""One line of progress on stderr for long commands, rewritten in place, and only when
stderr is a terminal: a pipe, a log file or a cron mail gets none of it."""

import sys
from types import TracebackType
from typing import TextIO

_ERASE_LINE = "\r\x1b[K"


class Progress:
    """``with Progress() as progress: progress.show("replaying... 40 %")``; the line is
    erased at the end, so what the command prints stays clean."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self._shown = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.clear()

    def show(self, text: str) -> None:
        if self.live:
            self.stream.write(_ERASE_LINE + text)
            self.stream.flush()
            self._shown = True

    def clear(self) -> None:
        if self._shown:
            self.stream.write(_ERASE_LINE)
            self.stream.flush()
            self._shown = False
