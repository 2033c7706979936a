"""Applications (projects) and their tags (decisions G1, G10)."""

from __future__ import annotations

import re
from collections.abc import Callable

from openpinpoint.core.errors import BadRequest, NotFound
from openpinpoint.core.shapes import MAX_TAGS, ApplicationResponse
from openpinpoint.core.values import encode_page_token
from openpinpoint.store.base import App, ReadTx, WriteTx

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# An application's ARN, or the ARN of something inside it (a segment: `/segments/ID`).
_APP_ARN = re.compile(r"arn:aws:mobiletargeting:[^:]*:[^:]*:apps/(?P<id>[^/]+)(?:/segments/[^/]+)?")


def app_arn(region: str, account_id: str, app_id: str) -> str:
    return f"arn:aws:mobiletargeting:{region}:{account_id}:apps/{app_id}"


def response(app: App) -> ApplicationResponse:
    return ApplicationResponse(
        arn=app.arn, id=app.id, name=app.name, tags=app.tags, creation_date=app.creation_date
    )


def require_app(tx: ReadTx, app_id: str) -> App:
    """The app, or 404 (G1). Malformed ids are simply unknown ids."""
    return found_app(tx.get_app(app_id), app_id)


def found_app(app: App | None, app_id: str) -> App:
    if app is None:
        raise NotFound(f"Application {app_id!r} not found")
    return app


def app_id_of_arn(arn: str) -> str:
    match = _APP_ARN.fullmatch(arn)
    if match is None:
        raise BadRequest(
            f"ResourceArn {arn!r} is not an application ARN "
            "(arn:aws:mobiletargeting:REGION:ACCOUNT:apps/APPLICATION_ID)"
        )
    return match["id"]


def app_by_arn(tx: ReadTx, arn: str) -> App:
    app = require_app(tx, app_id_of_arn(arn))
    if app.arn != arn:
        raise NotFound(f"Resource {arn!r} not found")
    return app


def page_size(value: str | None) -> int:
    """G10: `page-size` is a string holding 1-1000; default 100."""
    if value is None:
        return DEFAULT_PAGE_SIZE
    # The length first: int() of thousands of digits is slow, and refused past 4,300.
    if len(value) > 4 or not value.isascii() or not value.isdigit():
        raise BadRequest(f"page-size must be a whole number from 1 to {MAX_PAGE_SIZE}")
    if not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise BadRequest(f"page-size must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(value)


def list_apps(
    tx: ReadTx, size: int, after: int, wanted: Callable[[App], bool] = lambda app: True
) -> tuple[list[App], str | None]:
    """One page of the `wanted` apps after position `after`, and the token of the next."""
    found: list[tuple[int, App]] = []
    limit = size + 1
    while len(found) <= size:
        rows = tx.list_apps(after, limit)
        found += [(position, app) for position, app in rows if wanted(app)]
        if len(rows) < limit:
            break
        after = rows[-1][0]
        # Few apps were wanted (a key scoped to some apps): skip ahead in larger steps.
        limit = max(limit, MAX_PAGE_SIZE)
    apps = [app for _, app in found[:size]]
    next_token = encode_page_token("apps", found[size - 1][0]) if len(found) > size else None
    return apps, next_token


def merged_tags(current: dict[str, str], tags: dict[str, str]) -> dict[str, str]:
    """TagResource's result on a resource that has `current`."""
    merged = {**current, **tags}
    if len(merged) > MAX_TAGS:
        raise BadRequest(
            f"A resource can have at most {MAX_TAGS} tags; this request would give it {len(merged)}"
        )
    return merged


def remaining_tags(current: dict[str, str], keys: list[str]) -> dict[str, str]:
    """UntagResource's result on a resource that has `current`."""
    if not keys:
        raise BadRequest("tagKeys is required and must name at least one tag key")
    if len(keys) > MAX_TAGS:
        raise BadRequest(
            f"tagKeys names {len(keys)} keys; at most {MAX_TAGS} may be removed at once"
        )
    removed = set(keys)
    return {k: v for k, v in current.items() if k not in removed}


def tag(tx: WriteTx, arn: str, tags: dict[str, str]) -> None:
    app = app_by_arn(tx, arn)
    app.tags = merged_tags(app.tags, tags)
    tx.update_app(app)


def untag(tx: WriteTx, arn: str, keys: list[str]) -> None:
    app = app_by_arn(tx, arn)
    app.tags = remaining_tags(app.tags, keys)
    tx.update_app(app)


def tags(tx: ReadTx, arn: str) -> dict[str, str]:
    return app_by_arn(tx, arn).tags
