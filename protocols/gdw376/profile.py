"""Per-terminal protocol profile: Q/GDW 376.1-2009 or Q/GDW 1376.1-2013, strict or lenient (docs/gdw376.md).

The two editions share the frame, the L protocol identifier (2), C/A/SEQ/AUX and the data formats (PROTOCOLS.md
A.12): a 2009 parser reads 2013 frames, and our decoder accepts both everywhere. What differs is the application
layer, and that is what a :class:`Profile` answers for one terminal:

- :attr:`Profile.heartbeat_has_clock` — AFN02 F3 心跳 carries the terminal clock (附录A.1) in 2013-era terminals,
  nothing in 2009 ones (the simulator and encoder build heartbeats from it);
- :meth:`Profile.has_erc` — event codes: ERC1–ERC35 in 2009 (``qgdw_3761_api.h`` ``eMtErc``); 2013 adds ERC36–ERC41;
- :meth:`Profile.has_fn` — Fn the 2013 edition added (:data:`ADDED_2013`) do not exist for a 2009 terminal;
- :attr:`Profile.strict` — strict mode rejects the deviations lenient mode accepts with a warning.

Selection per terminal: configured (``Profile.for_edition``), or detected — :meth:`Profile.observe` upgrades a
2009 profile to 2013 on evidence only a 2013 terminal gives (a heartbeat with a clock, an ERC above 35) and never
downgrades (a 2013 terminal may send an empty heartbeat). Detection is reported, never guessed silently: observe
returns the reason with the new profile.

What was verified, and against what (docs/gdw376.md has the table):

- ERC37 电能表开表盖, ERC38 电能表开端钮盒, ERC39 补抄失败, ERC40 磁场异常, ERC41 对时事件: public concentrator
  firmware enables exactly these record types under its 1376.1-2013 build switch and defines their record structs
  with these names (found by code search; no code taken). ERC36 (控制输出回路开关接入状态量变位) is listed by
  PROTOCOLS.md A.9 as 2013 and still marked [verify].
- AFN04 F150 测量点状态 is enabled by the same 2013 build switch. AFN05 F30 and AFN0C F162 are 备用 in the 2009 Fn
  tables and defined in 2013 (``units.registry.RESERVED``). Other 2013 Fn additions are not verified yet and are
  therefore not listed: an unlisted Fn is assumed to exist in both editions (the decoder accepts it anyway).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from protocols.gdw376.link import Afn

#: ERC codes of the 2009 edition (qgdw_3761_api.h eMtErc: ERC1 数据初始化和版本变更 … ERC35 发现未知电表).
ERC_2009 = range(1, 36)
#: ERC codes the 2013 edition adds (ERC36 unverified, ERC37–ERC41 verified; see the module docstring).
ERC_ADDED_2013 = range(36, 42)
#: (AFN, Fn) the 2013 edition adds, as far as verified: AFN04/0A F150 测量点状态; AFN05 F30 终端对电能表对时功能的
#: 开启与关闭 and AFN0C F162 (备用 in the 2009 Fn table, defined in 2013: ``units.registry.RESERVED`` cites both;
#: tests/protocols/gdw376/test_profile.py keeps this set and the registry's reservations in step).
ADDED_2013: frozenset[tuple[int, int]] = frozenset(
    {(Afn.SET_PARAM, 150), (Afn.QUERY_PARAM, 150), (Afn.CONTROL, 30), (Afn.REQUEST_CLASS1, 162)}
)


class Edition(Enum):
    V2009 = "2009"  #: Q/GDW 376.1-2009
    V2013 = "2013"  #: Q/GDW 1376.1-2013

    @property
    def standard(self) -> str:
        return "Q/GDW 376.1-2009" if self is Edition.V2009 else "Q/GDW 1376.1-2013"


@dataclass(frozen=True, slots=True)
class Profile:
    """What one terminal speaks. ``detected`` is False while the edition is the default or configured."""

    edition: Edition = Edition.V2009
    strict: bool = False
    detected: bool = False

    @classmethod
    def for_edition(cls, edition: Edition | str, *, strict: bool = False) -> Profile:
        """A configured profile (``"2009"`` or ``"2013"``)."""
        return cls(Edition(edition), strict)

    @property
    def heartbeat_has_clock(self) -> bool:
        return self.edition is Edition.V2013

    def has_erc(self, erc: int) -> bool:
        return erc in ERC_2009 or (self.edition is Edition.V2013 and erc in ERC_ADDED_2013)

    def has_fn(self, afn: int, fn: int) -> bool:
        """False for an Fn only the 2013 edition has, asked of a 2009 terminal; True otherwise."""
        return self.edition is Edition.V2013 or (afn, fn) not in ADDED_2013

    def observe_heartbeat(self, clock_present: bool) -> tuple[Profile, str | None]:
        """Evidence from an AFN02 F3 heartbeat: a clock means a 2013-era terminal."""
        if clock_present:
            return self._upgrade("heartbeat carries a clock (AFN02 F3 with A.1)")
        return self, None

    def observe_erc(self, erc: int) -> tuple[Profile, str | None]:
        """Evidence from an event record: an ERC the 2009 edition does not define means 2013."""
        if erc in ERC_ADDED_2013:
            return self._upgrade(f"event ERC{erc} exists only in 1376.1-2013")
        return self, None

    def _upgrade(self, reason: str) -> tuple[Profile, str | None]:
        if self.edition is Edition.V2013:
            return self, None
        return replace(self, edition=Edition.V2013, detected=True), f"edition 2013 detected: {reason}"
