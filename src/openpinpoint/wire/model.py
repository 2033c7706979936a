"""Botocore's `pinpoint` service model: every operation Amazon Pinpoint has, served or not."""

from __future__ import annotations

from functools import cache

from botocore.loaders import Loader

from openpinpoint.wire.operations import Operation


@cache
def model_operations() -> tuple[Operation, ...]:
    """Every operation of the model, with its method, URI and success status. Loaded on
    first use (about 80 ms), so that only a call to an unserved operation pays for it."""
    model = Loader().load_service_model("pinpoint", "service-2")
    return tuple(
        Operation(
            name,
            spec["http"]["method"],
            spec["http"]["requestUri"].split("?", 1)[0],
            spec["http"].get("responseCode", 200),
        )
        for name, spec in model["operations"].items()
    )
