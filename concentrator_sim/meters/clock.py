"""A meter's own clock (电能表日历时钟): offset and rate error against true time (sans-IO).

A real meter keeps time with a crystal: it starts ``offset`` away from true time and drifts by ``ppm`` parts per
million (a 10 ppm crystal loses or gains about 0.9 s a day). Setting the time — broadcast time 08H (DL/T 645-2007
§8.4 广播校时), or writing 04000101/04000102 (§8.3 写数据) — puts it right at that instant; the drift continues
from there. Everything is a function of the true instant handed in: no clock is read here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo


class MeterClock:
    """Meter time as a linear function of true time: ``meter = true + offset + (true - anchor) × ppm / 10⁶``,
    shown as naive local wall time in ``tz`` (what the meter's YYMMDDWW / hhmmss registers hold)."""

    __slots__ = ("_anchor", "_offset", "ppm", "tz")

    def __init__(self, tz: tzinfo, *, offset: timedelta = timedelta(0), ppm: float = 0.0) -> None:
        self.tz = tz
        self.ppm = ppm
        self._offset = offset
        self._anchor: datetime | None = None

    def _drift(self, now: datetime) -> timedelta:
        if self._anchor is None:
            self._anchor = now
        return self._offset + (now - self._anchor) * (self.ppm / 1e6)

    def error(self, now: datetime) -> timedelta:
        """How far the meter is ahead of true time at ``now`` (negative: behind)."""
        return self._drift(_aware(now))

    def local(self, now: datetime) -> datetime:
        """The meter's wall time at true instant ``now`` (aware): naive local time in ``tz``, microseconds kept."""
        now = _aware(now)
        return (now + self._drift(now)).astimezone(self.tz).replace(tzinfo=None)

    def true_instant(self, local: datetime, near: datetime) -> datetime:
        """The true instant (aware, UTC) at which the meter shows ``local`` — the inverse of :meth:`local`, for
        a meter time close to the true instant ``near`` (used to find when the meter passes midnight)."""
        near = _aware(near)
        target = local.replace(tzinfo=self.tz)
        # meter(t) = t + offset + (t - anchor)·k  ⇒  t = (target - offset + anchor·k) / (1 + k), with k ≪ 1
        self._drift(near)
        assert self._anchor is not None
        k = self.ppm / 1e6
        return (self._anchor + (target - self._anchor - self._offset) / (1 + k)).astimezone(UTC)

    def set(self, now: datetime, local: datetime) -> timedelta:
        """Set the meter to wall time ``local`` (naive, in ``tz``) at true instant ``now``; returns the
        correction applied (new − old)."""
        now = _aware(now)
        old = self.local(now)
        self._offset = local.replace(tzinfo=self.tz) - now
        self._anchor = now
        return local - old


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("true time must be timezone-aware")
    return now
