"""Trying rules without sending anything: preview a text, simulate a call, backtest over past calls.

``POST /api/v1/accounts/{account}/rules/preview``, ``.../simulate`` and ``.../rules/backtest``: reads (a
viewer may use them), POST because they take a body. The work is pbx_sms.manage, as for the CLI.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pbx_sms.core.access import Access, Resource
from pbx_sms.core.bounds import INTEGER_MAX, RULE_NAME_MAX_CHARS
from pbx_sms.core.rulefile import RuleFileInvalid, check_rule_document
from pbx_sms.core.rules import Rule
from pbx_sms.core.text_size import MAX_TEXT_CHARS
from pbx_sms.manage import backtest as backtests
from pbx_sms.manage import simulation
from pbx_sms.manage.rule_views import preview_text
from pbx_sms.web.api import ERROR_RESPONSES, V1, error_responses
from pbx_sms.web.errors import ApiError, FieldProblem
from pbx_sms.web.guard import Guard, Scope
from pbx_sms.web.pages.i18n import choose_language
from pbx_sms.web.pages.messages import translated_problem
from pbx_sms.web.pages.render import translator

router = APIRouter(prefix=V1, tags=["rules"], responses=ERROR_RESPONSES)

RulesRead = Annotated[Scope, Depends(Guard(Resource.RULES, Access.READ))]
# Longer than any value a placeholder or a described call's number can hold.
_VALUE_MAX_CHARS = 64
_Value = Annotated[str | None, Field(default=None, max_length=_VALUE_MAX_CHARS)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- preview ---------------------------------------------------------------------------------------


class CallSample(_Body):
    """Placeholder values; those left out take sample values (``{rule}``: "missed call")."""

    other_party: _Value
    number: _Value
    direction: _Value
    status: _Value
    talk_s: _Value
    talk_min: _Value
    date: _Value
    time: _Value
    rule: Annotated[str | None, Field(default=None, max_length=RULE_NAME_MAX_CHARS)]


class PreviewIn(_Body):
    text: str = Field(max_length=MAX_TEXT_CHARS)
    transliterate: bool = False
    call: CallSample | None = None


class Ucs2CharacterOut(BaseModel):
    character: str
    positions: list[int]


class TextMeasureOut(BaseModel):
    text: str
    encoding: Literal["GSM-7", "UCS-2"]
    parts: int
    characters: int
    left_in_last_part: int
    ucs2_characters: list[Ucs2CharacterOut]


class ProblemOut(BaseModel):
    field: str
    message: str


class PreviewOut(TextMeasureOut):
    transliterated: TextMeasureOut
    problems: list[ProblemOut]


@router.post("/accounts/{account}/rules/preview", response_model=PreviewOut)
def preview_rule_text(account: str, body: PreviewIn, scope: RulesRead, request: Request) -> dict[str, Any]:
    """How a rule's SMS text comes out: the panel's live counter calls this while the text is typed.

    Body: ``{"text": str, "transliterate": bool = false, "call": {placeholder: value, ...}}`` (``call``
    optional: placeholders left out take sample values). Answer, always 200 for a text that fits the body:
    ``text`` (rendered, and transliterated when ``transliterate`` is true: as the SMS would go),
    ``encoding`` ("GSM-7" or "UCS-2"), ``parts``, ``characters`` (units used: GSM-7 septets, an
    extension character such as € counting 2, or UCS-2 UTF-16 units, an emoji counting 2),
    ``left_in_last_part`` (units that still fit before another part is needed), ``ucs2_characters``
    (``[{"character", "positions"}]``: each distinct character that makes the text UCS-2, with its 0-based
    code-point positions in ``text``), ``transliterated`` (the same keys but ``problems``, for the text
    with transliteration on, whatever ``transliterate`` says) and ``problems`` (``[{"field": "text",
    "message"}]``: unknown placeholders, unclosed braces, more than 255 parts; a text with template
    problems is measured as written). Nothing is read from the database but the caller's access.
    Problems are in the caller's language (their setting, else their browser's): the panel's counter shows them as sent.
    """
    scope.require_account()
    call = None if body.call is None else body.call.model_dump(exclude_none=True)
    answer = preview_text(body.text, transliterated=body.transliterate, call=call).as_json()
    _ = translator(choose_language(scope.user.chosen_language, request.headers.get("accept-language"), None))
    for problem in answer["problems"]:
        problem["message"] = translated_problem(problem["message"], _)
    return answer


# --- simulate --------------------------------------------------------------------------------------


class SimulateIn(_Body):
    direction: Literal["in", "out"]
    number: str = Field(max_length=_VALUE_MAX_CHARS)
    other: str = Field(max_length=_VALUE_MAX_CHARS)
    status: Literal["answered", "no_answer", "busy", "failed"]
    talk_s: int = Field(default=0, ge=0, le=INTEGER_MAX)
    at: _Value
    document: dict[str, Any] | None = None


class SimulatedSmsOut(BaseModel):
    rule: str
    to: str
    sender: str
    text: str
    encoding: str
    parts: int
    due_at: str
    reason: str | None
    wanted_at: str | None = None
    quiet_hours: str | None = None


class SimulateOut(BaseModel):
    sms: list[SimulatedSmsOut]


@router.post("/accounts/{account}/simulate", response_model=SimulateOut, response_model_exclude_unset=True)
def simulate_call(account: str, body: SimulateIn, scope: RulesRead) -> dict[str, Any]:
    """Which rules fire for one described call, and the exact SMS (nothing is sent).

    Body: ``direction`` ("in"/"out"), ``number`` (the company number), ``other`` (the other party),
    ``status``, ``talk_s`` (0), ``at`` (end of the call, ISO 8601, no offset = the account's time zone;
    default now), ``document`` (optional: one rule not saved yet, checked as a rule file's rule, tried
    alone instead of the account's enabled rules). Answer: ``{"sms": [...]}``, each as one line of
    `pbx-sms simulate`: rule, to, sender, text, encoding, parts, due_at, reason (null = would be sent),
    and with the account's quiet hours also wanted_at and quiet_hours.
    """
    account = scope.require_account().name
    rule = None if body.document is None else _document_rule(body.document)
    try:
        with scope.read_session() as session:
            setup = (
                simulation.account_setup(session, account)
                if rule is None
                else simulation.document_setup(session, account, rule)
            )
        described = simulation.DescribedCall(
            body.direction,
            simulation.company_number(body.number, setup.account.country),
            body.other,
            body.status,
            body.talk_s,
            body.at,
        )
        sms = simulation.simulate_call(
            described,
            setup,
            internal_max_digits=scope.context.settings.tracking.internal_max_digits,
            now=scope.context.clock(),
        )
    except simulation.SimulationInvalid as exc:
        raise _invalid(exc.field, exc.message) from None
    return {"sms": sms}


# --- backtest --------------------------------------------------------------------------------------


class BacktestIn(_Body):
    rule: Annotated[str | None, Field(default=None, max_length=RULE_NAME_MAX_CHARS)]
    document: dict[str, Any] | None = None
    days: int = Field(default=backtests.DEFAULT_DAYS, ge=1, le=backtests.MAX_DAYS)

    @model_validator(mode="after")
    def _one_rule(self) -> BacktestIn:
        if (self.rule is None) == (self.document is None):
            raise ValueError('give either "rule" (a saved rule\'s name) or "document" (a rule not saved yet)')
        return self


class BacktestExampleOut(BaseModel):
    call_ended_at: str
    other_party: str
    to: str
    text: str | None
    reason: str | None
    sent_at: str | None
    delayed: bool


class BacktestOut(BaseModel):
    rule: str
    account: str
    since: str
    until: str
    calls: int
    matched_calls: int
    sent: int
    distinct_numbers: int
    delayed: int
    suppressed: dict[str, int]
    examples: list[BacktestExampleOut]


@router.post("/accounts/{account}/rules/backtest", response_model=BacktestOut, responses=error_responses(409))
def backtest_rule(account: str, body: BacktestIn, scope: RulesRead) -> dict[str, Any]:
    """What a rule would have done over the account's calls of the last ``days`` days (1..90, default 30).

    Body: ``{"rule": name}`` (a saved rule; 404 if the account has none of that name) or ``{"document":
    {...}}`` (a rule not saved yet, checked as a rule file's rule: 422 with ``document.`` field paths),
    and ``days``. Answer: ``calls`` replayed, ``matched_calls``, ``sent`` SMS to ``distinct_numbers``
    numbers (``delayed`` of them by quiet hours), ``suppressed`` by reason (opted_out, min_interval,
    daily_cap_reached, sms_service_inactive, reached_person, the matcher's reasons), up to 20
    ``examples`` (call end, other party, recipient, text or reason, when sent). The daily cap counts
    this rule's SMS only, and today's opt-outs apply throughout.
    """
    account = scope.require_account().name
    database = scope.context.database
    rule = (
        backtests.saved_rule(database, account, body.rule) if body.rule is not None else _document_rule(body.document)
    )
    try:
        result = backtests.backtest(
            database,
            account,
            rule,
            days=body.days,
            now=scope.context.clock(),
            internal_max_digits=scope.context.settings.tracking.internal_max_digits,
        )
    except backtests.BacktestInvalid as exc:
        raise _invalid(exc.field, exc.message) from None
    return result.as_json()


def _document_rule(document: Any) -> Rule:
    try:
        return check_rule_document(document)
    except RuleFileInvalid as exc:
        problems = [
            FieldProblem(f"document.{error.field}" if error.field else "document", error.message)
            for error in exc.errors
        ]
        raise ApiError(422, "the rule document is not valid: see errors", problems=problems) from None


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, f"{field}: {message}", problems=[FieldProblem(field, message)])
