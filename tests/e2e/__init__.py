"""Helpers for the end-to-end tests of `pbx-sms run` (tests/e2e/test_*.py)."""
