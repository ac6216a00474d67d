"""pbx-sms: send SMS after Asterisk calls, by rules kept in a database."""

__version__ = "0.1.0"
