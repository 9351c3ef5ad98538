"""DL/T 645-2007 / DL/T 645-1997 (多功能电能表通信协议), sans-IO.

Modules (see each docstring for the clauses and what was checked against what):

* ``link`` — the frame (build/parse/verify, addresses, :func:`~protocols.dlt645.link.address_matches` for the
  broadcast and AA-wildcard rules); ``framer`` — the stream framer (0–16 FE, CS = 16H, resync).
* ``control`` — control code bits, function codes of both editions, :func:`~protocols.dlt645.control.edition_of`.
* ``formats`` — value formats (:class:`~protocols.dlt645.formats.Field`: numbers, bit fields, digits, dates,
  times, text); ``data_items`` — the DI catalogue of both editions (energy, demand, variables, events,
  parameters, freezes, load profile, prepaid); ``load_profile`` — load records and 0610 curves.
* ``apdu`` — reads (11H/12H/13H, 1997 01H/02H/03H), replies (:class:`~protocols.dlt645.apdu.ReadReply`,
  ``ErrorReply``, ``AddressReply``, ``Ack`` and its ``BaudRateAck``/``PasswordAck``), meter-side
  :func:`~protocols.dlt645.apdu.parse_any_request`; ``commands`` — every other command (08H, 14H–1CH; 1997
  04H/0AH/0CH/0FH/10H); ``errors`` — the error word as exceptions.
* ``exchange`` — :class:`~protocols.dlt645.exchange.ReadExchange` (multi-frame reads) and
  :class:`~protocols.dlt645.exchange.EditionDetector` (which edition a meter speaks); ``mapping`` — the
  1997 ↔ 2007 DI table (also in ``docs/dlt645.md``); ``describe`` — ``headend decode --json``.
"""
