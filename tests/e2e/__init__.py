"""Helpers for the end-to-end tests of `pbx-sms run` (tests/test_e2e*.py)."""
