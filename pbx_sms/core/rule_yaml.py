"""YAML of rule files, read safely (pure): PyYAML's SafeLoader with three changes, for :mod:`pbx_sms.core.rulefile`.

- An impossible date (2026-02-30) stays text, for validation to report with its line, instead of raising
  out of the whole document.
- Aliases (``*name``) are refused: a few hundred bytes of nested aliases expand to billions of nodes (the
  "billion laughs"), and rule files do not need them.
- Nesting deeper than ``MAX_DEPTH`` is refused: PyYAML builds nodes recursively, so a deep enough document
  would exhaust the stack.
"""

from __future__ import annotations

from typing import Any, cast

import yaml
from yaml.composer import ComposerError
from yaml.error import Mark
from yaml.events import AliasEvent, Event
from yaml.nodes import Node, ScalarNode

# Rule files nest 8 levels at most (rules → rule → when → schedule → hours → window → from); PyYAML builds
# nodes recursively, so a deeper document is refused before it can exhaust the stack.
MAX_DEPTH = 20


class _Loader(yaml.SafeLoader):
    """SafeLoader with the changes the module describes."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event: Event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
        if isinstance(event, AliasEvent):
            raise _refused(f"aliases (*{event.anchor}) are not allowed in rule files: write the value out", event)
        if self._depth >= MAX_DEPTH:
            raise _refused(f"nested deeper than {MAX_DEPTH} levels", event)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_timestamp(self, node: ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


def _refused(problem: str, event: Event) -> ComposerError:
    return ComposerError(None, None, problem, cast(Mark, event.start_mark))


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def compose_and_construct(text: str) -> tuple[Node | None, Any]:
    """The node tree (for lines) and the Python data of one YAML document; raises yaml.YAMLError."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        return root, loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
