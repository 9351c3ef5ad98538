"""AFN09 请求终端配置及信息 (Q/GDW 376.1-2009 §5.10; PROTOCOLS.md A.9): p0; the request is the identifier only, the
terminal's reply (uplink) carries the body.

- F1 终端版本信息, 41 bytes: 厂商代号 (ASCII 4), 设备编号 (ASCII 8), 终端软件版本号 (ASCII 4), 终端软件发布日期
  (附录A.20), 终端配置容量信息码 (ASCII 11), 终端通信协议.版本号 (ASCII 4), 终端硬件版本号 (ASCII 4), 终端硬件发布日期
  (A.20).
- F2 终端支持的输入、输出及通信端口配置: 脉冲量输入路数, 开关量输入路数, 直流模拟量输入路数, 开关量输出路数 (轮次)
  (BIN 1 each), 支持的抄电能表/交流采样装置最多个数, 上行通信最大接收/发送缓存区字节数 (BIN 2 each), MAC 地址 (6),
  通信端口数量 n, n × {端口号及信息字 (BS16: D4..D0 端口号, D6..D5 接口及通道类型, D7 非标准异步串行口, D15..D8 用途
  — kept as the whole second byte: the header puts the 用途 code in D15..D13, TmnlHUB reads the whole byte
  [verify]), 最高波特率 (BIN 4, bps), 设备个数 (BIN 2), 最大接收/发送缓存区字节数 (BIN 2 each)} — 12 bytes each.
- F3 终端支持的其他配置: 17 bytes of capacities (测量点 BIN 2 first, 支持的最大费率数 included), 支持的用户大类号标志
  BS16, then 支持的用户小类号个数 for each of the 16 大类 (0 where not supported) — 35 bytes.
- F4 终端支持的参数配置 / F5 终端支持的控制配置: 信息类组数 n + n × 信息类元标志位 (BS8; group k holds F8k+1…F8k+8).
- F6 终端支持的1类数据配置 / F7 终端支持的2类数据配置: 支持的用户大类号标志 BS16, then per set bit 信息类组数 n +
  n × BS8.
- F8 终端支持的事件记录配置: BS64, D0..D63 = ERC1..ERC64.

Checked against ``xiangruipuzhao/3761`` ``qgdw_3761_api.h`` (sMtAfn09F1_f … sMtAfn09F8_f: F1 and F2 field by field;
its F3 struct lacks 最大费率数 but has the fixed 16-byte 小类号 table, "对应的支持用户小类号个数应为0" for unsupported
classes; its F6/F7 struct has a 1-byte class flag), against ``baiej214/TmnlHUB`` ``protocol/698.js`` (``hex_json``
AFN9: F2 17-byte head and 12-byte ports, F3 17 + 2 + 16 bytes with 费率数 at offset 5, F4/F5 n + n groups, F6/F7
a BS16 then n + n blocks, F8 ERC1..ERC64) and against public terminal firmware that builds these replies (F2: the
MAC at offset 10; F6/F7: one n + n block per set bit of the BS16). One firmware sends only one 小类号个数 per set
bit in F3; the fixed table of 16 (two sources and the standard's "应为0" wording) is followed. The 2013 edition's
F2/F3 additions are not covered [verify].
"""

from __future__ import annotations

from protocols.gdw376.formats import A20, BIN1, BIN2, BIN4, AsciiFormat, BitFields, BitSet, RawFormat
from protocols.gdw376.layout import Count, Field, Layout, Repeat
from protocols.gdw376.link import Afn, Dir
from protocols.gdw376.units.afn04 import counted
from protocols.gdw376.units.registry import from_layout, no_body, register

F1: Layout = (
    Field("vendor", AsciiFormat(4), "厂商代号"),
    Field("device", AsciiFormat(8), "设备编号"),
    Field("software", AsciiFormat(4), "终端软件版本号"),
    Field("software_date", A20, "终端软件发布日期"),
    Field("capacity", AsciiFormat(11), "终端配置容量信息码"),
    Field("protocol", AsciiFormat(4), "终端通信协议.版本号"),
    Field("hardware", AsciiFormat(4), "终端硬件版本号"),
    Field("hardware_date", A20, "终端硬件发布日期"),
)
PORT_WORD = BitFields(2, (("port", 0, 5), ("channel", 5, 2), ("nonstandard", 7, 1), ("use", 8, 8)))
F2: Layout = (
    Field("pulse_inputs", BIN1, "脉冲量输入路数"),
    Field("switch_inputs", BIN1, "开关量输入路数"),
    Field("dc_inputs", BIN1, "直流模拟量输入路数"),
    Field("switch_outputs", BIN1, "开关量输出路数（轮次）"),
    Field("max_meters", BIN2, "支持的抄电能表/交流采样装置最多个数"),
    Field("rx_buffer", BIN2, "支持的终端上行通信最大接收缓存区字节数"),
    Field("tx_buffer", BIN2, "支持的终端上行通信最大发送缓存区字节数"),
    Field("mac", RawFormat(6), "终端MAC地址"),
    Count("n", 1, "通信端口数量n"),
    Repeat(
        "ports",
        "n",
        (
            Field("word", PORT_WORD, "端口号及信息字 (channel 0 RS485 1 RS232 2 窄带载波; use 0 专变/公变抄表 …)"),
            Field("max_baud", BIN4, "最高波特率 (bps)"),
            Field("devices", BIN2, "端口上支持的设备个数"),
            Field("rx_buffer", BIN2, "最大接收缓存区字节数"),
            Field("tx_buffer", BIN2, "最大发送缓存区字节数"),
        ),
    ),
)
F3: Layout = (
    Field("points", BIN2, "支持的测量点最多点数"),
    Field("groups", BIN1, "支持的总加组最多组数"),
    Field("tasks", BIN1, "支持的任务最多个数"),
    Field("differentials", BIN1, "支持的有功总电能量差动组最多组数"),
    Field("tariffs", BIN1, "支持的最大费率数"),
    Field("point_density", BIN1, "支持的测量点数据最大冻结密度 (附录C)"),
    Field("p_density", BIN1, "支持的总加组有功功率数据最大冻结密度"),
    Field("q_density", BIN1, "支持的总加组无功功率数据最大冻结密度"),
    Field("ep_density", BIN1, "支持的总加组有功电能量数据最大冻结密度"),
    Field("eq_density", BIN1, "支持的总加组无功电能量数据最大冻结密度"),
    Field("days", BIN1, "支持的日数据最多存放天数"),
    Field("months", BIN1, "支持的月数据最多存放月数"),
    Field("power_schemes", BIN1, "支持的时段功控定值方案最多个数"),
    Field("harmonics", BIN1, "支持的谐波检测最高谐波次数"),
    Field("capacitors", BIN1, "支持的无功补偿电容器组最多组数"),
    Field("key_users", BIN1, "支持的台区集中抄表重点户最多户数"),
    Field("user_classes", BitSet(2, first=0), "支持的用户大类号标志 (D0..D15 = 第0～15号大类)"),
    Repeat("minor_counts", 16, (Field("minors", BIN1, "支持第0～15号用户大类下的用户小类号个数"),)),
)
#: F4/F5: supported Fn as 信息类组 bit strings, group k (from 0) holding F8k+1 … F8k+8.
FN_FLAGS = Field("fns", BitSet(1, first=1), "信息类元标志位 (组内第1～8个Fn)")
SUPPORTED: Layout = counted("groups", (FN_FLAGS,), "支持的信息类组数n")
#: F6/F7: per supported 用户大类号, the supported Fn as in :data:`SUPPORTED`.
SUPPORTED_BY_CLASS: Layout = (
    Count("user_classes", 2, "支持的用户大类号标志 (D0..D15 = 第0～15号大类)", bitmap=True),
    Repeat("classes", "user_classes", SUPPORTED),
)
F8: Layout = (Field("ercs", BitSet(8, first=1), "支持的事件记录标志位 (ERC1..ERC64)"),)

#: Fn → (the standard's name, reply layout).
CONFIGURATION: dict[int, tuple[str, Layout]] = {
    1: ("终端版本信息", F1),
    2: ("终端支持的输入、输出及通信端口配置", F2),
    3: ("终端支持的其他配置", F3),
    4: ("终端支持的参数配置", SUPPORTED),
    5: ("终端支持的控制配置", SUPPORTED),
    6: ("终端支持的1类数据配置", SUPPORTED_BY_CLASS),
    7: ("终端支持的2类数据配置", SUPPORTED_BY_CLASS),
    8: ("终端支持的事件记录配置", F8),
}
for _fn, (_name, _layout) in CONFIGURATION.items():
    register(Afn.REQUEST_CONFIG, _fn, (Dir.DOWN,), no_body(_name))
    register(Afn.REQUEST_CONFIG, _fn, (Dir.UP,), from_layout(_name, _layout))
