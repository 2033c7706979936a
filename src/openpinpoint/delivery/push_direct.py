"""The `direct` push back end (M9's default): FCM for GCM endpoints, APNs for the four APNs
channel types, each with the channel's own credentials."""

from __future__ import annotations

import asyncio
import time

from openpinpoint.core.push_payload import APNS_PLATFORMS
from openpinpoint.defaults import APNS_SANDBOX_URL, APNS_URL, FCM_URL
from openpinpoint.delivery.apns import ApnsSender
from openpinpoint.delivery.base import Delivery, Outcome, Push, unreachable
from openpinpoint.delivery.fcm import FcmSender
from openpinpoint.delivery.push_tls import Clock


class DirectPush:
    delivers = True

    def __init__(
        self,
        *,
        fcm_url: str = FCM_URL,
        apns_url: str = APNS_URL,
        apns_sandbox_url: str = APNS_SANDBOX_URL,
        ca_file: str | None = None,
        timeout: float = 10.0,
        clock: Clock = time.time,
    ) -> None:
        self.description = (
            f"direct (FCM {fcm_url}, APNs {apns_url}, APNs sandbox {apns_sandbox_url})"
        )
        self._timeout = timeout
        self._fcm = FcmSender(fcm_url, ca_file, clock)
        self._apns = ApnsSender(apns_url, apns_sandbox_url, ca_file, clock)

    async def deliver(self, delivery: Delivery) -> Outcome:
        push = delivery.content
        if not isinstance(push, Push):
            raise TypeError(f"the push back end cannot deliver {type(push).__name__}")
        if push.platform != "GCM" and push.platform not in APNS_PLATFORMS:
            return Outcome(
                "PERMANENT_FAILURE", 400, status_message=f"{push.platform} is not supported"
            )
        try:
            async with asyncio.timeout(self._timeout):
                if push.platform == "GCM":
                    return await self._fcm.send(push)
                return await self._apns.send(push)
        except TimeoutError:
            return unreachable(f"{push.platform}: no answer within {self._timeout:g} s")

    async def close(self) -> None:
        await self._fcm.close()
        await self._apns.close()
