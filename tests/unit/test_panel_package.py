"""The panel's templates, static files and catalogs are package data: a plain `pip install .` ships them.

(Checked once by hand with `pip wheel . --no-deps` and `unzip -l`; this keeps the globs in step with the files.)
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pbx_sms"


def test_every_panel_file_is_matched_by_a_package_data_glob() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["pbx_sms"]
    shipped = {path for pattern in patterns for path in PACKAGE.glob(pattern)}
    panel_files = {
        path
        for folder in ("templates", "static", "locale")
        for path in (PACKAGE / "web" / folder).rglob("*")
        if path.is_file()
    }
    assert len(panel_files) >= 8
    assert sorted(map(str, panel_files - shipped)) == []
