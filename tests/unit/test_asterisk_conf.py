"""Every asterisk-conf/ snippet parses, and what it references exists, so a typo cannot ship.

A small parser of Asterisk's .conf syntax (sections, ``key = value``, ``exten =>``/``same =>``
dialplan lines, ``;`` comments) reports problems with file and line; the checks on top of it
follow Gosub/Goto/hangup handler targets, variables, the AGI argument order and the manager users.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

import pytest
from paths import ROOT

from pbx_sms.config import FastAgiSettings, Settings
from pbx_sms.gateways.ami import STATUS_EVENT, AmiSendSettings, dongle_action, messagesend_action
from pbx_sms.gateways.base import OutgoingSms
from pbx_sms.hangup import AGI_ARGUMENTS, AGI_SCRIPT_NAME, FASTAGI_DEFAULT_URL, FASTAGI_SCRIPT_NAME, dialplan_agi_line

CONF_DIR = ROOT / "asterisk-conf"
DIALPLAN = CONF_DIR / "extensions_pbx_sms.conf"
MANAGER = CONF_DIR / "manager_pbx_sms.conf"
GATEWAYS_DOC = ROOT / "docs" / "gateways.md"
ENV_EXAMPLE = ROOT / "deploy" / "pbx-sms.env.example"

SECTION = re.compile(r"^\[(?P<name>[A-Za-z0-9_.+-]+)\](?:\((?P<options>[^)]*)\))?$")
ASSIGNMENT = re.compile(r"^(?P<key>[A-Za-z0-9_.-]+)\s*(?P<op>=>|=)\s*(?P<value>.*)$")
PRIORITY = re.compile(r"^(?P<priority>\d+|n)(?:\((?P<label>[A-Za-z0-9_-]+)\))?$")
APPLICATION = re.compile(r"^(?P<app>[A-Za-z][A-Za-z0-9_]*)(?:\((?P<args>.*)\))?$", re.DOTALL)
# Variables Asterisk provides: built-ins (CHANNEL, EPOCH), and what Dial(), Queue() and the hangup
# set on the caller's channel by the time a hangup handler runs.
ASTERISK_VARIABLES = frozenset(
    {"CHANNEL", "EPOCH", "DIALSTATUS", "ANSWEREDTIME", "QUEUESTATUS", "MEMBERINTERFACE", "HANGUPCAUSE"}
)
# Read-only functions the snippets may use.
ASTERISK_FUNCTIONS = frozenset({"CHANNEL", "CALLERID", "SHARED"})
# Set by the operator in their own [globals] (documented at the top of the snippet).
OPERATOR_GLOBALS = frozenset({"PBXSMS_AGI", "PBXSMS_AGI_URL"})


class ConfError(ValueError):
    pass


@dataclass
class Entry:
    path: Path
    line: int
    key: str
    op: str
    value: str

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


@dataclass
class Section:
    name: str
    entries: list[Entry] = field(default_factory=list)

    def values(self, key: str) -> list[str]:
        return [entry.value for entry in self.entries if entry.key == key]


def strip_comment(line: str) -> str:
    return re.split(r"(?<!\\);", line, maxsplit=1)[0].strip()


def parse_conf(path: Path, text: str | None = None) -> list[Section]:
    sections: list[Section] = []
    for number, raw in enumerate((text if text is not None else path.read_text()).splitlines(), start=1):
        line = strip_comment(raw)
        if not line or line.startswith("#include") or line.startswith("#exec"):
            continue
        if line.startswith("["):
            match = SECTION.match(line)
            if match is None:
                raise ConfError(f"{path.name}:{number}: bad section header {line!r}")
            sections.append(Section(match["name"]))
            continue
        match = ASSIGNMENT.match(line)
        if match is None:
            raise ConfError(f"{path.name}:{number}: expected 'key = value' or 'key => value', got {line!r}")
        if not sections:
            raise ConfError(f"{path.name}:{number}: {match['key']!r} outside any [section]")
        sections[-1].entries.append(Entry(path, number, match["key"], match["op"], match["value"].strip()))
    return sections


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split on ``separator`` outside (), ${}, $[]."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def check_balanced(text: str, where: str) -> None:
    stack: list[str] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    for char in text:
        if char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            raise ConfError(f"{where}: unbalanced {char!r} in {text!r}")
    if stack:
        raise ConfError(f"{where}: unclosed {stack[-1]!r} in {text!r}")


@dataclass
class Step:
    """One dialplan priority: context, extension, priority number, label, application and arguments."""

    where: str
    context: str
    extension: str
    priority: int
    label: str | None
    app: str
    args: str


def dialplan_steps(sections: list[Section]) -> list[Step]:
    steps: list[Step] = []
    for section in sections:
        extension, priority = None, 0
        for entry in section.entries:
            if entry.key not in ("exten", "same") or entry.op != "=>":
                raise ConfError(f"{entry.where}: expected 'exten =>' or 'same =>' in [{section.name}]")
            check_balanced(entry.value, entry.where)
            fields = split_top_level(entry.value)
            if entry.key == "exten":
                if len(fields) < 3:
                    raise ConfError(f"{entry.where}: expected exten => EXTEN,PRIORITY,App(args)")
                extension, fields = fields[0].strip(), fields[1:]
            elif extension is None:
                raise ConfError(f"{entry.where}: 'same =>' before any 'exten =>' in [{section.name}]")
            if len(fields) < 2:
                raise ConfError(f"{entry.where}: expected PRIORITY,App(args)")
            priority_match = PRIORITY.match(fields[0].strip())
            if priority_match is None:
                raise ConfError(f"{entry.where}: bad priority {fields[0]!r}")
            if priority_match["priority"] == "n":
                priority += 1
            else:
                priority = int(priority_match["priority"])
                if entry.key == "exten" and priority != 1:
                    raise ConfError(f"{entry.where}: an extension starts at priority 1")
            app_match = APPLICATION.match(",".join(fields[1:]).strip())
            if app_match is None:
                raise ConfError(f"{entry.where}: bad application {fields[1]!r}")
            steps.append(
                Step(
                    entry.where,
                    section.name,
                    extension,
                    priority,
                    priority_match["label"],
                    app_match["app"],
                    app_match["args"] or "",
                )
            )
    return steps


def check_targets(steps: list[Step]) -> None:
    """Every Gosub/Goto/GotoIf/hangup handler target exists (context, extension, label or priority)."""
    extensions = {(step.context, step.extension) for step in steps}
    labels = {(step.context, step.extension, step.label) for step in steps if step.label}
    for step in steps:
        targets: list[str] = []
        if step.app in ("Gosub", "Goto"):
            targets.append(step.args)
        elif step.app == "GotoIf":
            _condition, _, branches = step.args.partition("?")
            targets.extend(branch for branch in branches.split(":") if branch)
        elif step.app == "Set" and step.args.startswith("CHANNEL(hangup_handler_push)="):
            targets.append(step.args.split("=", 1)[1])
        for target in targets:
            parts = split_top_level(re.sub(r"\(.*\)$", "", target.strip()))
            if len(parts) == 1:
                if (step.context, step.extension, parts[0]) not in labels:
                    raise ConfError(f"{step.where}: no label {parts[0]!r} in [{step.context}] {step.extension}")
            elif len(parts) == 3:
                if (parts[0], parts[1]) not in extensions:
                    raise ConfError(f"{step.where}: {step.app} to [{parts[0]}] {parts[1]}, which does not exist")
            else:
                raise ConfError(f"{step.where}: cannot read target {target!r}")


def variables_read(text: str) -> set[str]:
    """Names inside ${...}: plain variables, and FUNCTION( for function calls."""
    names = set()
    for match in re.finditer(r"\$\{([A-Za-z0-9_]+)(\(?)", text):
        names.add(match[1] + match[2])
    return names


def variables_set(steps: list[Step]) -> tuple[set[str], set[str]]:
    """(channel variables, SHARED variables) the dialplan sets."""
    plain, shared = set(), set()
    for step in steps:
        if step.app != "Set":
            continue
        target = step.args.split("=", 1)[0]
        shared_match = re.match(r"SHARED\(([A-Za-z0-9_]+)", target)
        if shared_match:
            shared.add(shared_match[1])
        elif re.fullmatch(r"_{0,2}[A-Za-z0-9_]+", target):
            plain.add(target.lstrip("_"))
    return plain, shared


def check_variables(steps: list[Step]) -> None:
    plain, shared = variables_set(steps)
    for step in steps:
        for name in variables_read(step.args):
            if name.endswith("("):
                function = name[:-1]
                if function not in ASTERISK_FUNCTIONS:
                    raise ConfError(f"{step.where}: unknown function {function}()")
                continue
            if re.fullmatch(r"ARG\d", name) or name in ASTERISK_VARIABLES or name in OPERATOR_GLOBALS:
                continue
            if name not in plain:
                raise ConfError(f"{step.where}: ${{{name}}} is read but never set")
    for match in re.finditer(r"SHARED\(([A-Za-z0-9_]+)\)", " ".join(step.args for step in steps)):
        if match[1] not in shared:
            raise ConfError(f"SHARED({match[1]}) is read but never set")


# --- every file --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(CONF_DIR.iterdir()), ids=lambda path: path.name)
def test_every_snippet_parses(path: Path) -> None:
    sections = parse_conf(path)
    assert sections, f"{path.name}: no [section]"
    if path.name.startswith("extensions"):
        assert dialplan_steps(sections)


# --- the dialplan -------------------------------------------------------------------------------------


def test_dialplan_targets_exist_and_variables_are_set() -> None:
    steps = dialplan_steps(parse_conf(DIALPLAN))
    check_targets(steps)
    check_variables(steps)
    contexts = {step.context for step in steps}
    assert {"pbxsms-tag-in", "pbxsms-tag-out", "pbxsms-hangup", "pbxsms-answered"} <= contexts
    assert all(context.startswith("pbxsms-") for context in contexts)  # nothing of the operator's touched


def test_every_subroutine_returns() -> None:
    steps = dialplan_steps(parse_conf(DIALPLAN))
    for context in {step.context for step in steps}:
        last = max((step for step in steps if step.context == context), key=lambda step: step.priority)
        assert last.app == "Return", f"[{context}] must end with Return() (it runs as a Gosub)"


def test_agi_lines_pass_the_arguments_in_the_order_the_hook_parses() -> None:
    steps = dialplan_steps(parse_conf(DIALPLAN))
    agis = [step for step in steps if step.app == "AGI"]
    assert {step.context for step in agis} == {"pbxsms-hangup"}
    targets = []
    for agi in agis:
        target, *arguments = split_top_level(agi.args)
        assert f"AGI({agi.args})" == dialplan_agi_line(target)
        assert arguments == [argument.dialplan for argument in AGI_ARGUMENTS]
        assert arguments[-1] == "${PBXSMS_OTHER}"  # the free-text one last: commas in it are rejoined
        targets.append(target)
    assert sorted(targets) == sorted([FASTAGI_DEFAULT_URL, "${PBXSMS_AGI_URL}", AGI_SCRIPT_NAME])
    # The hook is not signalled away from its work.
    first = min(agis, key=lambda step: step.priority)
    before = [step for step in steps if step.context == "pbxsms-hangup" and step.priority < first.priority]
    assert any(step.app == "Set" and step.args == "AGISIGHUP=no" for step in before)


def test_the_default_fastagi_url_is_where_the_daemon_listens_by_default() -> None:
    defaults = FastAgiSettings()
    assert f"agi://{defaults.host}:{defaults.port}/{FASTAGI_SCRIPT_NAME}" == FASTAGI_DEFAULT_URL


# A small dialplan walker for the pbx-sms contexts: Set, GotoIf with "${VAR}" = / != "text" clauses
# joined by &, Set(CHANNEL(hangup_handler_push)=...), AGI() and Return().
CLAUSE = re.compile(r'^"\$\{(?P<var>[A-Z_]+)\}" (?P<op>!?=) "(?P<text>[^"]*)"$')


def condition_holds(condition: str, variables: dict[str, str]) -> bool:
    inner = condition.strip().removeprefix("$[").removesuffix("]")
    results = []
    for clause in inner.split(" & "):
        match = CLAUSE.match(clause.strip())
        assert match is not None, f"the walker cannot read {clause!r}"
        equal = variables.get(match["var"], "") == match["text"]
        results.append(equal if match["op"] == "=" else not equal)
    return all(results)


def run_context(steps: list[Step], context: str, variables: dict[str, str]) -> list[Step]:
    """The steps run from priority 1 of ``context`` until Return()."""
    own = sorted((step for step in steps if step.context == context), key=lambda step: step.priority)
    labels = {step.label: index for index, step in enumerate(own) if step.label}
    ran, index = [], 0
    while own[index].app != "Return":
        step = own[index]
        ran.append(step)
        if step.app == "GotoIf":
            condition, _, target = step.args.partition("?")
            if condition_holds(condition, variables):
                index = labels[target]
                continue
        elif step.app == "Set" and not step.args.startswith(("CHANNEL(", "SHARED(")):
            name, _, value = step.args.partition("=")
            variables[name.lstrip("_")] = value
        index += 1
    return ran


@pytest.mark.parametrize(
    ("globals_", "expected"),
    [
        ({}, None),
        ({"PBXSMS_AGI": "no"}, None),
        ({"PBXSMS_AGI": "yes"}, FASTAGI_DEFAULT_URL),
        ({"PBXSMS_AGI": "yes", "PBXSMS_AGI_URL": "agi://192.0.2.10:4573/pbx-sms-hangup/s3cr3t"}, "${PBXSMS_AGI_URL}"),
        ({"PBXSMS_AGI": "script"}, AGI_SCRIPT_NAME),
        ({"PBXSMS_AGI": "script", "PBXSMS_AGI_URL": "agi://192.0.2.10:4573/pbx-sms-hangup"}, AGI_SCRIPT_NAME),
    ],
)
def test_the_pbxsms_agi_global_chooses_fastagi_or_the_spawned_script(
    globals_: dict[str, str], expected: str | None
) -> None:
    steps = dialplan_steps(parse_conf(DIALPLAN))
    tagged = run_context(steps, "pbxsms-tag-common", dict(globals_))
    pushed = any(step.args.startswith("CHANNEL(hangup_handler_push)=pbxsms-hangup") for step in tagged)
    assert pushed == (expected is not None)
    if expected is None:
        return
    ran = run_context(steps, "pbxsms-hangup", dict(globals_))
    [agi] = [step for step in ran if step.app == "AGI"]
    assert split_top_level(agi.args)[0] == expected


def test_the_readme_documents_both_hook_modes() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "PBXSMS_AGI=yes" in readme and "PBXSMS_AGI=script" in readme and "PBXSMS_AGI_URL" in readme
    assert FASTAGI_DEFAULT_URL in readme


def test_tagging_sets_every_variable_the_hook_and_the_listener_read() -> None:
    plain, shared = variables_set(dialplan_steps(parse_conf(DIALPLAN)))
    assert {"PBXSMS_DIRECTION", "PBXSMS_DID", "PBXSMS_OTHER", "PBXSMS_START", "PBXSMS_CALLER"} <= plain
    assert shared == {"PBXSMS_ANSWERED_AT"}
    text = DIALPLAN.read_text()
    for inherited in ("PBXSMS_DIRECTION", "PBXSMS_DID", "PBXSMS_OTHER", "PBXSMS_START", "PBXSMS_CALLER"):
        assert f"Set(__{inherited}=" in text, f"{inherited} must be inherited (double underscore)"


def test_an_already_tagged_call_keeps_its_first_tag() -> None:
    steps = dialplan_steps(parse_conf(DIALPLAN))
    for context in ("pbxsms-tag-in", "pbxsms-tag-out"):
        first = next(step for step in steps if step.context == context and step.priority == 1)
        assert first.app == "GotoIf"
        assert first.args.startswith('$["${PBXSMS_DIRECTION}" != ""]?')


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ("[a]\nexten => s,1,Gosub(nowhere,s,1)\n same => n,Return()\n", "Gosub to [nowhere] s"),
        ("[a]\nexten => s,1,GotoIf($[1]?missing)\n same => n,Return()\n", "no label 'missing'"),
        ("[a]\nexten => s,1,Set(X=${Y})\n same => n,Return()\n", "${Y} is read but never set"),
        ("[a]\nexten => s,1,Set(X=${CUT(Y,-,1)})\n", "unknown function CUT()"),
        ("[a]\nexten => s,1,NoOp(${X)\n", "unbalanced ')'"),
        ("[a]\nexten => s,1,NoOp(${X}\n", "unclosed '('"),
        ("[a]\nexten => s,2,NoOp()\n", "starts at priority 1"),
        ("[a]\n same => n,NoOp()\n", "'same =>' before any 'exten =>'"),
        ("[a]\nexten => s,1,Return()\nnonsense\n", "x.conf:3: expected 'key = value'"),
    ],
)
def test_the_checks_catch_typos(broken: str, message: str) -> None:
    with pytest.raises(ConfError) as caught:
        steps = dialplan_steps(parse_conf(Path("x.conf"), broken))
        check_targets(steps)
        check_variables(steps)
    assert message in str(caught.value)


# --- manager.conf ----------------------------------------------------------------------------------


def manager_users() -> dict[str, Section]:
    return {section.name: section for section in parse_conf(MANAGER)}


def test_listener_user_reads_call_and_cdr_writes_nothing_from_localhost_only() -> None:
    listener = manager_users()[Settings().ami.username]
    [read] = listener.values("read")
    assert {part.strip() for part in read.split(",")} == {"call", "cdr"}
    assert listener.values("write") == [""]
    assert_localhost_only(listener)


# The AMI class each send action is registered in (Asterisk main/message.c: MessageSend under
# EVENT_FLAG_MESSAGE; chan_dongle manager.c: DongleSendSMS under EVENT_FLAG_CALL) and of the events
# each mode waits for (chan_dongle's DongleSMSStatus: EVENT_FLAG_CALL).
ACTION_CLASS = {"DongleSendSMS": "call", "MessageSend": "message"}
EVENT_CLASS = {STATUS_EVENT: "call"}
SMS = OutgoingSms("key-1", "+48601234567", "ACME", "Hello", 1, "GSM-7")


def send_modes() -> tuple[str, ...]:
    return get_args(AmiSendSettings.model_fields["mode"].annotation)


def action_of(mode: str) -> str:
    config = AmiSendSettings(username="u", secret="s", mode=mode, device="dongle0")
    action = dongle_action(SMS, "dongle0") if mode == "dongle" else messagesend_action(SMS, config)
    return action["Action"]


def classes(value: str) -> set[str]:
    return {part.strip() for part in value.split(",") if part.strip()}


def test_one_send_user_per_mode_with_only_the_write_class_of_its_action() -> None:
    users = manager_users()
    assert set(users) == {"pbx-sms"} | {f"pbx-sms-send-{mode}" for mode in send_modes()}
    for mode in send_modes():
        sender = users[f"pbx-sms-send-{mode}"]
        [write] = sender.values("write")
        assert classes(write) == {ACTION_CLASS[action_of(mode)]}, f"[pbx-sms-send-{mode}]"
        assert_localhost_only(sender)
    docs = GATEWAYS_DOC.read_text()
    env = ENV_EXAMPLE.read_text()
    for mode in send_modes():
        assert f"[pbx-sms-send-{mode}]" in docs and f"PBX_SMS_AMI_SEND_USERNAME=pbx-sms-send-{mode}" in docs
    assert "PBX_SMS_AMI_SEND_USERNAME=pbx-sms-send-dongle" in env
    manager_text = MANAGER.read_text()
    assert "PBX_SMS_AMI_SEND_SECRET" in manager_text and "PBX_SMS_AMI_SECRET" in manager_text


def test_messagesend_user_reads_no_event_at_all() -> None:
    sender = manager_users()["pbx-sms-send-messagesend"]
    assert sender.values("read") == [""]  # the gateway waits for no event (it logs in with Events: off)


def test_dongle_user_reads_only_the_status_event_it_waits_for() -> None:
    sender = manager_users()["pbx-sms-send-dongle"]
    [read] = sender.values("read")
    assert classes(read) == {EVENT_CLASS[STATUS_EVENT]}
    [pattern] = sender.values("eventfilter")
    passed = {name for name, event in DONGLE_USER_EVENTS.items() if asterisk_filter_matches(pattern, event)}
    assert passed == {"the status the gateway waits for"}
    # The check would catch an unanchored filter: a caller ID then lets a call event through.
    loose = {
        name for name, event in DONGLE_USER_EVENTS.items() if asterisk_filter_matches("Event: " + STATUS_EVENT, event)
    }
    assert "a caller ID spelling the event" in loose


def asterisk_event(name: str, category: str, **headers: str) -> str:
    """An event as manager.c's __manager_event_sessions builds it, the text a legacy filter is matched on."""
    body = "".join(f"{key}: {value}\r\n" for key, value in headers.items())
    return f"Event: {name}\r\nPrivilege: {category},all\r\nTimestamp: 1700000000.123456\r\n{body}\r\n"


DONGLE_USER_EVENTS = {  # what a user with read = call would otherwise receive
    "the status the gateway waits for": asterisk_event(
        STATUS_EVENT, "call", Device="dongle0", ID="0x7f3a2c001230", Status="Sent"
    ),
    "an incoming SMS, with its sender and text": asterisk_event(
        "DongleNewSMS", "call", Device="dongle0", From="+48601234567", LineCount="1", MessageLine0="secret code 1234"
    ),
    "a USSD status": asterisk_event("DongleUSSDStatus", "call", Device="dongle0", ID="0x1", Status="Sent"),
    "a new call": asterisk_event("Newchannel", "call", Channel="PJSIP/trunk-00000042", CallerIDNum="+48601234567"),
    "a caller ID spelling the event": asterisk_event(
        "Newchannel", "call", Channel="PJSIP/trunk-00000043", CallerIDName=f"Event: {STATUS_EVENT} x"
    ),
    "an event whose name only starts the same": asterisk_event(STATUS_EVENT + "Extra", "call", Device="dongle0"),
    "a hangup": asterisk_event("Hangup", "call", Channel="PJSIP/trunk-00000042", Cause="16"),
}

# glibc <regex.h>
REG_EXTENDED = 1
REG_NOSUB = 8
REGEX_T_BYTES = 256  # sizeof(regex_t) is 64 on x86-64 glibc: room to spare


def asterisk_filter_matches(pattern: str, event: str) -> bool:
    """A legacy eventfilter as Asterisk applies it: POSIX regcomp(REG_EXTENDED | REG_NOSUB) and regexec
    on the whole event (libc's own regex, not Python's: [[:space:]] and anchors mean what they do there)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    compiled = ctypes.create_string_buffer(REGEX_T_BYTES)
    assert libc.regcomp(compiled, pattern.encode(), REG_EXTENDED | REG_NOSUB) == 0, f"bad regex {pattern!r}"
    try:
        return bool(libc.regexec(compiled, event.encode(), 0, None, 0) == 0)
    finally:
        libc.regfree(compiled)


def assert_localhost_only(user: Section) -> None:
    acl = [(entry.key, entry.value) for entry in user.entries if entry.key in ("deny", "permit")]
    # Asterisk applies ACL rules in order, the last match wins: deny all, then allow loopback only.
    assert acl == [("deny", "0.0.0.0/0.0.0.0"), ("permit", "127.0.0.1/255.255.255.255")]
    [secret] = user.values("secret")
    assert secret.startswith("CHANGE-ME")


def test_secrets_and_names_agree_with_the_env_example() -> None:
    listener = manager_users()["pbx-sms"]
    env = dict(line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line and not line.startswith("#"))
    assert env["PBX_SMS_AMI_USERNAME"] == "pbx-sms"
    assert env["PBX_SMS_AMI_SECRET"] == listener.values("secret")[0]


def test_manager_general_settings_the_listener_needs_are_spelled_out() -> None:
    text = MANAGER.read_text()
    assert re.search(r"^;\s+timestampevents = yes", text, re.MULTILINE)
    assert re.search(r"^;\s+channelvars = PBXSMS_DIRECTION,PBXSMS_DID,PBXSMS_OTHER$", text, re.MULTILINE)
    assert re.search(r"^;\s+bindaddr = 127\.0\.0\.1", text, re.MULTILINE)


# --- CDR ---------------------------------------------------------------------------------------------


def test_cdr_snippets_enable_what_pbx_sms_expects() -> None:
    general, mappings = parse_conf(CONF_DIR / "cdr_manager.conf")
    assert general.name == "general" and general.values("enabled") == ["yes"]
    # Cdr events name their call: the tracker reads the LinkedID header.
    assert mappings.name == "mappings" and mappings.values("linkedid") == ["LinkedID"]
    [cdr] = parse_conf(CONF_DIR / "cdr.conf.notes")
    assert cdr.values("unanswered") == ["yes"] and cdr.values("batch") == ["no"]
