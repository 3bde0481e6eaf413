"""Whatever the file holds, ``agent check`` says one line or ok: never a traceback.

Every key of every section gets every awkward value TOML can write; then random bytes
and random text. In-process, any exception but a Mistake is the traceback the command
would print; a few of the same files go through the real command as well."""

import random
import typing
from collections.abc import Iterator
from pathlib import Path

import pydantic
from hypothesis import given
from hypothesis import strategies as st

from borderpath.agent.config import AgentConfig
from borderpath.agent.configdoc import _model_of
from borderpath.agent.preflight import check
from tests.agent.test_config import GOOD, agent_check

AWKWARD = [
    "inf", "-inf", "nan", "1e300", "-1e300", "9" * 400, "-" + "9" * 30, "0", "-1", "0.5",
    '""', '"\\u0000"', '"é\\u202e"', '"' + "x" * 5000 + '"', '"1e300s"', '"99999999999d"',
    '"443"', '"true"', "true", "1979-05-27T07:32:00Z", "07:32:00", "[]", "[[]]", "{}",
    "{ a = 1 }", "[" * 60 + "]" * 60, '["/", "\\u0000"]', '"/dev/zero"', '"/proc/self/mem"',
]  # fmt: skip
"""Values of every TOML type, at and beyond the bounds, and paths no file should be."""

ENTRIES = {
    "uplinks": "[[uplinks]]\n",
    "pops": "[[pops]]\n",
    "alerts.webhooks": '[[alerts.webhooks]]\nurl = "http://127.0.0.1:9/"\n',
}
"""Arrays of tables: the awkward key goes into an entry of its own (after GOOD's)."""


def keys(model: type[pydantic.BaseModel], path: str = "") -> Iterator[tuple[str, str]]:
    """(section, key) for every key of the config, sections as TOML writes them."""
    for key, field in model.model_fields.items():
        inner, _ = _model_of(field.annotation)
        if inner is None or typing.get_origin(field.annotation) is dict:
            yield path, key
        else:
            yield from keys(inner, f"{path}.{key}" if path else key)


def with_value(section: str, key: str, value: str) -> str:
    if section in ENTRIES:
        return GOOD + ENTRIES[section] + f"{key} = {value}\n"
    if section == "agent":
        return GOOD.replace("[agent]\n", f"[agent]\n{key} = {value}\n").replace(
            'site = "sha-01"\n', "" if key == "site" else 'site = "sha-01"\n'
        )
    return GOOD + f"[{section}]\n{key} = {value}\n" if section else f"{key} = {value}\n" + GOOD


def test_every_key_with_every_awkward_value_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    tried = 0
    for section, key in keys(AgentConfig):
        for value in AWKWARD:
            path.write_text(with_value(section, key, value))
            config, mistakes = check(path)  # raises on anything but a Mistake
            assert config is not None or len(mistakes) == 1
            assert all("\n" not in str(mistake) for mistake in mistakes)
            tried += 1
    assert tried > 3000


@given(st.binary(max_size=3000))
def test_random_bytes_are_one_line(data: bytes) -> None:
    path = Path("/tmp") / f"borderpath-check-fuzz-{random.getrandbits(64):x}.toml"
    try:
        path.write_bytes(data)
        config, mistakes = check(path, here=False)
    finally:
        path.unlink()
    assert config is not None or len(mistakes) == 1


@given(st.text(max_size=500))
def test_random_text_after_a_good_config_is_one_line(text: str) -> None:
    path = Path("/tmp") / f"borderpath-check-fuzz-{random.getrandbits(64):x}.toml"
    try:
        path.write_text(GOOD + text, encoding="utf-8", errors="surrogatepass")
        check(path, here=False)
    finally:
        path.unlink()


def test_the_command_prints_no_traceback_for_garbage(tmp_path: Path) -> None:
    noise = random.Random(14)
    files = {
        "random": bytes(noise.getrandbits(8) for _ in range(4096)),
        "deep_arrays": b"a = " + b"[" * 5000 + b"]" * 5000,
        "deep_tables": b"a = " + b"{b = " * 5000 + b"1" + b"}" * 5000,
        "deep_headers": b"\n".join(b"[" + b".".join([b"a"] * n) + b"]" for n in range(1, 3000)),
        "nul": GOOD.encode().replace(b"sha-01", b"sha\x0001"),
        "utf16": GOOD.encode("utf-16"),
    }
    for name, data in files.items():
        path = tmp_path / f"{name}.toml"
        path.write_bytes(data)
        done = agent_check(path, "--file-only")
        assert "Traceback" not in done.stderr, name
        assert done.returncode == 2 and done.stderr.count("\n") == 1, (name, done.stderr)
