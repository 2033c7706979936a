"""What the boto3 back ends share (SES, End User Messaging SMS, Pinpoint forwarding): one
client per service and region, no retries inside a request (M5), and AWS's answers mapped
as M5. Endpoints follow boto3's own `AWS_ENDPOINT_URL_<SERVICE>` variables; credentials
its usual chain."""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from openpinpoint.delivery.base import answered, unreachable

DEFAULT_REGION = "us-east-1"


class AwsClients:
    def __init__(self, service: str, *, timeout: float, pool_size: int = 64) -> None:
        self.service = service
        self._config = Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 1, "mode": "standard"},
            max_pool_connections=pool_size,
        )
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        # Threads of their own: a provider that stops answering holds these for up to the
        # timeout, and must not hold the default executor that the SQLite store commits on.
        self._threads = ThreadPoolExecutor(pool_size, thread_name_prefix=f"openpinpoint-{service}")

    def client(self, region: str | None = None) -> Any:
        region = region or default_region()
        with self._lock:
            if region not in self._clients:
                self._clients[region] = boto3.session.Session().client(
                    self.service, region_name=region, config=self._config
                )
            return self._clients[region]

    async def call(self, method: Callable[..., dict[str, Any]], **kwargs: Any) -> Any:
        """The call's answer, or an `Outcome` when AWS refused or could not be reached."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._threads, functools.partial(method, **kwargs))
        except ClientError as error:
            code = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            info = error.response.get("Error", {})
            return answered(code, f"{info.get('Code', 'Error')}: {info.get('Message', '')}")
        except BotoCoreError as error:
            return unreachable(f"{self.service} unreachable: {type(error).__name__}")

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)


def default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
