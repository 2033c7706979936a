"""Running the ASGI app under uvicorn: sockets, logging, graceful shutdown."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field

import uvicorn

from openpinpoint import __version__
from openpinpoint.core.jobs import DEFAULT_LEASE_SECONDS, JobRunner
from openpinpoint.core.provider import DEFAULT_ACCOUNT_ID, PinpointProvider
from openpinpoint.files import Files, FileSettings
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
    files: FileSettings = field(default_factory=FileSettings)
    job_lease_seconds: float = DEFAULT_LEASE_SECONDS


def configure_logging(level: str, access_log: bool) -> None:
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT, force=True)
    logging.getLogger("openpinpoint.access").setLevel(
        logging.INFO if access_log else logging.WARNING
    )


def build_app(settings: ServerSettings, url: str) -> PinpointApp:
    """The app; its store opens at startup in the process that serves."""
    opened: list[Store] = []
    runners: list[JobRunner] = []

    async def start() -> PinpointProvider:
        store = open_store(settings.db_url)
        opened.append(store)
        runner = JobRunner(store, Files(settings.files), lease_seconds=settings.job_lease_seconds)
        await runner.start()
        runners.append(runner)
        log.info("OpenPinpoint %s listening on %s (store: %s)", __version__, url, store.url)
        log.info(
            "try: boto3.client('pinpoint', endpoint_url='%s', region_name='us-east-1', "
            "aws_access_key_id='local', aws_secret_access_key='local')",
            url,
        )
        return PinpointProvider(store, account_id=settings.account_id, jobs=runner)

    async def stop() -> None:
        for runner in runners:
            await runner.stop()
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


def serve(settings: ServerSettings) -> None:
    """Serve until SIGINT/SIGTERM; requests in flight are finished first."""
    configure_logging(settings.log_level, settings.access_log)
    sock = bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    config = uvicorn.Config(
        build_app(settings, url),
        http="httptools",
        loop="uvloop",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=30,
    )
    uvicorn.Server(config).run(sockets=[sock])
