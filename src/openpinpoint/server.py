"""Running the ASGI app under uvicorn: sockets, logging, graceful shutdown."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass

import uvicorn
from uvicorn.supervisors import Multiprocess

from openpinpoint import __version__
from openpinpoint.core.provider import DEFAULT_ACCOUNT_ID, PinpointProvider
from openpinpoint.store import open_store
from openpinpoint.store.base import Store
from openpinpoint.wire.app import PinpointApp

log = logging.getLogger("openpinpoint")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9400
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


@dataclass(frozen=True)
class ServerSettings:
    db_url: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    account_id: str = DEFAULT_ACCOUNT_ID
    log_level: str = "info"
    access_log: bool = False
    workers: int = 1


def configure_logging(level: str, access_log: bool) -> None:
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT, force=True)
    logging.getLogger("openpinpoint.access").setLevel(
        logging.INFO if access_log else logging.WARNING
    )


def build_app(settings: ServerSettings, url: str) -> PinpointApp:
    """The app; its store opens at startup in the process that serves."""
    opened: list[Store] = []

    async def start() -> PinpointProvider:
        store = open_store(settings.db_url)
        opened.append(store)
        log.info(
            "OpenPinpoint %s listening on %s (store: %s, process %d)",
            __version__,
            url,
            store.url,
            os.getpid(),
        )
        log.info(
            "try: boto3.client('pinpoint', endpoint_url='%s', region_name='us-east-1', "
            "aws_access_key_id='local', aws_secret_access_key='local')",
            url,
        )
        return PinpointProvider(store, account_id=settings.account_id)

    async def stop() -> None:
        for store in opened:
            await store.close()
        log.info("OpenPinpoint stopped")

    return PinpointApp(start, on_shutdown=stop)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@dataclass(frozen=True)
class AppFactory:
    """Builds the app in the process that serves it. Picklable, so that under `--workers`
    each spawned worker receives it and builds its own app and store."""

    settings: ServerSettings
    url: str

    def __call__(self) -> PinpointApp:
        configure_logging(self.settings.log_level, self.settings.access_log)
        return build_app(self.settings, self.url)


def serve(settings: ServerSettings) -> None:
    """Serve until SIGINT/SIGTERM; requests in flight are finished first.

    With `workers` > 1 a supervisor process spawns that many workers that accept on the one
    socket bound here; each opens its own store (see docs/scaling.md).
    """
    configure_logging(settings.log_level, settings.access_log)
    sock = bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    config = uvicorn.Config(
        AppFactory(settings, url),
        factory=True,
        workers=settings.workers,
        http="httptools",
        loop="uvloop",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=30,
    )
    if settings.workers == 1:
        uvicorn.Server(config).run(sockets=[sock])
    else:
        log.info("starting %d worker processes", settings.workers)
        Multiprocess(config, sockets=[sock]).run()
