"""`openpinpoint render`: a stored template rendered for a real endpoint or user (T6),
read straight from the store, without sending anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

from openpinpoint.core import apps, endpoints, templates
from openpinpoint.core.errors import PinpointError
from openpinpoint.core.personalize import RenderTooLarge
from openpinpoint.core.shapes import EndpointResponse
from openpinpoint.core.template_preview import PUSH_CHANNEL_TEMPLATES, render_template
from openpinpoint.core.template_shapes import TemplateResponseShape
from openpinpoint.store.base import ReadTx
from openpinpoint.store.open import open_store


class PreviewError(Exception):
    """What the command reports instead of a preview (exit status 1)."""


@dataclass(frozen=True)
class Request:
    name: str
    template_type: str
    version: str | None
    app_id: str
    endpoint_id: str | None = None
    user_id: str | None = None


def _recipients(tx: ReadTx, request: Request, kind: str) -> list[EndpointResponse]:
    apps.require_app(tx, request.app_id)
    if request.endpoint_id is not None:
        return [endpoints.get_endpoint(tx, request.app_id, request.endpoint_id)]
    assert request.user_id is not None
    found = endpoints.get_user_endpoints(tx, request.app_id, request.user_id)
    # A message to a user goes to those of its endpoints on the template's channel.
    wanted = [
        e
        for e in found
        if (e.channel_type in PUSH_CHANNEL_TEMPLATES if kind == "PUSH" else e.channel_type == kind)
    ]
    if not wanted:
        raise PreviewError(f"user {request.user_id!r} has no {kind} endpoint")
    return wanted


async def load(url: str, request: Request) -> tuple[TemplateResponseShape, list[EndpointResponse]]:
    kind = templates.parse_type(request.template_type.upper())

    def read(tx: ReadTx) -> tuple[TemplateResponseShape, list[EndpointResponse]]:
        template = templates.require_template(tx, request.name, kind, request.version)
        return template, _recipients(tx, request, kind)

    store = open_store(url)
    try:
        return await store.read(read)
    except PinpointError as error:
        raise PreviewError(error.message) from None
    finally:
        await store.close()


def print_preview(
    template: TemplateResponseShape, recipients: list[EndpointResponse], out: TextIO
) -> bool:
    """Print each recipient's rendered parts; False when some part could not be rendered."""
    ok = True
    for endpoint in recipients:
        print(
            f"# {template.template_type} template {template.template_name!r} version "
            f"{template.version} for endpoint {endpoint.id} ({endpoint.channel_type} "
            f"{endpoint.address})",
            file=out,
        )
        try:
            parts = render_template(template, endpoint)
        except RenderTooLarge as error:
            print(f"! not sendable: {error}", file=out)
            ok = False
            continue
        for name, text in parts:
            print(f"--- {name}", file=out)
            print(text, file=out)
    return ok
