"""Wiring: a worker on the configured database and gateway (``pbx-sms outbox work``, the daemon)."""

from __future__ import annotations

from functools import partial

from pbx_sms.config import Settings
from pbx_sms.gateways.registry import create_gateway
from pbx_sms.outbox.config import WorkerConfig
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.outbox.wakeup import listen_for_new_rows
from pbx_sms.outbox.worker import Counters, OutboxWorker
from pbx_sms.storage.database import open_database_from_settings


async def run_worker(settings: Settings, *, handle_signals: bool = True) -> Counters:
    """Run one outbox worker until SIGTERM/SIGINT (or ``stop()``); returns its counters."""
    config = WorkerConfig.from_settings(settings)
    gateway = create_gateway(settings)
    database = open_database_from_settings(settings)
    try:
        engine = database.engine
        listener = partial(listen_for_new_rows, engine.url) if engine.dialect.name == "postgresql" else None
        worker = OutboxWorker(SqlOutbox(engine), gateway, config, listener=listener)
        if handle_signals:
            worker.install_signal_handlers()
        await worker.run()
        return worker.counters
    finally:
        await gateway.close()
        database.close()
