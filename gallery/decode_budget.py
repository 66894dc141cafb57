"""A per-process cap on the memory that image decodes hold at once.

Plain Python, no Django: the pipeline takes a budget as an argument, and the
caller builds one from its settings. A small PNG can decode to hundreds of
megabytes (a flat 50 MP 16-bit RGBA image is ~0.4 MB on the wire, ~200 MB
decoded), so the bytes on the wire say nothing about the memory a decode needs;
the image header does, and each decode reserves that estimate here first.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from gallery.errors import DecoderBusy

BUSY_MESSAGE = (
    "The server is busy with other large images just now. Please try again in {seconds} seconds."
)


class DecodeBudget:
    """At most ``capacity_bytes`` of reservations held at once, granted first come, first served.

    A reservation waits up to ``wait_seconds`` for room, then raises
    :class:`~gallery.errors.DecoderBusy`. A request for more than the whole
    capacity is granted the whole capacity, so it runs alone rather than never.
    Waiters are served in arrival order: a large request at the head of the queue
    is not overtaken forever by a stream of small ones.
    """

    def __init__(
        self,
        *,
        capacity_bytes: int,
        wait_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity_bytes < 1:
            raise ValueError(f"capacity_bytes must be positive, not {capacity_bytes!r}")
        if wait_seconds < 0:
            raise ValueError(f"wait_seconds must not be negative, not {wait_seconds!r}")
        self.capacity_bytes = capacity_bytes
        self.wait_seconds = wait_seconds
        # What a refused client is told to wait: one full wait, at least a second.
        self.retry_after = max(1, math.ceil(wait_seconds))
        self._clock = clock
        self._condition = threading.Condition()
        self._in_use = 0
        self._queue: deque[object] = deque()  # one ticket per waiting reservation

    @property
    def in_use(self) -> int:
        with self._condition:
            return self._in_use

    @property
    def waiting(self) -> int:
        with self._condition:
            return len(self._queue)

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[int]:
        """Hold ``nbytes`` (at most the capacity) for the ``with`` block; yields the amount held.

        Raises DecoderBusy, holding nothing, if the room does not come in time.
        The reservation is released however the block ends.
        """
        if nbytes < 0:
            raise ValueError(f"nbytes must not be negative, not {nbytes!r}")
        amount = min(nbytes, self.capacity_bytes)
        self._acquire(amount)
        try:
            yield amount
        finally:
            with self._condition:
                self._in_use -= amount
                self._condition.notify_all()

    def _acquire(self, amount: int) -> None:
        ticket = object()
        deadline = self._clock() + self.wait_seconds
        with self._condition:
            self._queue.append(ticket)
            try:
                while self._queue[0] is not ticket or self._in_use + amount > self.capacity_bytes:
                    remaining = deadline - self._clock()
                    if remaining <= 0:
                        raise DecoderBusy(
                            BUSY_MESSAGE.format(seconds=self.retry_after),
                            retry_after=self.retry_after,
                        )
                    self._condition.wait(remaining)
                self._in_use += amount
            finally:
                self._queue.remove(ticket)
                # The next in line may now be at the head, or fit.
                self._condition.notify_all()
