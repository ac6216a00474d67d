"""YAML rule files: parse with every problem located (file, line, field), and dump deterministically.

A file is rejected whole when anything in it is wrong; :class:`RuleFileInvalid` carries all the
problems found, not just the first.  YAML syntax errors stop the parser, so a file with one gets
that one error only.  Lines come from the YAML node tree (``yaml.compose``), so each pydantic error
points at the line of the key or list item it is about.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pbx_sms.core.rule_yaml import compose_and_construct
from pbx_sms.core.rules import (
    DUPLICATE_RULE_NAME,
    TEXT_TOO_LONG,
    DateRange,
    HourWindow,
    Rule,
    RuleFile,
    Schedule,
    TalkBounds,
    Then,
    When,
    error_location,
    rule_file_to_document,
)
from pbx_sms.core.text_size import text_size

# Which model a key leads to, for naming the keys allowed where an unknown one was found.
_CHILD_MODELS: dict[tuple[type[BaseModel], str], type[BaseModel]] = {
    (RuleFile, "rules"): Rule,
    (Rule, "when"): When,
    (Rule, "then"): Then,
    (When, "talk_s"): TalkBounds,
    (When, "schedule"): Schedule,
    (Schedule, "dates"): DateRange,
    (Schedule, "hours"): HourWindow,
}
# Error types whose message already says what was given; others get ", got <input>".
_SELF_DESCRIBING = frozenset(
    {
        "quote_string",
        "e164",
        "sender_id",
        "recipient",
        "clock_unquoted",
        "clock",
        "duplicate",
        "numbers",
        "talk_bounds",
        "dates_order",
        "template",
        "text_empty",
        "name_empty",
        "name_chars",
        "missing",
        "extra_forbidden",
        "model_type",
        "model_attributes_type",
        "dict_type",
        "list_type",
        TEXT_TOO_LONG,
        "text_chars",
        "nul_char",
    }
)


@dataclass(frozen=True, slots=True)
class RuleFileError:
    """One problem in a rule file. ``line`` is 1-based (None when not tied to a line)."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class RuleFileInvalid(Exception):
    """A rule file that cannot be used; ``errors`` lists every problem found, in line order."""

    def __init__(self, errors: list[RuleFileError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(error) for error in errors))


@dataclass(frozen=True, slots=True)
class CheckedRuleFile:
    """A valid rule file, and what in it is allowed but worth a look (a text of more than WARN_PARTS parts)."""

    rule_file: RuleFile
    warnings: list[RuleFileError]


def load_rule_file(path: str | Path) -> RuleFile:
    """Read and validate one rule file; raises RuleFileInvalid (also when it cannot be read)."""
    return check_rule_file(path).rule_file


def check_rule_file(path: str | Path) -> CheckedRuleFile:
    """Like load_rule_file, with the warnings."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RuleFileInvalid([RuleFileError(source, None, "", f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise RuleFileInvalid([RuleFileError(source, None, "", f"cannot read the file: {exc.strerror}")]) from None
    except ValueError:  # a NUL in the path: no file can have that name
        raise RuleFileInvalid([RuleFileError(source, None, "", "cannot read the file: no such file")]) from None
    return _checked(text, source)


def parse_rule_text(text: str, source: str = "<rules>") -> RuleFile:
    """Validate rule-file text; ``source`` names it in errors."""
    return _checked(text, source).rule_file


def _checked(text: str, source: str) -> CheckedRuleFile:
    root, data = _compose_and_construct(text, source)
    if root is None:
        raise RuleFileInvalid([RuleFileError(source, 1, "", "the file is empty: expected keys account and rules")])
    if not isinstance(root, MappingNode):
        raise RuleFileInvalid(
            [RuleFileError(source, _line(root), "", "expected a mapping with the keys account and rules")]
        )
    errors = list(_duplicate_keys(root, source))
    errors.extend(_duplicate_rule_names(root, data, source))
    try:
        rule_file = RuleFile.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            if error["type"] == DUPLICATE_RULE_NAME:
                continue  # reported above, with the line of each repeated name
            errors.append(_locate(root, error, source))
    else:
        if not errors:
            return CheckedRuleFile(rule_file, list(_size_warnings(root, rule_file, source)))
    errors.sort(key=lambda error: (error.line or 0, error.field))
    raise RuleFileInvalid(errors)


def check_rule_document(data: Any, source: str = "<document>") -> Rule:
    """Validate one rule given as data (a JSON body) with the checks and messages of a rule file; each
    error's ``field`` is a path within the rule (``when.status[0]``; "" for the whole rule), no line."""
    try:
        rule_file = RuleFile.model_validate({"rules": [data]})
    except ValidationError as exc:
        errors = []
        for error in exc.errors(include_url=False):
            loc = error_location(error)[2:]  # ("rules", 0, ...): the rule's own path follows
            errors.append(RuleFileError(source, None, _data_path(data, loc), _message(error)))
        raise RuleFileInvalid(errors) from None
    return rule_file.rules[0]


def _data_path(data: Any, loc: tuple[Any, ...]) -> str:
    """A pydantic error location within ``data`` as a field path, without union tags (numbers: "list")."""
    path = ""
    for segment in loc:
        if isinstance(segment, int):
            data = data[segment] if isinstance(data, list) and 0 <= segment < len(data) else None
            path += f"[{segment}]"
        elif data is None or isinstance(data, dict):
            data = data.get(segment) if isinstance(data, dict) else None
            path = f"{path}.{segment}" if path else segment
    return path


def _compose_and_construct(text: str, source: str) -> tuple[Node | None, Any]:
    try:
        root, data = compose_and_construct(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise RuleFileInvalid([RuleFileError(source, line, "", f"invalid YAML: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise RuleFileInvalid([RuleFileError(source, None, "", f"invalid YAML: {exc}")]) from None
    return root, data


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _key_text(node: Node) -> str | None:
    return node.value if isinstance(node, ScalarNode) else None


def _duplicate_keys(node: Node, source: str, path: str = "") -> Iterator[RuleFileError]:
    """PyYAML keeps the last of two equal keys silently; a rule file must not say two things."""
    if isinstance(node, MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = _key_text(key_node)
            child_path = f"{path}.{key}" if path else str(key)
            if key is not None:
                if key in seen:
                    yield RuleFileError(
                        source, _line(key_node), child_path, f"duplicate key (already given on line {seen[key]})"
                    )
                else:
                    seen[key] = _line(key_node)
            yield from _duplicate_keys(value_node, source, child_path)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, source, f"{path}[{index}]")


def _mapping_value(node: Node, key: str) -> tuple[Node, Node] | None:
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if _key_text(key_node) == key:
                return key_node, value_node
    return None


def _duplicate_rule_names(root: MappingNode, data: Any, source: str) -> Iterator[RuleFileError]:
    found = _mapping_value(root, "rules")
    if found is None or not isinstance(found[1], SequenceNode) or not isinstance(data.get("rules"), list):
        return
    first_index: dict[str, int] = {}
    for index, (item_node, item) in enumerate(zip(found[1].value, data["rules"], strict=False)):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        if name in first_index:
            name_node = _mapping_value(item_node, "name")
            line = _line(name_node[0]) if name_node else _line(item_node)
            yield RuleFileError(
                source,
                line,
                f"rules[{index}].name",
                f"duplicate rule name {name!r} (also rules[{first_index[name]}]); names must be unique in a file",
            )
        else:
            first_index[name] = index


def _size_warnings(root: Node, rule_file: RuleFile, source: str) -> Iterator[RuleFileError]:
    for index, rule in enumerate(rule_file.rules):
        warning = text_size(rule.then.text, rule.name, rule.then.transliterate).warning()
        if warning is not None:
            line, path = _follow(root, ("rules", index, "then", "text"))
            yield RuleFileError(source, line, path, f"warning: {warning}")


def _locate(root: Node, error: Any, source: str) -> RuleFileError:
    line, path = _follow(root, error_location(error))
    return RuleFileError(source, line, path, _message(error))


def _follow(root: Node, loc: tuple[Any, ...]) -> tuple[int, str]:
    """Follow a pydantic error location through the YAML nodes to a line and a field path."""
    node: Node | None = root
    line = _line(root)
    path = ""
    for segment in loc:
        if isinstance(segment, int):
            if isinstance(node, SequenceNode) and 0 <= segment < len(node.value):
                node = node.value[segment]
                line = _line(node)
            else:
                node = None
            path += f"[{segment}]"
            continue
        if node is not None and not isinstance(node, MappingNode):
            continue  # a union tag (numbers: "list"/"all"), not a key
        found = _mapping_value(node, segment) if node is not None else None
        if found is not None:
            line = _line(found[0])
            node = found[1]
        else:
            node = None  # a missing key: keep the line of the mapping that lacks it
        path = f"{path}.{segment}" if path else segment
    return line, path


def _model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel]:
    model = root
    for segment in loc:
        if isinstance(segment, str):
            model = _CHILD_MODELS.get((model, segment), model)
    return model


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


_PYDANTIC_PREFIX = re.compile(r"^(Value error|Assertion failed), ")


def _message(error: Any, root: type[BaseModel] = RuleFile) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "missing":
        return "missing required key"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(_model_at(loc[:-1], root))
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key{hint}; allowed here: {', '.join(allowed)}"
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return f"expected a mapping (key: value), got {_describe(error.get('input'))}"
    if kind == "too_short":
        return "must not be empty: list at least one value"
    if kind.startswith("date_"):
        return f"expected a date written YYYY-MM-DD, got {_describe(error.get('input'))}"
    if kind == "list_type":
        return f"expected a list, got {_describe(error.get('input'))}"
    message = _PYDANTIC_PREFIX.sub("", error["msg"]).replace("Input should be", "expected")
    if kind not in _SELF_DESCRIBING and "input" in error:
        message += f", got {_describe(error['input'])}"
    return message


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, date):
        return value.isoformat()
    return repr(value)


class _Quoted(str):
    """A string always written in double quotes (times, so nobody copies an unquoted 18:00)."""


class _Dumper(yaml.SafeDumper):
    def represent_list(self, data: list[Any]) -> yaml.SequenceNode:  # type: ignore[override]
        # Short lists of plain values read best inline: status: [no_answer, busy]
        flow = all(isinstance(item, str | int | date) and "\n" not in str(item) for item in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)

    def represent_str(self, data: str) -> yaml.ScalarNode:
        if "\n" in data:
            return self.represent_scalar("tag:yaml.org,2002:str", data, style="|")
        return super().represent_str(data)

    def represent_quoted(self, data: _Quoted) -> yaml.ScalarNode:
        return self.represent_scalar("tag:yaml.org,2002:str", str(data), style='"')


_Dumper.add_representer(list, _Dumper.represent_list)
_Dumper.add_representer(str, _Dumper.represent_str)
_Dumper.add_representer(_Quoted, _Dumper.represent_quoted)


def dump_rule_file(rule_file: RuleFile) -> str:
    """The file as YAML: same input, same bytes; ``parse_rule_text`` reads it back to an equal RuleFile."""
    document = rule_file_to_document(rule_file)
    for rule in document["rules"]:
        schedule = rule["when"].get("schedule") or {}
        for window in schedule.get("hours", []):
            window["from"] = _Quoted(window["from"])
            window["to"] = _Quoted(window["to"])
    return yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=10_000
    )
