"""Reading systemd unit files in tests (deploy/*.service, *.timer)."""

from __future__ import annotations

import re


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """systemd unit → {section: [(key, value), ...]} (keys may repeat); rejects lines it cannot read."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            assert line.endswith("]"), f"line {number}: bad section header {line!r}"
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        assert current is not None, f"line {number}: {line!r} outside any section"
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Za-z]+", key.strip()), f"line {number}: expected Key=value"
        sections[current].append((key.strip(), value.strip()))
    return sections


def single(section: list[tuple[str, str]], key: str) -> str:
    values = [value for name, value in section if name == key]
    assert len(values) == 1, f"{key}: expected once, found {values}"
    return values[0]
