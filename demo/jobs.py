"""Job control for long runs (training, image optimisation): one stop flag per visitor session
and kind, a time cap on every job, and everything stopped and cleaned up when the visitor leaves.
Plain Python (no gradio import): a request only needs a `session_hash`."""
from __future__ import annotations

import threading


class JobFlag(threading.Event):
    """A stop flag that is also set by a time cap; `timed_out` tells the two apart."""

    def __init__(self, max_seconds: float):
        super().__init__()
        self.max_seconds = max_seconds
        self.timed_out = False
        self.visitor_left = False  # set when the page was closed: nobody will see the result
        self._timer = threading.Timer(max_seconds, self._time_up)
        self._timer.daemon = True
        self._timer.start()

    def _time_up(self):
        self.timed_out = True
        self.set()

    def close(self):
        self._timer.cancel()

    def stop_reason(self) -> str:
        return f"the {self.max_seconds:.0f} s time cap per job was reached" if self.timed_out else "Stop was pressed"


class SessionJobs:
    """The running long job (training, image optimisation) of each visitor session.

    Stop ends only that visitor's run; every job has a time cap; and when the visitor closes the
    page (`on_session_end`, wired to Blocks.unload) their runs stop, so an abandoned run frees its CPU.
    """

    registry: list["SessionJobs"] = []
    cleanups: list = []  # callables(request) that delete a visitor's files when they leave

    def __init__(self, kind: str, max_seconds: float):
        self.kind, self.max_seconds = kind, max_seconds
        self._flags: dict[str, JobFlag] = {}
        self._lock = threading.Lock()
        SessionJobs.registry.append(self)

    @staticmethod
    def session(request) -> str:
        return getattr(request, "session_hash", None) or "local"

    def start(self, request) -> JobFlag:
        flag = JobFlag(self.max_seconds)
        with self._lock:
            previous = self._flags.get(self.session(request))
            if previous is not None:
                previous.set()  # one long job per visitor and kind: a new run replaces the old one
            self._flags[self.session(request)] = flag
        return flag

    def finish(self, request, flag: JobFlag) -> None:
        flag.close()
        with self._lock:
            if self._flags.get(self.session(request)) is flag:
                self._flags.pop(self.session(request), None)

    def stop(self, request, visitor_left: bool = False) -> bool:
        with self._lock:
            flag = self._flags.get(self.session(request))
        if flag is not None:
            flag.visitor_left = flag.visitor_left or visitor_left
            flag.set()
        return flag is not None

    def running(self) -> int:
        with self._lock:
            return len(self._flags)

    @classmethod
    def on_session_end(cls, request) -> None:
        for jobs in cls.registry:
            jobs.stop(request, visitor_left=True)
        for cleanup in cls.cleanups:
            cleanup(request)
