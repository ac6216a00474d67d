"""The web panel's HTML pages (issue 16): server-rendered Jinja2 templates, forms that post without scripting.

Pages live under ``/accounts/{account}/...`` for every role (an operator has no account of their own);
each page route takes the same ``Guard`` as the API, so a page shows only what the API would.
"""
