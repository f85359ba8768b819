"""Fixed-rate request schedule of one simulated client.

Locust's ``constant_throughput`` (2.47, ``locust/user/wait_time.py``)
measures the first wait from the user's creation, so a start offset moves
only the first request. From the
second request on, every user is back on the phase at which Locust created
it, and users created together send together. ``Schedule`` measures every
wait from the previous due time instead, so the phase set by the offset holds
for the whole run.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Schedule:
    """Due times one ``interval_s`` apart, starting when ``start`` is called."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.perf_counter) -> None:
        if not interval_s > 0:
            raise ValueError(f"invalid interval {interval_s!r} s: expected a number above 0")
        self.interval_s = interval_s
        self._clock = clock
        self._due = clock()

    def start(self) -> None:
        """Make the current time the due time of the first request."""
        self._due = self._clock()

    def wait_s(self) -> float:
        """Return the seconds until the next request is due, and advance the schedule.

        A client whose next request is already overdue starts again from now
        instead of catching up with requests back to back.
        """
        now = self._clock()
        self._due = max(self._due + self.interval_s, now)
        return self._due - now
