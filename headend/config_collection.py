"""Configuration of the meter archive (档案), time sync (对时) and backfill (补抄): the ``[archive]``, ``[timesync]``
and ``[backfill]`` sections of the daemon configuration (:class:`headend.config.Config`; docs/collection.md
"Archive, time sync, backfill, success rate")."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_TERMINAL_RE = re.compile(r"^[0-9A-Fa-f]{4}:\d{5}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArchiveMeterConfig(_Model):
    """``[[archive.terminals.meters]]``: one meter of a terminal's archive (Q/GDW 376.1-2009 附录 AFN04 F10
    终端电能表/交流采样装置配置参数)."""

    #: measurement point (测量点号) the terminal files the meter under; also its 电能表/交流采样装置序号
    pn: Annotated[int, Field(ge=1, le=2040)]
    #: 12-digit communication address (通信地址), as printed on the meter
    address: Annotated[str, Field(pattern=r"^\d{12}$")]
    protocol: Literal["dlt645-2007", "dlt645-1997", "ac_sampling"] = "dlt645-2007"
    #: terminal port number (端口号, 1..31) the meter hangs on
    port: Annotated[int, Field(ge=1, le=31)] = 2
    #: bit/s on that port; 0 = the terminal's default
    baud: Literal[0, 600, 1200, 2400, 4800, 7200, 9600, 19200] = 2400
    #: 电能费率个数
    tariff_count: Annotated[int, Field(ge=0, le=63)] = 4
    #: current / voltage transformer ratios (电流/电压互感器变比), exact decimals as strings
    ct_ratio: str = "1"
    pt_ratio: str = "1"

    @field_validator("ct_ratio", "pt_ratio")
    @classmethod
    def _positive_decimal(cls, value: str) -> str:
        try:
            number = Decimal(value)
        except ArithmeticError as exc:
            raise ValueError(f'ratio {value!r} must be a decimal number, e.g. "200"') from exc
        if not number.is_finite() or number <= 0:
            raise ValueError(f"ratio {value!r} must be a positive number")
        return value


class ArchiveTerminalConfig(_Model):
    """``[[archive.terminals]]``: a terminal and the meters it must read."""

    #: logical address A1:A2 as printed, e.g. "4403:00012"
    terminal: Annotated[str, Field(pattern=_TERMINAL_RE.pattern)]
    kind: Literal["concentrator", "load_control"] = "concentrator"
    name: str = ""
    meters: list[ArchiveMeterConfig] = []

    @field_validator("meters")
    @classmethod
    def _unique_points(cls, value: list[ArchiveMeterConfig]) -> list[ArchiveMeterConfig]:
        points = [m.pn for m in value]
        if len(set(points)) != len(points):
            raise ValueError("a measurement point (pn) appears twice")
        return value


class ArchiveConfig(_Model):
    """``[archive]``: the meter archive, merged with what the database holds (configuration wins)."""

    #: after each login: read the terminal's archive (AFN0A F10), report differences, repair them (AFN04 F10)
    verify_on_login: bool = True
    repair: bool = True
    #: meters per AFN04 F10 / AFN0A F10 frame
    batch: Annotated[int, Field(ge=1, le=64)] = 16
    terminals: list[ArchiveTerminalConfig] = []


class TimeSyncConfig(_Model):
    """``[timesync]``: terminal clocks (AFN0C F2, heartbeat clocks) against the host clock, AFN05 F31 对时; direct
    meters' clocks (DL/T 645 04000101+04000102), 08H 广播校时 (headend/collection/meter_clock.py)."""

    enabled: bool = True
    #: set a terminal's clock when it is off by more than this
    threshold_s: Annotated[float, Field(gt=0)] = 60.0
    #: read every online terminal's clock, and every direct meter's (DL/T 645), this often
    interval_s: Annotated[float, Field(gt=0)] = 86400.0
    #: direct meters: the largest correction a broadcast time (广播校时) may make; a meter off by more is not
    #: broadcast to (it needs a field visit). DL/T 645 meters accept at most ±5 min.
    meter_max_correction_s: Annotated[float, Field(gt=0, le=300)] = 300.0
    #: how the host's NTP state is found: "timedatectl" (systemd), "adjtimex" (kernel status), or "assume"
    #: (trust the host clock: only where another mechanism guarantees it)
    ntp_check: Literal["timedatectl", "adjtimex", "assume"] = "timedatectl"


class BackfillConfig(_Model):
    """``[backfill]``: 补抄 of missing daily frozen registers (AFN0D F161 with Td_d) at the lowest priority."""

    enabled: bool = True
    #: how many past freeze dates are checked (today's included)
    days: Annotated[int, Field(ge=1, le=31)] = 3
    #: AFN0D requests per terminal per run (bounded effort)
    max_requests_per_terminal: Annotated[int, Field(ge=1)] = 32
    #: measurement points asked in one request
    points_per_request: Annotated[int, Field(ge=1, le=64)] = 8
    #: run this often
    interval_s: Annotated[float, Field(gt=0)] = 3600.0
    #: today's freeze date is left to a terminal's daily plan until this long after its due time (first pass)
    after_plan_s: Annotated[float, Field(ge=0)] = 3600.0
