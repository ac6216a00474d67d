"""Refresh the panel screenshots shown in the README: `.venv/bin/python docs/screenshots/refresh.py`.

Runs the browser tests on SQLite with PBX_SMS_SCREENSHOTS pointing here; a plain test run writes its
screenshots to a temporary folder instead, so CI leaves the checkout unmodified.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main() -> int:
    environment = {**os.environ, "PBX_SMS_SCREENSHOTS": str(HERE)}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/browser", "-k", "sqlite"]
    return subprocess.run(command, cwd=ROOT, env=environment, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
