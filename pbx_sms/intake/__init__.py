"""Completed calls in: record each call once, match the rules, queue the SMS."""
