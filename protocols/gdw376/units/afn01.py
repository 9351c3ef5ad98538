"""AFN01 复位命令 (Q/GDW 376.1-2009 §5.2; PROTOCOLS.md A.9), p0, downlink with PW (the link layer adds it); the
terminal answers AFN00. No data unit body: F1 硬件初始化, F2 数据区初始化, F3 参数及全体数据区初始化（即恢复至出厂
配置）, F4 参数（除与系统主站通信有关的）及全体数据区初始化. Names as in ``qgdw_3761_api.h`` CMD_AFN_1_F1…F4.
"""

from __future__ import annotations

from protocols.gdw376.link import Afn, Dir
from protocols.gdw376.units.registry import no_body, register

F1_HARDWARE_INIT = 1
F2_DATA_INIT = 2
F3_FACTORY_RESET = 3
F4_PARAMETERS_AND_DATA_INIT = 4

RESETS = {
    F1_HARDWARE_INIT: "硬件初始化",
    F2_DATA_INIT: "数据区初始化",
    F3_FACTORY_RESET: "参数及全体数据区初始化（即恢复至出厂配置）",
    F4_PARAMETERS_AND_DATA_INIT: "参数（除与系统主站通信有关的）及全体数据区初始化",
}
for _fn, _name in RESETS.items():
    register(Afn.RESET, _fn, (Dir.DOWN,), no_body(_name))
