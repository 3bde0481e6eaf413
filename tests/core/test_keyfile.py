"""The UDP echo key file: read at config load, one clear line when it is wrong."""

import secrets
from pathlib import Path

import pytest

from borderpath.agent.config import load_config
from borderpath.core.errors import ConfigError
from borderpath.core.keyfile import read_key
from borderpath.core.topology import PopConfig


def test_a_key_file_holds_16_to_32_bytes_of_hex(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    path = tmp_path / "hkg.key"
    path.write_text(key.hex() + "\n", encoding="ascii")
    assert read_key(path) == key
    assert PopConfig(name="hkg", address="198.18.0.1", key_file=path).key_file == path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read {key} (No such file or directory)"),
        ("ab" * 15, "the key file {key} holds 15 bytes; a key is 16 to 32 bytes"),
        ("ab" * 33, "the key file {key} holds 33 bytes"),
        ("not hex at all", "the key file {key} must hold hex digits only"),
        ("\xff\xfe", "cannot read the key file {key}: not hex digits"),
    ],
)
def test_a_bad_key_file_is_one_line_naming_key_and_file(
    tmp_path: Path, content: str | None, message: str
) -> None:
    key = tmp_path / "hkg.key"
    if content is not None:
        key.write_bytes(content.encode("latin-1"))
    config = tmp_path / "agent.toml"
    config.write_text(
        '[agent]\nsite = "s"\n\n[[uplinks]]\nname = "ct"\ncarrier = "ct"\ninterface = "eth0"\n'
        'gateway = "198.18.0.1"\n\n[[pops]]\nname = "hkg"\naddress = "198.51.100.1"\n'
        f'key_file = "{key}"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    text = str(raised.value)
    assert text.startswith(f"{config}:13: pops[0].key_file: {message.format(key=key)}")
    assert "\n" not in text
    if content is not None and content.isascii():
        assert content not in text  # the key never shows
