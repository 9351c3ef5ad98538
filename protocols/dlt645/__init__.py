"""DL/T 645-2007 / DL/T 645-1997 (多功能电能表通信协议), sans-IO.

``link`` (frame, build/parse), ``framer`` (stream framer), ``control`` (control code, editions),
``data_items`` (DI catalogue), ``apdu`` (read exchange), ``errors`` (error word registry), ``describe``
(``headend decode --json``).
"""
