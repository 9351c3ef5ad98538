"""[[direct.*]] configuration: the example file, defaults, and errors that name the line inside arrays of tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from headend.config import load_config
from headend.errors import ConfigError

EXAMPLE = Path(__file__).parents[3] / "config" / "direct-meters.example.toml"


def test_example_is_valid() -> None:
    config = load_config(EXAMPLE, environ={})
    serial, tcp, modem = config.direct.serial[0], config.direct.tcp[0], config.direct.modem[0]
    assert (serial.port, serial.baud, serial.parity, len(serial.meters)) == ("/dev/ttyUSB0", 2400, "E", 2)
    assert serial.meters[1].edition == "auto"
    assert (tcp.host, tcp.port, tcp.dis) == ("192.0.2.10", 4001, ["00010000", "00020000"])
    assert (modem.number, modem.call_windows, modem.meters[0].edition) == ("02012345678", ["01:00-05:00"], "1997")


def test_no_direct_channels_by_default() -> None:
    direct = load_config(None, environ={}).direct
    assert (direct.serial, direct.tcp, direct.modem) == ([], [], [])


def test_errors_in_arrays_of_tables_name_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        "[server]\n"  # 1
        "port = 9001\n"  # 2
        "\n"  # 3
        "[[direct.serial]]\n"  # 4
        'port = "/dev/ttyUSB0"\n'  # 5
        "\n"  # 6
        "[[direct.serial]]\n"  # 7
        'port = "/dev/ttyUSB1"\n'  # 8
        "baud = 2401\n"  # 9
        'meters = [{address = "12345"}]\n'  # 10
        "[[direct.modem]]\n"  # 11
        'port = "/dev/ttyS0"\n'  # 12
        'number = "12a"\n'  # 13
        'call_windows = ["25:00-01:00"]\n'  # 14
        "parity = 'X'\n",  # 15
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert {(p.line, p.key) for p in info.value.problems} == {
        (9, "direct.serial.1.baud"),
        (10, "direct.serial.1.meters.0.address"),
        (13, "direct.modem.0.number"),
        (14, "direct.modem.0.call_windows"),
        (15, "direct.modem.0.parity"),
    }
    assert f"{path}:10: direct.serial.1.meters.0.address: Value error, meter address '12345'" in str(info.value)


@pytest.mark.parametrize("di", ["0001FF0", "XYZ10000", "901"])
def test_dis_must_be_hex_of_an_edition(tmp_path: Path, di: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[[direct.tcp]]\nhost = "h"\nport = 1\ndis = ["{di}"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c.toml:4: direct.tcp.0.dis"):
        load_config(path, environ={})
