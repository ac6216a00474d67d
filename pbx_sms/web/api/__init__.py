"""The REST API under /api/v1: one module per resource, each route guarded (``pbx_sms.web.guard``)."""

V1 = "/api/v1"
