"""Configuration: defaults, precedence, and errors that name the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from headend.config import load_config, parse_points
from headend.errors import ConfigError

EXAMPLE = Path(__file__).parents[2] / "config" / "headend.example.toml"


def test_example_config_is_valid_and_matches_defaults() -> None:
    from_file = load_config(EXAMPLE, environ={})
    defaults = load_config(None, environ={})
    assert from_file == defaults


def test_errors_name_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '# comment\n[server]\nport = 70000\n\n[collection]\npoints = "0-5"\nintervall_s = 3\n'
        'timezone = "Mars/Olympus"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    problems = {(p.line, p.key) for p in info.value.problems}
    assert problems == {
        (3, "server.port"),
        (6, "collection.points"),
        (7, "collection.intervall_s"),
        (8, "collection.timezone"),
    }
    text = str(info.value)
    assert f"{path}:3: server.port:" in text
    assert f"{path}:7: collection.intervall_s: unknown key" in text
    assert "Mars/Olympus" in text


def test_unknown_section_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[srever]\nport = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert [(p.line, p.key, p.message) for p in info.value.problems] == [(1, "srever", "unknown key")]


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[server]\nport = = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert info.value.problems[0].line == 2
    assert "not valid TOML" in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml", environ={})


def test_precedence_flags_over_environment_over_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[storage]\ndsn = "from-file"\n[server]\nport = 1000\n')
    assert load_config(path, environ={}).storage.dsn == "from-file"
    env = {"HEADEND_STORAGE__DSN": "from-env", "HEADEND_SERVER__PORT": "2000"}
    config = load_config(path, environ=env)
    assert (config.storage.dsn, config.server.port) == ("from-env", 2000)
    config = load_config(path, environ=env, overrides={"server": {"port": 3000}})
    assert config.server.port == 3000


def test_environment_errors_name_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, environ={"HEADEND_SERVER__PORT": "ninety"})
    assert str(info.value.problems[0]).startswith("environment HEADEND_SERVER__PORT: server.port:")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("1", (1,)), ("1-3", (1, 2, 3)), ("3, 1-2", (1, 2, 3)), ("1-2,2-3", (1, 2, 3)), ("2040", (2040,))],
)
def test_parse_points(spec: str, expected: tuple[int, ...]) -> None:
    assert parse_points(spec) == expected


@pytest.mark.parametrize("spec", ["", "0", "5-1", "1-2041", "a", "1-", "1--3"])
def test_parse_points_rejects(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_points(spec)
