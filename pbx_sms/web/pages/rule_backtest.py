"""The rule form's "Backtest" button: the rule as typed replayed over the account's calls of the last
30 days (manage.backtest, as the API and `pbx-sms rules backtest` do), nothing sent and nothing saved."""

from __future__ import annotations

from pbx_sms.core.rules import Rule
from pbx_sms.manage import backtest as backtests
from pbx_sms.manage.backtest_replay import BacktestResult
from pbx_sms.web.guard import Scope


def backtest_of_form(scope: Scope, rule: Rule) -> BacktestResult:
    context = scope.context
    return backtests.backtest(
        context.database,
        scope.require_account().name,
        rule,
        days=backtests.DEFAULT_DAYS,
        now=context.clock(),
        internal_max_digits=context.settings.tracking.internal_max_digits,
    )
