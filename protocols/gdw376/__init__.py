"""Q/GDW 376.1-2009 / Q/GDW 1376.1-2013 (主站与采集终端通信协议): link layer, framer, data units.

Modules: :mod:`.link` (帧格式, C/A/SEQ/AUX), :mod:`.framer` (stream → frames), :mod:`.da_dt` (数据单元标识),
:mod:`.formats` (附录A 数据格式), :mod:`.units` (data-unit codecs by (AFN, Fn, DIR)), :mod:`.messages` (builders
both the head-end and the simulator use) and :mod:`.describe` (the ``headend decode --json`` contract).
"""
