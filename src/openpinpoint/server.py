"""Running the ASGI app under uvicorn: sockets, logging, graceful shutdown."""

from __future__ import annotations

import gc
import logging
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from uvicorn.supervisors import Multiprocess

from openpinpoint import __version__
from openpinpoint.core.jobs import DEFAULT_LEASE_SECONDS, JobRunner
from openpinpoint.core.messaging_api import Messaging
from openpinpoint.core.provider import PinpointProvider
from openpinpoint.core.sealing import server_sealer
from openpinpoint.core.sending import Sender
from openpinpoint.defaults import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_HOST,
    DEFAULT_PORT,
)
from openpinpoint.delivery.choose import Backends, BackendSettings, log_backends, open_backends
from openpinpoint.files import Files, FileSettings
from openpinpoint.keys import KeyFile, default_keys_path, new_key
from openpinpoint.store.base import Store
from openpinpoint.store.open import DEFAULT_DATA_DIR, open_store
from openpinpoint.wire.app import PinpointApp
from openpinpoint.wire.auth import Authenticator, NoAuthentication
from openpinpoint.wire.http import PinpointConfig
from openpinpoint.wire.sigv4 import SigV4Authenticator
from openpinpoint.wire.throttle import Throttle

log = logging.getLogger("openpinpoint")

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


@dataclass(frozen=True)
class ServerSettings:
    db_url: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    account_id: str = DEFAULT_ACCOUNT_ID
    log_level: str = "info"
    access_log: bool = False
    auth: str = "sigv4"
    """"sigv4" (verify every request against the keys file) or "none" (local testing)."""
    keys_file: Path | None = None
    """None means `default_keys_path()`."""
    throttle_rate: float = 0.0
    """Requests per second per access key; 0 switches throttling off."""
    throttle_burst: float | None = None
    """Requests a key may make at once; None means the rate (at least 1)."""
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    tls_cert: str | None = None
    tls_key: str | None = None

    files: FileSettings = field(default_factory=FileSettings)
    job_lease_seconds: float = DEFAULT_LEASE_SECONDS
    workers: int = 1
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    """Where the server keeps its own files: the channel-secret key, the outbox."""
    delivery: BackendSettings | None = None
    """None: the outbox in the data directory for everything."""

    @property
    def keys_path(self) -> Path:
        return self.keys_file or default_keys_path()


class _LogFormatter(logging.Formatter):
    """The standard format, with the date and time formatted once a second rather than for
    every line: a send logs a line per recipient (M8)."""

    _second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if self._second[0] != second:
            self._second = (second, time.strftime(self.default_time_format, self.converter(second)))
        return f"{self._second[1]},{int(record.msecs):03d}"


def configure_logging(level: str, access_log: bool) -> None:
    # What no line shows is not collected for each (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT, force=True)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(_LogFormatter(LOG_FORMAT))
    logging.getLogger("openpinpoint.access").setLevel(
        logging.INFO if access_log else logging.WARNING
    )


def build_app(settings: ServerSettings, url: str) -> PinpointApp:
    """The app; its store opens at startup in the process that serves."""
    opened: list[Store] = []
    authenticator: Authenticator
    if settings.auth == "sigv4":
        authenticator = SigV4Authenticator(KeyFile(settings.keys_path))
    elif settings.auth == "none":
        authenticator = NoAuthentication()
    else:  # anything else must never fall through to "no authentication"
        raise ValueError(f"unknown auth setting {settings.auth!r}: sigv4 or none")
    throttle = None
    if settings.throttle_rate > 0:
        burst = settings.throttle_burst or max(1.0, settings.throttle_rate)
        throttle = Throttle(settings.throttle_rate, burst)
    runners: list[JobRunner] = []
    delivering: list[Backends] = []
    delivery = settings.delivery or BackendSettings(outbox=settings.data_dir / "outbox")

    async def start() -> PinpointProvider:
        store = open_store(settings.db_url)
        opened.append(store)
        if settings.auth == "none":
            log.warning(
                "AUTHENTICATION IS OFF (--auth none): anyone who can reach %s may read and "
                "change every application. Use this only for local testing.",
                url,
            )
        else:
            log.info(
                "verifying AWS SigV4 signatures with the access keys in %s", settings.keys_path
            )
        if throttle is not None:
            log.info(
                "throttling each access key to %g requests/s, bursts of %g",
                throttle.rate,
                throttle.burst,
            )
        runner = JobRunner(store, Files(settings.files), lease_seconds=settings.job_lease_seconds)
        await runner.start()
        runners.append(runner)
        backends = open_backends(delivery)
        delivering.append(backends)
        log_backends(backends)
        messaging = Messaging(
            sealer=server_sealer(settings.data_dir),
            sender=Sender(backends, timeout=delivery.timeout),
        )
        provider = PinpointProvider(
            store, account_id=settings.account_id, jobs=runner, messaging=messaging
        )
        _freeze_startup_objects()
        # Last: people and scripts send their first requests when they read this line, and
        # requests sent while startup still ran waited for it (~140 ms of imports and GC).
        log.info(
            "OpenPinpoint %s listening on %s (store: %s, process %d)",
            __version__,
            url,
            store.url,
            os.getpid(),
        )
        credentials = (
            "aws_access_key_id='any', aws_secret_access_key='any'"
            if settings.auth == "none"
            else "aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET"
        )
        log.info(
            "try: boto3.client('pinpoint', endpoint_url='%s', region_name='us-east-1', %s)",
            url,
            credentials,
        )
        return provider

    async def stop() -> None:
        for runner in runners:
            await runner.stop()
        for backends in delivering:
            await backends.close()
        for store in opened:
            await store.close()
        log.info("OpenPinpoint stopped")

    return PinpointApp(
        start,
        authenticator=authenticator,
        throttle=throttle,
        body_timeout=settings.body_timeout,
        on_shutdown=stop,
    )


def _freeze_startup_objects() -> None:
    """Keep what startup made (modules, the service model, the routes: ~76,000 objects)
    out of the cyclic garbage collector's full passes.

    Each full pass scanned them all, 20-40 ms with the process's one thread stopped, every
    few seconds under load: requests that arrived meanwhile waited, and the p99 at 80% of
    peak read 20-40 ms in the runs where a pass fell. They live as long as the process, so
    scanning them never finds garbage; what startup left as garbage is collected first.
    """
    gc.collect()
    gc.freeze()


def create_first_key(keys: KeyFile, url: str) -> None:
    """On first run, create an admin key and show it once, as databases show a first password.

    The secret goes to standard output only, never to the log.
    """
    if keys.load():
        return
    key = keys.create(new_key(name="first-run admin", admin=True))
    log.info("no access key existed: created admin key %s in %s", key.id, keys.path)
    print(
        f"""
OpenPinpoint created an admin access key (shown only this once; it is kept in {keys.path}):

    access key id:     {key.id}
    secret access key: {key.secret}

Use it from Python:

    import boto3
    pinpoint = boto3.client("pinpoint", endpoint_url="{url}", region_name="us-east-1",
                            aws_access_key_id="{key.id}",
                            aws_secret_access_key="{key.secret}")

More keys: openpinpoint keys create --name NAME [--apps ID,...] [--admin]
""",
        flush=True,
        file=sys.stdout,
    )


class ServeError(Exception):
    """The server cannot start, for a reason its user can fix (said in one line)."""


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        hint = " (is another server running? choose another --port)" if port else ""
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror}{hint}") from None
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
    scheme = "https" if settings.tls_cert else "http"
    url = f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
    if settings.auth == "sigv4":
        create_first_key(KeyFile(settings.keys_path), url)
    config = PinpointConfig(
        AppFactory(settings, url),
        header_timeout=settings.header_timeout,
        factory=True,
        workers=settings.workers,
        loop="uvloop",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=30,
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
    )
    if settings.workers == 1:
        uvicorn.Server(config).run(sockets=[sock])
    else:
        log.info("starting %d worker processes", settings.workers)
        Multiprocess(config, sockets=[sock]).run()
