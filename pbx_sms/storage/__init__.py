"""What the configuration database holds and how admins change it: accounts, company numbers, sender IDs,
rules, opt-outs; the daemon's cached view of them; opening the database; pruning old history.

The engine, the tables and the migrations are in ``pbx_sms.db``. Import from the submodules
(``pbx_sms.storage.accounts`` ...): this package imports nothing itself.
"""
