"""AFN04 设置参数 (downlink, PW; the terminal answers AFN00) and AFN0A 查询参数 (Q/GDW 376.1-2009 §5.5 / §5.11,
2009 numbering; PROTOCOLS.md A.9). The reply to an AFN0A query carries the same body as the AFN04 set of that Fn
("与 AFN04 对应 Fn 的数据单元格式相同"), so each layout below is registered for AFN04 DOWN and AFN0A UP. AFN0A
requests are identifiers only, except those that name the objects asked for: F10 (n + n × 电能表/交流采样装置序号,
BIN 2), F11/F13/F14/F15/F33/F34 (n + n × 脉冲端口号 / 模拟量端口号 / 总加组序号 / 差动组序号 / 通信端口号, BIN 1) and
F38/F39 (用户大类号 + n + n × 用户小类号).

Values are :class:`~protocols.gdw376.layout.Record` mappings; coded fields (baud rates, protocol numbers, 55H/AAH
flags, units) keep the standard's code and say so in their ``title`` — nothing is translated silently.

Layouts checked against two public implementations (read, not copied):

- ``xiangruipuzhao/3761`` ``qgdw_3761_api.h`` frame-side structs ``sMtAfn04F1_f`` … ``sMtAfn04f39_f``,
  ``sMtCfgAuto_1_f`` (F65/F66), ``sMtAfn0AF10_f`` / ``sMtAfn0AF38_f`` (query bodies) — F1, F3, F4, F10–F16,
  F21–F23, F25–F39, F65–F68;
- ``baiej214/TmnlHUB`` ``protocol/698.js`` (``json_hex.AFN4`` builders, ``AFN10`` = AFN0A query bodies) — F1, F3, F4
  (digits high nibble first, as printed), F6–F8, F10, F11, F14–F16, F19/F20, F22, F25, F33 (a 19-byte example),
  F35, F36, F41–F49, F57–F59, F67/F68, and the AFN0A query bodies;
- ``cil_fk.cpp`` by dinglinhui (``plms_04F01`` … ``plms_04F83`` decode, ``plms_0AF01`` … encode) — every Fn here,
  in particular F5–F9 (placeholders in the header), F41–F49, F57–F61, F73–F83.

and against the parameter table of a 2013-era terminal firmware, ``gdgly/NUC97X_JS`` ``STM32F4xx/Head/AFN04.h``
(field lists with formats and byte counts for F1–F83).

Where the sources differ or a detail rests on one source:

- F34 通信速率 is BIN 4 (bps) as in cil_fk.cpp and TmnlHUB's parser (6 bytes a port); the header's struct has one
  byte there.
- F60 谐波限值: 21 × A.5 voltage limits (总畸变, 奇次, 偶次, 2…18, 3…19) then 19 × A.6 current limits (总畸变,
  2…18, 3…19), 80 bytes, after cil_fk.cpp's decoder (its AFN0A encoder leaves the per-order voltage limits out).
- F37: the count byte is read whole (NUC97X_JS: "级联/被级联标志、及其对应的…终端个数n (0-3)", BIN 1).
- F73 电容器参数: 16 groups of 补偿方式 (BS8) + 电容装见容量 (A.2), 48 bytes, as NUC97X_JS (and AFN09 F3's
  "无功补偿电容器组最多组数 0～16"); cil_fk.cpp reads 9 groups.
- 2013 variants (``edition="2013"``, from NUC97X_JS alone [verify]): F46 月电量控定值 adds 报警门限值系数 (BIN 1, %);
  F59 电能表校时阈值 is BIN 2 (s) instead of BIN 1 (min).
- F4 phone numbers (BCD digits, F-filled) are kept as raw bytes: the digit order is not verified.
- F2 无线中继转发: the 被转发的终端地址数 n (D6..D0) shares its byte with the 允许 flag (D7): a masked count
  (``Count(mask=0x7F)``) whose value keeps the flag (cil_fk.cpp ``plms_04F02``: ``nAgree = b >> 7``, ``nNum = b & 7F``).
"""

from __future__ import annotations

from protocols.gdw376.formats import (
    A1,
    A2,
    A3,
    A4,
    A5,
    A6,
    A7,
    A12,
    A18,
    A19,
    A20,
    A22,
    A23,
    A25,
    A26,
    BIN1,
    BIN2,
    BIN4,
    DADT,
    IPV4,
    AsciiFormat,
    BitCodes,
    BitFields,
    BitSet,
    RawFormat,
)
from protocols.gdw376.layout import Count, Element, Field, Format, Layout, Octets, Repeat
from protocols.gdw376.link import Afn, Dir
from protocols.gdw376.units.registry import from_layout, no_body, register

HOURS = BitSet(3, first=0)  #: D0..D23 = 0:00–1:00 … 23:00–24:00
ROUNDS = BitSet(1, first=1)  #: D0..D7 = 第1～8轮次


def counted(name: str, fields: tuple[Element, ...], title: str, size: int = 1) -> Layout:
    """The common "本次…数量n + n × {fields}" shape: a count ``n`` then the repeated group ``name``."""
    return (Count("n", size, title), Repeat(name, "n", fields))


# --- 组1 (p0): communication ---------------------------------------------------------------------------------------

RESPONSE = BitFields(2, (("timeout_s", 0, 12), ("retries", 12, 2)))
CON_FLAGS = BitFields(1, (("class1", 0, 1), ("class2", 1, 1), ("class3", 2, 1)))
F1: Layout = (
    Field("rts_delay", BIN1, "终端数传机延时时间RTS (×20 ms)"),
    Field("master_delay_min", BIN1, "终端作为启动站允许传输延时时间 (min)"),
    Field("response", RESPONSE, "终端等待从动站响应的超时时间 (D11..D0, s) 和重发次数 (D13..D12)"),
    Field("con_required", CON_FLAGS, "需要主站确认的通信服务（CON=1）的标志: D0 1类, D1 2类, D2 3类数据自动上报"),
    Field("heartbeat_min", BIN1, "心跳周期 (min)"),
)
F2: Layout = (
    Count("relay", 1, "允许∕禁止 (D7 1 允许) 及被转发的终端地址数n (D6..D0)", mask=0x7F),
    Repeat("addresses", "relay", (Field("address", BIN2, "被转发终端地址 (as A2)"),)),
)
F3: Layout = (
    Field("main_ip", IPV4, "主用IP地址"),
    Field("main_port", BIN2, "主用端口地址"),
    Field("backup_ip", IPV4, "备用IP地址"),
    Field("backup_port", BIN2, "备用端口地址"),
    Field("apn", AsciiFormat(16, b"\x00"), "APN"),
)
F4: Layout = (
    Field("master_phone", RawFormat(8), "主站电话号码或主站手机号码"),
    Field("sms_center", RawFormat(8), "短信中心号码"),
)
F5: Layout = (
    Field("scheme", BIN1, "消息认证方案号"),
    Field("parameter", BIN2, "消息认证方案参数"),
)
F6: Layout = (Repeat("group_addresses", 8, (Field("address", BIN2, "终端组地址"),)),)
F7: Layout = (
    Field("ip", IPV4, "终端IP地址"),
    Field("netmask", IPV4, "子网掩码地址"),
    Field("gateway", IPV4, "网关地址"),
    Field("proxy_type", BIN1, "代理类型 (0 不使用代理, 1 http connect, 2 socks4, 3 socks5)"),
    Field("proxy_ip", IPV4, "代理服务器地址"),
    Field("proxy_port", BIN2, "代理服务器端口"),
    Field("proxy_auth", BIN1, "代理服务器连接方式 (0 无需验证, 1 需要用户名/密码)"),
    Count("user_length", 1, "用户名长度m"),
    Octets("user", "user_length", title="用户名"),
    Count("password_length", 1, "密码长度n"),
    Octets("password", "password_length", title="密码"),
    Field("listen_port", BIN2, "终端侦听端口"),
)
F8: Layout = (
    Field(
        "mode",
        BitFields(1, (("online", 0, 2), ("role", 4, 2), ("udp", 7, 1))),
        "终端上行通信工作方式: D1..D0 1 永久在线 2 被动激活 3 时段在线; D5..D4 0 混合 1 客户机 2 服务器; D7 1 UDP",
    ),
    Field("redial_s", BIN2, "永久在线、时段在线模式重拨间隔 (s)"),
    Field("passive_redials", BIN1, "被动激活模式重拨次数"),
    Field("idle_disconnect_min", BIN1, "被动激活模式连续无通信自动断线时间 (min)"),
    Field("online_hours", HOURS, "时段在线模式允许在线时段标志"),
)

# --- 组2 (p0): configuration ---------------------------------------------------------------------------------------

F9: Layout = (
    Field("recorded", BitSet(8), "事件记录有效标志位 (ERC1..ERC64)"),
    Field("important", BitSet(8), "事件重要性等级标志位 (ERC1..ERC64)"),
)
BAUD_PORT = BitFields(1, (("port", 0, 5), ("baud", 5, 3)))
#: One F10 record, 27 bytes: the meter archive entry 电能表/交流采样装置配置.
METER: Layout = (
    Field("index", BIN2, "电能表/交流采样装置序号"),
    Field("pn", BIN2, "所属测量点号"),
    Field("port", BAUD_PORT, "通信速率及端口号 (baud 0 默认 1 600 2 1200 3 2400 4 4800 5 7200 6 9600 7 19200)"),
    Field("protocol", BIN1, "通信协议类型 (1 DL/T 645-1997, 2 交流采样, 30 DL/T 645-2007, 31 窄带载波)"),
    Field("address", A12, "通信地址"),
    Field("password", RawFormat(6), "通信密码"),
    Field("tariffs", BitFields(1, (("count", 0, 6),)), "电能费率个数"),
    Field("digits", BitFields(1, (("decimals", 0, 2), ("integers", 2, 2))), "有功电能示值小数位数−1 / 整数位数−4"),
    Field("collector", A12, "所属采集器通信地址"),
    Field("user_class", BitFields(1, (("minor", 0, 4), ("major", 4, 4))), "用户小类号 / 用户大类号"),
)
F10: Layout = counted("meters", METER, "本次电能表/交流采样装置配置数量n", size=2)
F10_QUERY: Layout = counted("indexes", (Field("index", BIN2, "电能表/交流采样装置序号"),), "本次查询数量n", size=2)
F11: Layout = counted(
    "pulses",
    (
        Field("port", BIN1, "脉冲输入端口号"),
        Field("pn", BIN1, "所属测量点号"),
        Field("kind", BIN1, "脉冲属性 (0 正向有功, 1 正向无功, 2 反向有功, 3 反向无功)"),
        Field("constant", BIN2, "电表常数k"),
    ),
    "本次脉冲配置路数n",
)
F12: Layout = (
    Field("connected", ROUNDS, "状态量接入标志位 (第1～8路)"),
    Field("normally_open", ROUNDS, "状态量属性标志位 (1 常开触点, 0 常闭触点)"),
)
F13: Layout = counted(
    "inputs",
    (
        Field("port", BIN1, "电压/电流模拟量输入端口号"),
        Field("pn", BIN1, "所属测量点号"),
        Field("kind", BIN1, "电压/电流模拟量属性 (0 A相电压 … 5 C相电流)"),
    ),
    "本次电压/电流模拟量配置路数n",
)
F14: Layout = counted(
    "groups",
    (
        Field("group", BIN1, "总加组序号"),
        Count("m", 1, "总加组的测量点数量m"),
        Repeat(
            "points",
            "m",
            (
                Field(
                    "point",
                    BitFields(1, (("pn_index", 0, 6), ("reverse", 6, 1), ("subtract", 7, 1))),
                    "测量点号−1 (D5..D0), 正反向 (D6 1 反向), 运算符 (D7 1 减)",
                ),
            ),
        ),
    ),
    "本次总加组配置数量n",
)
F15: Layout = counted(
    "groups",
    (
        Field("group", BIN1, "有功总电能量差动组序号"),
        Field("compared", BIN1, "对比的总加组序号"),
        Field("reference", BIN1, "参照的总加组序号"),
        Field(
            "method",
            BitFields(1, (("span", 0, 2), ("absolute", 7, 1))),
            "电能量的时间跨度 (D1..D0) 及对比方法标志 (D7 1 绝对对比)",
        ),
        Field("relative_percent", BIN1, "差动越限相对偏差值 (%)"),
        Field("absolute", A3, "差动越限绝对偏差值 (kWh)"),
    ),
    "本次有功总电能量差动组配置数量n",
)
F16: Layout = (
    Field("user", AsciiFormat(32, b"\x00"), "虚拟专网用户名"),
    Field("password", AsciiFormat(32, b"\x00"), "虚拟专网密码"),
)

# --- 组3 (p0): control and tariffs ---------------------------------------------------------------------------------

F17: Layout = (Field("limit", A2, "保安定值 (kW)"),)
F18: Layout = (Field("periods", BitCodes(12), "终端功控时段: 48 half hours from 0:00, 0 不控制 1 控制1 2 控制2"),)
F19: Layout = (Field("coefficient", A4, "时段功控定值浮动系数"),)
F20: Layout = (Field("coefficient", A4, "月电能量控定值浮动系数"),)
F21: Layout = (
    Repeat("tariffs", 48, (Field("tariff", BIN1, "时段费率号 (0:00～0:30 … 23:30～0:00)"),)),
    Field("tariff_count", BIN1, "费率数"),
)
F22: Layout = (Count("m", 1, "费率数M"), Repeat("rates", "m", (Field("rate", A3, "费率 (厘/元)"),)))
F23: Layout = (Field("hours", HOURS, "催费告警允许∕禁止标志位"),)

# --- 组4 (pn = 测量点号) --------------------------------------------------------------------------------------------

F25: Layout = (
    Field("pt_ratio", BIN2, "电压互感器倍率"),
    Field("ct_ratio", BIN2, "电流互感器倍率"),
    Field("rated_voltage", A7, "额定电压 (V)"),
    Field("rated_current", A22, "额定电流 (A)"),
    Field("rated_load", A23, "额定负荷 (kVA)"),
    Field(
        "wiring",
        BitFields(1, (("connection", 0, 2), ("phase", 2, 2))),
        "电源接线方式: D1..D0 1 三相三线 2 三相四线 3 单相; D3..D2 单相表相别 1 A 2 B 3 C",
    ),
)


def _limit(name: str, fmt: Format, title: str) -> Layout:
    """越限判别参数: limit, 越限持续时间 (min), 越限恢复系数 (%)."""
    return (
        Field(name, fmt, title),
        Field(f"{name}_min", BIN1, "越限持续时间 (min)"),
        Field(f"{name}_recovery", A5, "越限恢复系数 (%)"),
    )


F26: Layout = (
    Field("u_upper", A7, "电压合格上限 (V)"),
    Field("u_lower", A7, "电压合格下限 (V)"),
    Field("u_break", A7, "电压断相门限 (V)"),
    *_limit("u_over", A7, "电压上上限 (过压门限, V)"),
    *_limit("u_under", A7, "电压下下限 (欠压门限, V)"),
    *_limit("i_over", A25, "相电流上上限 (过流门限, A)"),
    *_limit("i_rated", A25, "相电流上限 (额定电流门限, A)"),
    *_limit("i_zero", A25, "零序电流上限 (A)"),
    *_limit("s_over", A23, "视在功率上上限 (kVA)"),
    *_limit("s_upper", A23, "视在功率上限 (kVA)"),
    *_limit("u_unbalance", A5, "三相电压不平衡限值 (%)"),
    *_limit("i_unbalance", A5, "三相电流不平衡限值 (%)"),
    Field("u_loss_min", BIN1, "连续失压时间限值 (min)"),
)
F27: Layout = tuple(
    Field(f"{quantity}_{phase}", A26, f"{phase.upper()}相{title}")
    for phase in ("a", "b", "c")
    for quantity, title in (("r", "电阻R (Ω)"), ("x", "电抗X (Ω)"), ("g", "电导G (S)"), ("b", "电纳B (S)"))
)
F28: Layout = (
    Field("pf_limit_1", A5, "功率因数分段限值1 (%)"),
    Field("pf_limit_2", A5, "功率因数分段限值2 (%)"),
)
F29: Layout = (Field("display_number", AsciiFormat(12), "终端当地电能表显示号"),)
F30: Layout = (Field("stopped", BIN1, "台区集中抄表停抄/投抄设置 (0 投抄, 1 停抄)"),)
F31: Layout = counted("addresses", (Field("address", A12, "附属节点地址"),), "载波从节点附属节点地址个数n")

# --- 组5 (p0): meter reading, data configuration -------------------------------------------------------------------

F33: Layout = counted(
    "ports",
    (
        Field("port", BIN1, "终端通信端口号"),
        Field("control", BIN2, "台区集中抄表运行控制字 (BS16)"),
        Field("read_days", BitSet(4), "抄表日-日期 (D0..D30 = 1..31日)"),
        Field("read_time", A19, "抄表日-时间"),
        Field("interval_min", BIN1, "抄表间隔时间 (min)"),
        Field("broadcast_sync", A18, "对电表广播校时定时时间"),
        Count("m", 1, "允许抄表时段数m"),
        Repeat(
            "windows",
            "m",
            (Field("start", A19, "允许抄表时段开始时间"), Field("end", A19, "允许抄表时段结束时间")),
        ),
    ),
    "本次设置的参数块个数n",
)
F34: Layout = counted(
    "ports",
    (
        Field("port", BIN1, "终端通信端口号"),
        Field("control", BIN1, "与终端接口端的通信控制字 (as AFN10 F1)"),
        Field("baud", BIN4, "与终端接口对应端的通信速率 (bps)"),
    ),
    "本次设置的参数块个数n",
)
F35: Layout = counted("meters", (Field("index", BIN2, "重点户的电能表/交流采样装置序号"),), "台区集中抄表重点户个数n")
F36: Layout = (Field("monthly_limit", BIN4, "月通信流量门限 (byte, 0 = 不控制)"),)
F37: Layout = (
    Field("port", BIN1, "终端级联通信端口号"),
    Field("control", BIN1, "终端级联通信控制字"),
    Field("frame_timeout", BIN1, "接收等待报文超时时间"),
    Field("byte_timeout", BIN1, "接收等待字节超时时间 (×10 ms)"),
    Field("retries", BIN1, "级联方（主动站）接收失败重发次数"),
    Field("poll_min", BIN1, "级联巡测周期 (min)"),
    *counted(
        "terminals",
        (Field("a1", RawFormat(2), "终端行政区划码 (BCD)"), Field("a2", BIN2, "终端地址")),
        "级联/被级联的终端个数n",
    ),
)
#: F38/F39 (1类/2类数据配置设置): 用户大类号, then per 用户小类号 the supported Fn as 信息类组 bit strings.
DATA_CONFIG: Layout = (
    Field("major", BIN1, "本次设置所对应的用户大类号"),
    Count("m", 1, "本次设置的组数m"),
    Repeat(
        "minors",
        "m",
        (
            Field("minor", BIN1, "用户小类号"),
            *counted("groups", (Field("fns", ROUNDS, "信息类元标志位 (D0..D7 = 组内第1～8个Fn)"),), "信息类组数n"),
        ),
    ),
)
DATA_CONFIG_QUERY: Layout = (
    Field("major", BIN1, "本次查询的用户大类号"),
    *counted("minors", (Field("minor", BIN1, "用户小类号"),), "本次查询数量n"),
)

# --- 组6 (pn = 总加组号) / 组7 (pn = 控制轮次): power and energy control ----------------------------------------------

F41: Layout = (
    Count("schemes", 1, "方案标志 (D0..D2 = 第1～3套定值)", bitmap=True),
    Repeat(
        "scheme_limits",
        "schemes",
        (
            Count("periods", 1, "时段号 (D0..D7 = 第1～8时段)", bitmap=True),
            Repeat("limits", "periods", (Field("limit", A2, "时段功控定值 (kW)"),)),
        ),
    ),
)
F42: Layout = (
    Field("limit", A2, "厂休控定值 (kW)"),
    Field("start", A19, "限电起始时间"),
    Field("duration", BIN1, "限电延续时间 (×0.5 h)"),
    Field("weekdays", BitSet(1, first=0), "每周限电日 (D1..D7 = 星期一…星期日)"),
)
F43: Layout = (Field("slide_min", BIN1, "功率控制的功率计算滑差时间 (min)"),)
F44: Layout = (
    Field("start", A20, "报停起始时间"),
    Field("end", A20, "报停结束时间"),
    Field("limit", A2, "报停控功率定值 (kW)"),
)
F45: Layout = (Field("rounds", ROUNDS, "功控轮次标志位"),)
F46: Layout = (Field("limit", A3, "月电量控定值 (kWh)"),)
F46_2013: Layout = (*F46, Field("alarm_percent", BIN1, "报警门限值系数 (%)"))
F47: Layout = (
    Field("order", BIN4, "购电单号"),
    Field("mode", BIN1, "追加/刷新标志 (55H 追加, AAH 刷新)"),
    Field("amount", A3, "购电量（费）值"),
    Field("alarm", A3, "报警门限值"),
    Field("trip", A3, "跳闸门限值"),
)
F48: Layout = (Field("rounds", ROUNDS, "电控轮次标志位"),)
F49: Layout = (Field("alarm_min", BIN1, "功控告警时间 (min)"),)

# --- 组8: alarms, thresholds, harmonics, DC analog ----------------------------------------------------------------

F57: Layout = (Field("hours", HOURS, "终端声音告警允许∕禁止标志位"),)
F58: Layout = (Field("no_comm_hours", BIN1, "终端自动保电: 允许与主站连续无通信时间 (h, 0 = 不自动保电)"),)
F59: Layout = (
    Field("over_tolerance", A22, "电能量超差阈值"),
    Field("flying", A22, "电能表飞走阈值"),
    Field("stopped", BIN1, "电能表停走阈值 (×15 min)"),
    Field("clock_tolerance_min", BIN1, "电能表校时阈值 (min)"),
)
F59_2013: Layout = (*F59[:3], Field("clock_tolerance_s", BIN2, "电能表校时阈值 (s)"))
_EVEN, _ODD = range(2, 20, 2), range(3, 21, 2)
F60: Layout = (
    Field("u_total", A5, "总畸变电压含有率上限 (%)"),
    Field("u_odd", A5, "奇次谐波电压含有率上限 (%)"),
    Field("u_even", A5, "偶次谐波电压含有率上限 (%)"),
    *(Field(f"u_{n}", A5, f"{n}次谐波电压含有率上限 (%)") for n in (*_EVEN, *_ODD)),
    Field("i_total", A6, "总畸变电流有效值上限 (A)"),
    *(Field(f"i_{n}", A6, f"{n}次谐波电流有效值上限 (A)") for n in (*_EVEN, *_ODD)),
)
F61: Layout = (Field("ports", ROUNDS, "直流模拟量接入标志位 (第1～8路)"),)

# --- 组9 (pn = 任务号): timed report tasks --------------------------------------------------------------------------

REPORT_PERIOD = BitFields(1, (("value", 0, 6), ("unit", 6, 2)))
REPORT_TASK: Layout = (
    Field("period", REPORT_PERIOD, "定时上报周期 (D5..D0) 及单位 (D7..D6 0 分 1 时 2 日 3 月)"),
    Field("base_time", A1, "上报基准时间"),
    Field("ratio", BIN1, "曲线数据抽取倍率R"),
    *counted("units", (Field("unit", DADT, "数据单元标识"),), "数据单元标识个数n"),
)
TASK_SWITCH: Layout = (Field("action", BIN1, "启动/停止标志 (55H 启动, AAH 停止)"),)

# --- 组10 (pn = 测量点号): capacitors; 组11 (pn = 直流模拟量端口号) --------------------------------------------------

F73: Layout = (
    Repeat(
        "capacitors",
        16,
        (Field("mode", BIN1, "补偿方式 (BS8)"), Field("capacity", A2, "电容装见容量 (kvar)")),
    ),
)
F74: Layout = (
    Field("target_pf", A5, "目标功率因数 (%)"),
    Field("switch_on_kvar", A23, "投入无功功率门限 (kvar)"),
    Field("switch_off_kvar", A23, "切除无功功率门限 (kvar)"),
    Field("delay_s", BIN1, "延时时间 (s)"),
    Field("interval_min", BIN1, "动作时间间隔 (min)"),
)
F75: Layout = (
    Field("u_over", A7, "过电压 (V)"),
    Field("u_over_hysteresis", A7, "过电压回差值 (V)"),
    Field("u_under", A7, "欠电压 (V)"),
    Field("u_under_hysteresis", A7, "欠电压回差值 (V)"),
    Field("i_thd", A5, "总畸变电流含有率上限 (%)"),
    Field("i_thd_hysteresis", A5, "总畸变电流含有率越限回差值 (%)"),
    Field("u_thd", A5, "总畸变电压含有率上限 (%)"),
    Field("u_thd_hysteresis", A5, "总畸变电压含有率越限回差值 (%)"),
)
F76: Layout = (Field("mode", BIN1, "电容器投切控制方式"),)
F81: Layout = (
    Field("start", A2, "直流模拟量量程起始值"),
    Field("end", A2, "直流模拟量量程终止值"),
)
F82: Layout = (
    Field("upper", A2, "直流模拟量上限"),
    Field("lower", A2, "直流模拟量下限"),
)
F83: Layout = (Field("density", BIN1, "直流模拟量冻结密度 (附录C)"),)

#: Fn → (the standard's name, body layout) for AFN04 set and AFN0A reply.
PARAMETERS: dict[int, tuple[str, Layout]] = {
    1: ("终端上行通信口通信参数设置", F1),
    2: ("终端上行通信口无线中继转发设置", F2),
    3: ("主站IP地址和端口", F3),
    4: ("主站电话号码和短信中心号码", F4),
    5: ("终端上行通信消息认证参数设置", F5),
    6: ("终端组地址设置", F6),
    7: ("终端IP地址和端口", F7),
    8: ("终端上行通信工作方式（以太专网或虚拟专网）", F8),
    9: ("终端事件记录配置设置", F9),
    10: ("终端电能表/交流采样装置配置参数", F10),
    11: ("终端脉冲配置参数", F11),
    12: ("终端状态量输入参数", F12),
    13: ("终端电压/电流模拟量配置参数", F13),
    14: ("终端总加组配置参数", F14),
    15: ("有功总电能量差动越限事件参数设置", F15),
    16: ("虚拟专网用户名、密码", F16),
    17: ("终端保安定值", F17),
    18: ("终端功控时段", F18),
    19: ("终端时段功控定值浮动系数", F19),
    20: ("终端月电能量控定值浮动系数", F20),
    21: ("终端电能量费率时段和费率数", F21),
    22: ("终端电能量费率", F22),
    23: ("终端催费告警参数", F23),
    25: ("测量点基本参数", F25),
    26: ("测量点限值参数", F26),
    27: ("测量点铜损、铁损参数", F27),
    28: ("测量点功率因数分段限值", F28),
    29: ("终端当地电能表显示号", F29),
    30: ("台区集中抄表停抄/投抄设置", F30),
    31: ("载波从节点附属节点地址", F31),
    33: ("终端抄表运行参数设置", F33),
    34: ("集中器下行通信模块的参数设置", F34),
    35: ("台区集中抄表重点户设置", F35),
    36: ("终端上行通信流量门限设置", F36),
    37: ("终端级联通信参数", F37),
    38: ("1类数据配置设置（在终端支持的1类数据配置内）", DATA_CONFIG),
    39: ("2类数据配置设置（在终端支持的2类数据配置内）", DATA_CONFIG),
    41: ("时段功控定值", F41),
    42: ("厂休功控参数", F42),
    43: ("功率控制的功率计算滑差时间", F43),
    44: ("营业报停控参数", F44),
    45: ("功控轮次设定", F45),
    46: ("月电量控定值", F46),
    47: ("购电量（费）控参数", F47),
    48: ("电控轮次设定", F48),
    49: ("功控告警时间", F49),
    57: ("终端声音告警允许∕禁止设置", F57),
    58: ("终端自动保电参数", F58),
    59: ("电能表异常判别阈值设定", F59),
    60: ("谐波限值", F60),
    61: ("直流模拟量接入参数", F61),
    65: ("定时上报1类数据任务设置", REPORT_TASK),
    66: ("定时上报2类数据任务设置", REPORT_TASK),
    67: ("定时上报1类数据任务启动/停止设置", TASK_SWITCH),
    68: ("定时上报2类数据任务启动/停止设置", TASK_SWITCH),
    73: ("电容器参数", F73),
    74: ("电容器投切运行参数", F74),
    75: ("电容器保护参数", F75),
    76: ("电容器投切控制方式", F76),
    81: ("直流模拟量输入变比", F81),
    82: ("直流模拟量限值", F82),
    83: ("直流模拟量冻结参数", F83),
}


def _ids(title: str) -> Layout:
    """An AFN0A query naming the objects asked for: n + n × number (BIN 1)."""
    return counted("ids", (Field("id", BIN1, title),), "本次查询数量n")


#: AFN0A Fn whose query (downlink) carries a body.
QUERIES: dict[int, Layout] = {
    10: F10_QUERY,
    11: _ids("脉冲输入端口号"),
    13: _ids("电压/电流模拟量输入端口号"),
    14: _ids("总加组序号"),
    15: _ids("有功总电能量差动组序号"),
    33: _ids("终端通信端口号"),
    34: _ids("终端通信端口号"),
    38: DATA_CONFIG_QUERY,
    39: DATA_CONFIG_QUERY,
}

#: Q/GDW 1376.1-2013 bodies that differ from 2009 (see the module docstring).
PARAMETERS_2013: dict[int, Layout] = {46: F46_2013, 59: F59_2013}

for _fn, (_name, _layout) in PARAMETERS.items():
    _codec = from_layout(_name, _layout)
    register(Afn.SET_PARAM, _fn, (Dir.DOWN,), _codec)
    register(Afn.QUERY_PARAM, _fn, (Dir.UP,), _codec)
    _query = QUERIES.get(_fn)
    register(Afn.QUERY_PARAM, _fn, (Dir.DOWN,), no_body(_name) if _query is None else from_layout(_name, _query))
for _fn, _layout in PARAMETERS_2013.items():
    _codec = from_layout(PARAMETERS[_fn][0], _layout)
    register(Afn.SET_PARAM, _fn, (Dir.DOWN,), _codec, edition="2013")
    register(Afn.QUERY_PARAM, _fn, (Dir.UP,), _codec, edition="2013")
