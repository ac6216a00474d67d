"""What the CLI and the API both do beyond storing: rule views, preview, simulate, backtest.

One implementation each; ``pbx_sms.cli`` and ``pbx_sms.web`` only translate arguments and answers."""
