"""Background tasks that never die silently: each failure is logged, counted, and the task restarted,
or (a task not safe to restart, or one failing again and again) reported as fatal to whoever runs
them, who stops with a clear error.

A task started bare with ``asyncio.create_task`` that raises just stops: nobody awaits it until
shutdown, so its work stops unseen (a grace timer that dies emits no more calls) and the traceback
comes at exit, if at all.  Every long-running task of the daemon and the AMI listener goes through
:class:`TaskSupervisor` instead:

    supervisor = TaskSupervisor(on_fatal=stop_with_error)
    supervisor.start("heartbeat", self._heartbeat)                     # restarted after a failure
    supervisor.start("outbox-worker", self.worker.run, restart=False)  # a failure stops the daemon

``run`` is called again for each restart, so it must be safe to call more than once (a loop reading
state kept outside the coroutine).  Restarts back off exponentially (``restart_delay_s`` doubling up
to ``max_restart_delay_s``); ``max_failures`` failures within ``failure_window_s`` make a restartable
task fatal too: a task that fails at once on every start is broken, not unlucky.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pbx_sms.core.backoff import Backoff, Jitter

log = logging.getLogger("pbx_sms.tasks")


class TaskFailed(Exception):
    """A supervised task failed for good; the message names the task and says why, in one line."""

    def __init__(self, task: str, error: BaseException, failures: int) -> None:
        self.task = task
        self.error = error
        self.failures = failures
        detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        times = "" if failures == 1 else f" ({failures} failures in a row)"
        super().__init__(f"background task {task} failed{times}: {detail}")


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    restart_delay_s: float = 1.0
    max_restart_delay_s: float = 30.0
    max_failures: int = 5
    failure_window_s: float = 300.0


class TaskSupervisor:
    """Starts and watches background tasks; ``failures`` and ``restarts`` count per task name.

    ``on_fatal`` is called once, with the first :class:`TaskFailed`; ``fatal`` keeps it.
    """

    def __init__(
        self,
        on_fatal: Callable[[TaskFailed], None],
        policy: RestartPolicy = RestartPolicy(),
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._on_fatal = on_fatal
        self.policy = policy
        self._clock = clock
        self._backoff = Backoff(policy.restart_delay_s, policy.max_restart_delay_s, Jitter.NONE)
        self.failures: dict[str, int] = {}
        self.restarts: dict[str, int] = {}
        self.fatal: TaskFailed | None = None

    def start(self, name: str, run: Callable[[], Awaitable[object]], *, restart: bool = True) -> asyncio.Task[None]:
        """Run ``run()`` as a task named ``name``; the task ends when ``run`` returns, is cancelled,
        or fails for good (never with an exception: that went to ``on_fatal``)."""
        self.failures.setdefault(name, 0)
        self.restarts.setdefault(name, 0)
        return asyncio.create_task(self._supervise(name, run, restart), name=name)

    def counters(self) -> dict[str, dict[str, int]]:
        """For the status: failures and restarts of the tasks that failed at least once."""
        return {
            name: {"failures": count, "restarts": self.restarts[name]} for name, count in self.failures.items() if count
        }

    async def _supervise(self, name: str, run: Callable[[], Awaitable[object]], restart: bool) -> None:
        recent: deque[float] = deque()
        policy = self.policy
        while True:
            try:
                await run()
                return
            except Exception as exc:  # CancelledError and exits are BaseException: they pass
                self.failures[name] += 1
                now_s = self._clock()
                recent.append(now_s)
                while recent[0] < now_s - policy.failure_window_s:
                    recent.popleft()
                if not restart or len(recent) >= policy.max_failures:
                    self._fail(TaskFailed(name, exc, len(recent)))
                    return
                delay_s = self._backoff.ceiling_s(len(recent) - 1)
                log.error(
                    "background task %s failed (%s: %s); restarting it in %.1f s (failure %d of %d allowed "
                    "within %.0f s)",
                    name,
                    type(exc).__name__,
                    exc,
                    delay_s,
                    len(recent),
                    policy.max_failures - 1,
                    policy.failure_window_s,
                    exc_info=exc,
                )
            await asyncio.sleep(delay_s)
            self.restarts[name] += 1

    def _fail(self, failure: TaskFailed) -> None:
        log.critical("%s; stopping", failure, exc_info=failure.error)
        if self.fatal is None:
            self.fatal = failure
            self._on_fatal(failure)
