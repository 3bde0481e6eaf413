"""``borderpath agent check`` on this router: secrets, CA files, interfaces, the default
config path and --json, through the real command. (The file's own mistakes are the table
of test_config.py; the kernel's rules and routes are test_check_lab.py.)"""

import importlib.metadata
import json
import os
import subprocess
from pathlib import Path

import pytest

from borderpath.lab.agent_config import borderpath_argv
from borderpath.probes.tls import self_signed
from tests.agent.test_config import GOOD, agent_check

HERE = GOOD.replace('"eth1"', '"lo"').replace('"eth2"', '"lo"')
"""A config whose interfaces this machine has."""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_a_good_config_is_ok_here(tmp_path: Path) -> None:
    path = write(tmp_path, HERE)
    done = agent_check(path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"{path}: ok (the file and this router: 2 uplinks, 2 PoPs)\n"


def test_json_lists_every_mistake_with_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)  # neither eth1 nor eth2 is here
    done = agent_check(path, "--json")
    assert done.returncode == 2
    missing = "this router has no interface named '{}' (see 'ip link')"
    assert json.loads(done.stdout) == {
        "file": str(path),
        "ok": False,
        "mistakes": [
            {
                "file": str(path),
                "line": 7,
                "key": "uplinks[0].interface",
                "message": missing.format("eth1"),
            },
            {
                "file": str(path),
                "line": 13,
                "key": "uplinks[1].interface",
                "message": missing.format("eth2"),
            },
        ],
    }


SECRET = "s3cret-token-never-printed"


def influx(key: str, value: str) -> str:
    return HERE + f'[storage.influxdb]\n{key} = "{value}"\n'


def header(source: str) -> str:
    hook = '[[alerts.webhooks]]\nurl = "http://127.0.0.1:9/"\n'
    return HERE + hook + f"headers = {{ Authorization = {{ {source} }} }}\n"


def ca_file(value: Path) -> str:
    return HERE.replace('region = "HK"', f'region = "HK"\ntls_ca_file = "{value}"')


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            "token_file_missing",
            ":28: storage.influxdb.token_file: cannot read {dir}/nowhere "
            "(No such file or directory)",
        ),
        ("token_file_empty", ":28: storage.influxdb.token_file: the token in {dir}/empty is empty"),
        ("token_file_binary", ":28: storage.influxdb.token_file: {dir}/binary is not a text file"),
        (
            "token_env_unset",
            ":28: storage.influxdb.token_env: the environment variable BP_CHECK_UNSET is not set",
        ),
        (
            "token_env_empty",
            ":28: storage.influxdb.token_env: the token in BP_CHECK_EMPTY is empty",
        ),
        (
            "password_file_missing",
            ":30: storage.influxdb.password_file: cannot read {dir}/nowhere "
            "(No such file or directory)",
        ),
        (
            "ca_file_missing",
            ":19: pops[0].tls_ca_file: cannot read {dir}/nowhere (No such file or directory)",
        ),
        (
            "header_env_unset",
            ":29: alerts.webhooks[0].headers.Authorization: the environment variable "
            "BP_CHECK_UNSET is not set",
        ),
        (
            "header_file_missing",
            ":29: alerts.webhooks[0].headers.Authorization: cannot read {dir}/nowhere "
            "(No such file or directory)",
        ),
        (
            "header_file_binary",
            ":29: alerts.webhooks[0].headers.Authorization: {dir}/binary is not a text file",
        ),
        (
            "header_env_empty",
            ":29: alerts.webhooks[0].headers.Authorization: the value in BP_CHECK_EMPTY is empty",
        ),
        ("ca_file_not_pem", ":19: pops[0].tls_ca_file: {dir}/binary holds no PEM certificate"),
        ("data_dir_under_a_file", ":2: agent.data_dir: {dir}/empty is not a directory"),
        ("socket_in_no_directory", ":28: status.listen: no directory {dir}/nowhere"),
        ("ca_file_a_directory", ":19: pops[0].tls_ca_file: {dir} is not a regular file"),
    ],
)
def test_secrets_and_ca_files_are_checked_and_never_shown(
    tmp_path: Path, case: str, message: str
) -> None:
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "binary").write_bytes(b"\xff\xfe" + SECRET.encode())
    texts = {
        "token_file_missing": influx("token_file", f"{tmp_path}/nowhere"),
        "token_file_empty": influx("token_file", f"{tmp_path}/empty"),
        "token_file_binary": influx("token_file", f"{tmp_path}/binary"),
        "token_env_unset": influx("token_env", "BP_CHECK_UNSET"),
        "token_env_empty": influx("token_env", "BP_CHECK_EMPTY"),
        "password_file_missing": influx("api", "v1")
        + f'username = "u"\npassword_file = "{tmp_path}/nowhere"\n',
        "header_env_unset": header('env = "BP_CHECK_UNSET"'),
        "header_env_empty": header('env = "BP_CHECK_EMPTY"'),
        "header_file_missing": header(f'file = "{tmp_path}/nowhere"'),
        "header_file_binary": header(f'file = "{tmp_path}/binary"'),
        "ca_file_missing": ca_file(tmp_path / "nowhere"),
        "ca_file_not_pem": ca_file(tmp_path / "binary"),
        "ca_file_a_directory": ca_file(tmp_path),
        "data_dir_under_a_file": HERE.replace(
            "[agent]\n", f'[agent]\ndata_dir = "{tmp_path}/empty/data"\n'
        ),
        "socket_in_no_directory": HERE + f'[status]\nlisten = "{tmp_path}/nowhere/status.sock"\n',
    }
    path = write(tmp_path, texts[case])
    environment = {**os.environ, "BP_CHECK_EMPTY": " "}
    environment.pop("BP_CHECK_UNSET", None)
    argv = borderpath_argv("agent", "check", "--config", str(path))
    done = subprocess.run(
        argv, capture_output=True, text=True, env=environment, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stderr == f"borderpath: {path}{message.format(dir=tmp_path)}\n"
    assert SECRET not in done.stdout + done.stderr


def test_readable_secrets_and_a_pem_ca_pass(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(SECRET)
    (tmp_path / "ca.pem").write_bytes(self_signed("hkg")[0])
    path = write(
        tmp_path,
        ca_file(tmp_path / "ca.pem") + f'[storage.influxdb]\ntoken_file = "{tmp_path}/token"\n',
    )
    done = agent_check(path)
    assert (done.returncode, done.stderr) == (0, "")
    assert SECRET not in done.stdout


def run_cli(*arguments: str, config_variable: str | None) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ)
    environment.pop("BORDERPATH_CONFIG", None)
    if config_variable is not None:
        environment["BORDERPATH_CONFIG"] = config_variable
    argv = borderpath_argv(*arguments)
    return subprocess.run(
        argv, capture_output=True, text=True, env=environment, timeout=60, check=False
    )


def test_the_config_is_the_option_else_the_variable_else_etc(tmp_path: Path) -> None:
    given, variable = tmp_path / "given.toml", tmp_path / "variable.toml"
    by_variable = run_cli("agent", "check", "--file-only", config_variable=str(variable))
    assert (
        by_variable.stderr
        == f"borderpath: {variable}: cannot read the file (No such file or directory)\n"
    )
    by_option = run_cli(
        "agent", "check", "--file-only", "--config", str(given), config_variable=str(variable)
    )
    assert (
        by_option.stderr
        == f"borderpath: {given}: cannot read the file (No such file or directory)\n"
    )
    by_default = run_cli("query", "events", config_variable=None)
    assert by_default.stderr.startswith("borderpath: /etc/borderpath/agent.toml")
    assert by_variable.returncode == by_option.returncode == 2


def test_version_is_the_installed_one() -> None:
    done = run_cli("--version", config_variable=None)
    assert done.stdout == f"borderpath {importlib.metadata.version('borderpath')}\n"
    assert done.returncode == 0
