"""The code base stays ruff-clean (lint and format), so CI catches what an editor missed."""

from __future__ import annotations

import subprocess
import sys

from paths import ROOT

TARGETS = ["pbx_sms", "tests", "bench", "agi-bin"]


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    targets = [target for target in TARGETS if (ROOT / target).exists()]
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, *targets], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_ruff_check_is_clean() -> None:
    result = ruff("check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = ruff("format", "--check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
