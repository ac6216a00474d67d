"""deploy/: the systemd unit, the env file and the hook's settings example are valid and safe."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from paths import ROOT
from systemd_units import parse_unit, single

from pbx_sms.config import Settings, is_secret_key, load_settings

UNIT = ROOT / "deploy" / "pbx-sms.service"
ENV_EXAMPLE = ROOT / "deploy" / "pbx-sms.env.example"
AGI_CONFIG = ROOT / "deploy" / "agi.toml.example"
INSTALL_GUIDE = ROOT / "README.md"
INSTALLED_CLI = "/opt/pbx-sms/bin/pbx-sms"


def test_unit_runs_the_daemon_unprivileged_restarting_with_secrets_from_the_env_file() -> None:
    unit = parse_unit(UNIT.read_text())
    service = unit["Service"]
    assert single(service, "User") == "pbx-sms"
    assert single(service, "Group") == "pbx-sms"
    assert single(service, "Restart") == "on-failure"
    assert single(service, "EnvironmentFile") == "/etc/pbx-sms/pbx-sms.env"
    assert single(service, "ExecStart") == f"{INSTALLED_CLI} run"
    assert single(service, "ExecStartPre") == f"{INSTALLED_CLI} db upgrade"
    assert single(service, "NoNewPrivileges") == "yes"
    assert single(service, "StateDirectory") == "pbx-sms"
    assert single(service, "UMask") == "0007"  # the AGI hook (group pbx-sms) writes the SQLite call log
    assert single(unit["Install"], "WantedBy") == "multi-user.target"
    # No setting, let alone a secret, in the unit itself: only in the 0600 env file.
    assert not [value for key, value in service if key == "Environment"]
    assert "PBX_SMS_" not in UNIT.read_text().replace("/etc/pbx-sms/", "")


def test_unit_passes_systemd_analyze_verify_when_available(tmp_path: Path) -> None:
    """systemd's own checker, with the install path pointed at this venv's CLI (it must exist)."""
    text = UNIT.read_text().replace(INSTALLED_CLI, str(Path(sys.executable).parent / "pbx-sms"))
    parse_unit(text)
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return  # not installed here: the parser test above is the check
    good = tmp_path / "pbx-sms.service"
    good.write_text(text)
    result = subprocess.run([analyze, "verify", "--man=no", str(good)], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    # verify reports a typo on stderr (exit status 0): make sure this check would see one.
    broken = tmp_path / "broken.service"
    broken.write_text(text.replace("Restart=on-failure", "Restart=sometimes"))
    result = subprocess.run([analyze, "verify", "--man=no", str(broken)], capture_output=True, text=True, timeout=60)
    assert "sometimes" in result.stderr


def env_example() -> dict[str, str]:
    values = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"PBX_SMS_[A-Z0-9_]+", name), f"{ENV_EXAMPLE.name}:{number}: {line!r}"
        values[name] = value
    return values


def test_env_example_loads_and_holds_only_placeholder_secrets() -> None:
    env = env_example()
    settings = load_settings(None, env)
    assert settings.database_url == "sqlite:////var/lib/pbx-sms/pbx-sms.db"
    assert settings.ami.username == Settings().ami.username
    for name, value in env.items():
        if is_secret_key(name):
            assert value.startswith("CHANGE-ME"), f"{name} must be a placeholder"
    # Commented-out gateway settings are spelled as the gateways expect them.
    commented = re.findall(r"^# (PBX_SMS_[A-Z_]+)=", ENV_EXAMPLE.read_text(), re.MULTILINE)
    assert "PBX_SMS_AMI_SEND_USERNAME" in commented and "PBX_SMS_AMI_SEND_SECRET" in commented


def test_agi_config_example_gives_the_hook_what_it_needs_and_no_secret() -> None:
    settings = load_settings(AGI_CONFIG, {})
    assert settings.database_url == env_example()["PBX_SMS_DATABASE_URL"]
    assert settings.country == "PL"
    assert not [key for key in settings.gateway_settings if is_secret_key(key)]
    assert settings.ami.secret.get_secret_value() == ""


def test_install_guide_covers_install_verify_upgrade_and_uninstall() -> None:
    readme = INSTALL_GUIDE.read_text()
    guide = readme[readme.index("## Installing into Asterisk") : readme.index("## Why these libraries")]
    for step in (
        "python3 -m venv /opt/pbx-sms",
        "/opt/pbx-sms/bin/pip install",
        "useradd",
        "install -m 0600 -o pbx-sms -g pbx-sms",
        '#include "manager_pbx_sms.conf"',
        'asterisk -rx "manager reload"',
        '#include "extensions_pbx_sms.conf"',
        'asterisk -rx "dialplan reload"',
        "systemctl enable --now pbx-sms",
        "pbx-sms status",
        "pip install -U",
        "pbx-sms db upgrade",
        "systemctl disable --now pbx-sms",
        "setinterfacevar",
        "membergosub = pbxsms-answered",
    ):
        assert step in guide, f"the README install section does not show {step!r}"
    # Every repository file the guide tells the operator to copy exists.
    for path in re.findall(r"\b((?:deploy|asterisk-conf|agi-bin)/[A-Za-z0-9_.-]+)", guide):
        assert (ROOT / path).is_file(), f"the README names {path}, which does not exist"
