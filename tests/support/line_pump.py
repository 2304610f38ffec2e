"""A child's text stdout read on a thread into a queue, the pipe closed at its end.

The thread owns the pipe and closes it at EOF; the fixture that started the child
joins the thread once the child is gone, so no open pipe outlives the test (it
would surface as an unraisable ResourceWarning in whatever test runs next).
"""

from __future__ import annotations

import queue
import threading
from typing import IO

JOIN_TIMEOUT = 30.0


class LinePump:
    def __init__(self, stream: IO[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        """Every line as read, then ``None`` at EOF."""
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream: IO[str]) -> None:
        with stream:
            for line in stream:
                self.lines.put(line)
        self.lines.put(None)

    def join(self, timeout: float = JOIN_TIMEOUT) -> None:
        """Wait for EOF (every writer of the pipe gone); call after the child ended."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"a process still holds the stdout pipe after {timeout} s")
