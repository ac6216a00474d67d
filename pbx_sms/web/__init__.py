"""`pbx-sms web`: the REST API (``pbx_sms.web.api``) and the panel's pages, in one FastAPI app.

``app.create_app`` is the composition root; every route is guarded by ``guard.Guard`` (or listed in
``guard.PUBLIC_ROUTES``), and the work itself is done by the same storage functions the CLI calls.
"""
