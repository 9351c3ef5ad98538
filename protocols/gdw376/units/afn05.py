"""AFN05 控制命令 (Q/GDW 376.1-2009 §5.6; PROTOCOLS.md A.9): downlink with PW; the terminal answers AFN00.
pn is the 控制轮次 for F1/F2, the 总加组号 for F9–F24, p0 from F25 on, the 测量点号 for F41/F42.

Bodies (checked against ``xiangruipuzhao/3761`` ``qgdw_3761_api.h`` sMtRemoteTurnOff, sMtAfn05F9_f, sMtAfn05F12_f,
sMtAfn05F32_f, ``cil_fk.cpp`` by dinglinhui ``plms_05F01`` … ``plms_05F53`` and ``baiej214/TmnlHUB``
``protocol/698.js`` ``json_hex.AFN5``; read, not copied):

- F1 遥控跳闸: one byte, 告警延时时间 D7..D4 (min, 0 = trip at once), 限电时间 D3..D0 (×0.5 h, 0 = 紧急限电 until
  released). Both implementations put the alarm delay in the high nibble (TmnlHUB ``(alertTime << 4) +
  limitTime``, cil_fk.cpp ``ntmDelay = b >> 4``); PROTOCOLS.md A.9 has the nibbles the other way round.
- F9 时段功控投入: 时段功控投入标志 (BS8, 第1～8时段) + 时段功控定值方案号 (BIN 1, 0～2 = 第1～3套).
- F12 当前功率下浮控投入: 滑差时间 (min), 浮动系数 (A.4), 控后总加有功功率冻结延时时间 (min), 控制时间 (×0.5 h),
  第1～4轮告警时间 (min) — 8 bytes.
- F25 终端保电投入: 保电持续时间 (BIN 1, ×0.5 h, 0 = 无限期) [verify: only cil_fk.cpp].
- F30 终端对电能表对时功能的开启与关闭 (Q/GDW 1376.1-2013 only; 备用 in 2009): 对时功能开启标志 BIN 1, 0 = 关闭,
  1 = 开启 (a terminal treats any other value as 关闭). Checked against three independent public sources (read,
  not copied): a concentrator firmware's parameter store (``ADDR_AFN05F30``: one value byte, "0=关闭，1=开启，其它值
  关闭", consulted before each batch meter time-set), a master-side encoder (``guyingzhi/learngit``
  ``encodedataformat05_F30``: 1 byte) and a master-side frame explainer (F30 "开启状态" from 1 BIN byte). The 2009
  list (``qgdw_3761_api.h`` eMtCmd: "F30 备用") does not define it.
- F31 对时命令: 附录A.1 (6 bytes) terminal clock.
- F32 中文信息: D3..D0 编号 / D7..D4 种类 (0 普通, 1 重要), 长度 Lc, Lc bytes of GB2312 text (kept as bytes).
- F41/F42 电容器控制投入/切除: 电容器组控制标志 BS16 (第1～16组) [verify: cil_fk.cpp reads 2 bytes].
- F49–F53: 终端通信端口号 (BIN 1).
- F21–F22 备用 in both editions: ``qgdw_3761_api.h`` (2009 list, "F21~F22 备用"), and no 2013-era source defines
  them (a 2013 terminal firmware's command list and ``guyingzhi/learngit``'s AFN05 encoder go F20 → F23).
  Registered as reserved (:func:`~.registry.reserve`), so decoding one says so instead of "no codec".
- Everything else listed (F2, F10, F11, F15–F20, F23, F24, F26–F29, F33–F39) has no data unit body — F26 催费告警投入
  included (TmnlHUB sends none; the alarm hours are the AFN04 F23 parameter).
"""

from __future__ import annotations

from protocols.gdw376.formats import A1, A4, BIN1, BitFields, BitSet
from protocols.gdw376.layout import Count, Field, Layout, Octets, Repeat
from protocols.gdw376.link import Afn, Dir
from protocols.gdw376.units.registry import from_layout, no_body, register, reserve

F31_TIME_SYNC = 31

F1: Layout = (
    Field(
        "trip",
        BitFields(1, (("limit_half_hours", 0, 4), ("alarm_delay_min", 4, 4))),
        "限电时间 (D3..D0, ×0.5 h) / 告警延时时间 (D7..D4, min)",
    ),
)
F9: Layout = (
    Field("periods", BitSet(1, first=1), "时段功控投入标志 (第1～8时段)"),
    Field("scheme", BIN1, "时段功控定值方案号 (0～2 = 第1～3套)"),
)
F12: Layout = (
    Field("slide_min", BIN1, "当前功率下浮控定值滑差时间 (min)"),
    Field("coefficient", A4, "当前功率下浮控定值浮动系数"),
    Field("freeze_delay_min", BIN1, "控后总加有功功率冻结延时时间 (min)"),
    Field("duration", BIN1, "当前功率下浮控的控制时间 (×0.5 h)"),
    Repeat("alarm_min", 4, (Field("alarm", BIN1, "第1～4轮告警时间 (min)"),)),
)
F25: Layout = (Field("duration", BIN1, "保电持续时间 (×0.5 h, 0 = 无限期)"),)
F30: Layout = (Field("enabled", BIN1, "终端对电能表对时功能 0 = 关闭, 1 = 开启"),)
F31: Layout = (Field("clock", A1, "对时: 终端日历时钟"),)
F32: Layout = (
    Field("info", BitFields(1, (("number", 0, 4), ("kind", 4, 4))), "编号 (D3..D0) / 种类 (D7..D4 0 普通 1 重要)"),
    Count("length", 1, "中文信息长度Lc"),
    Octets("text", "length", title="汉字信息 (GB2312)"),
)
CAPACITORS: Layout = (Field("capacitors", BitSet(2, first=1), "电容器组控制标志 (第1～16组)"),)
PORT: Layout = (Field("port", BIN1, "终端通信端口号"),)

#: Fn → (the standard's name, body layout or None for no body).
COMMANDS: dict[int, tuple[str, Layout | None]] = {
    1: ("遥控跳闸", F1),
    2: ("允许合闸", None),
    9: ("时段功控投入", F9),
    10: ("厂休功控投入", None),
    11: ("营业报停功控投入", None),
    12: ("当前功率下浮控投入", F12),
    15: ("月电控投入", None),
    16: ("购电控投入", None),
    17: ("时段功控解除", None),
    18: ("厂休功控解除", None),
    19: ("营业报停功控解除", None),
    20: ("当前功率下浮控解除", None),
    23: ("月电控解除", None),
    24: ("购电控解除", None),
    25: ("终端保电投入", F25),
    26: ("催费告警投入", None),
    27: ("允许终端与主站通话", None),
    28: ("终端剔除投入", None),
    29: ("允许终端主动上报", None),
    30: ("终端对电能表对时功能的开启与关闭", F30),
    31: ("对时命令", F31),
    32: ("中文信息", F32),
    33: ("终端保电解除", None),
    34: ("催费告警解除", None),
    35: ("禁止终端与主站通话", None),
    36: ("终端剔除解除", None),
    37: ("禁止终端主动上报", None),
    38: ("激活终端连接主站", None),
    39: ("命令终端断开连接", None),
    41: ("电容器控制投入", CAPACITORS),
    42: ("电容器控制切除", CAPACITORS),
    49: ("命令指定通信端口暂停抄表", PORT),
    50: ("命令指定通信端口恢复抄表", PORT),
    51: ("命令指定通信端口重新抄表", PORT),
    52: ("初始化指定通信端口下的全部中继路由信息", PORT),
    53: ("删除指定通信端口下的全部电表", PORT),
}
for _fn, (_name, _layout) in COMMANDS.items():
    register(Afn.CONTROL, _fn, (Dir.DOWN,), no_body(_name) if _layout is None else from_layout(_name, _layout))

#: The Fn lists' 备用 entries (2009: ``qgdw_3761_api.h`` eMtCmd; 2013: see the module docstring).
_LIST = "控制命令 (AFN=05H) 数据单元标识表"
for _fn in (21, 22):
    reserve(
        Afn.CONTROL,
        _fn,
        {"2009": f"§5.6 {_LIST}: F21～F22 备用", "2013": f"{_LIST}: no F21～F22 in the public 2013 lists (inferred)"},
    )
reserve(Afn.CONTROL, 30, {"2009": f"§5.6 {_LIST}: F30 备用"})
