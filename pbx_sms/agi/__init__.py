"""The spawned AGI hangup hook: the script's I/O (``pbx_sms.agi.hook``), for PBXs where the daemon
does not run. What it reads and how it maps it lives in ``pbx_sms.hangup`` (shared with the daemon).
This package imports nothing heavy, so the hook starts fast.
"""
