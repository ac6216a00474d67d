"""The code base stays ruff-clean, mypy --strict clean and layered, so CI catches what an editor missed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from paths import ROOT

TARGETS = ["pbx_sms", "tests", "bench", "agi-bin"]
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), cwd=ROOT, capture_output=True, text=True, timeout=300)


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    targets = [target for target in TARGETS if (ROOT / target).exists()]
    return run(sys.executable, "-m", "ruff", *args, *targets)


def test_ruff_check_is_clean() -> None:
    result = ruff("check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = ruff("format", "--check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    # The configuration (strict, the packages, the few untyped imports) is [tool.mypy] in pyproject.toml.
    result = run(sys.executable, "-m", "mypy", "--no-incremental")
    assert result.returncode == 0, result.stdout + result.stderr


def test_packages_depend_one_way() -> None:
    # The layers are the contract in [tool.importlinter] of pyproject.toml; lint-imports sees imports in functions too.
    result = run(str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "pbx_sms").rglob("*.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}, f"split these along their seams: {long}"
