"""Endpoint rules: create-or-update with merge (G2), user attributes (G3), dates and ids (G4),
status (G5), fifteen endpoints per user (G6), batches (G7), ids (G8) and limits (G9).

Every function here runs inside one store transaction; raising `BadRequest` undoes all of
the request's writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import translate
from typing import TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from openpinpoint.core import apps
from openpinpoint.core.errors import BadRequest, NotFound
from openpinpoint.core.shapes import (
    AttributeType,
    EndpointBatchItem,
    EndpointDemographic,
    EndpointLocation,
    EndpointRequest,
    EndpointResponse,
    EndpointUser,
    encode,
    user_id_of,
)
from openpinpoint.core.staged import EndpointTx, StagedEndpoints
from openpinpoint.core.values import (
    check_id,
    cohort_id,
    endpoint_key,
    is_id,
    normalise_client_date,
)
from openpinpoint.store.base import ReadTx, WriteTx

PUSH_CHANNELS = frozenset(
    {"GCM", "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "ADM", "BAIDU"}
)
MAX_ENDPOINTS_PER_USER = 15
MAX_ATTRIBUTE_NAMES_PER_APP = 250
MAX_ENDPOINT_BYTES = 15 * 1024
_COHORTS = frozenset(str(n) for n in range(100))

ATTRIBUTE_KIND_OF_TYPE: dict[AttributeType, str] = {
    "endpoint-custom-attributes": "custom",
    "endpoint-metric-attributes": "metric",
    "endpoint-user-attributes": "user",
}


@dataclass(frozen=True)
class Stamp:
    """What one API request stamps on the endpoints it writes (G4)."""

    request_id: str
    now: str


@dataclass(frozen=True)
class Origin:
    """What an imported endpoint keeps from the system it was exported from, when the import
    creates it: its creation date and cohort (so that an export/import round trip changes
    nothing but the application id)."""

    creation_date: str | None = None
    cohort_id: str | None = None


def user_attributes_of(endpoint: EndpointResponse | None) -> dict[str, list[str]]:
    if endpoint is None or endpoint.user is UNSET or endpoint.user.user_attributes is UNSET:
        return {}
    return endpoint.user.user_attributes


def get_endpoint(tx: ReadTx, app_id: str, endpoint_id: str) -> EndpointResponse:
    check_id("EndpointId", endpoint_id)
    return _found_endpoint(tx.get_endpoint(app_id, endpoint_key(endpoint_id)), app_id, endpoint_id)


def get_endpoint_in_app(tx: ReadTx, app_id: str, endpoint_id: str) -> EndpointResponse:
    """`apps.require_app`, then `get_endpoint`: the same answers from one store call."""
    _check_id_in_app(tx, app_id, "EndpointId", endpoint_id)
    app, endpoint = tx.get_app_and_endpoint(app_id, endpoint_key(endpoint_id))
    apps.found_app(app, app_id)
    return _found_endpoint(endpoint, app_id, endpoint_id)


def get_user_endpoints(tx: ReadTx, app_id: str, user_id: str) -> list[EndpointResponse]:
    check_id("UserId", user_id)
    return _found_user(tx.user_endpoints(app_id, user_id), app_id, user_id)


def get_user_endpoints_in_app(tx: ReadTx, app_id: str, user_id: str) -> list[EndpointResponse]:
    """`apps.require_app`, then `get_user_endpoints`: the same answers from one store call."""
    _check_id_in_app(tx, app_id, "UserId", user_id)
    app, endpoints = tx.get_app_and_user_endpoints(app_id, user_id)
    apps.found_app(app, app_id)
    return _found_user(endpoints, app_id, user_id)


def _check_id_in_app(tx: ReadTx, app_id: str, what: str, value: str) -> None:
    try:
        check_id(what, value)
    except BadRequest:
        apps.require_app(tx, app_id)  # an unknown app is the first error, as everywhere
        raise


def _found_endpoint(
    endpoint: EndpointResponse | None, app_id: str, endpoint_id: str
) -> EndpointResponse:
    if endpoint is None:
        raise NotFound(f"Endpoint {endpoint_id!r} not found in application {app_id}")
    return endpoint


def _found_user(
    endpoints: list[EndpointResponse], app_id: str, user_id: str
) -> list[EndpointResponse]:
    if not endpoints:
        raise NotFound(f"User {user_id!r} has no endpoints in application {app_id}")
    return endpoints


def delete_endpoint(tx: WriteTx, app_id: str, endpoint_id: str) -> EndpointResponse:
    endpoint = get_endpoint(tx, app_id, endpoint_id)
    tx.delete_endpoints(app_id, [endpoint_key(endpoint_id)])
    return endpoint


def delete_user_endpoints(tx: WriteTx, app_id: str, user_id: str) -> list[EndpointResponse]:
    """Delete every endpoint of the user and return exactly those (the product's heart)."""
    return _delete_all(tx, app_id, get_user_endpoints(tx, app_id, user_id))


def delete_user_endpoints_in_app(tx: WriteTx, app_id: str, user_id: str) -> list[EndpointResponse]:
    """`apps.require_app`, then `delete_user_endpoints`: the same answers, the app and the
    user's endpoints read by one store call."""
    return _delete_all(tx, app_id, get_user_endpoints_in_app(tx, app_id, user_id))


def _delete_all(
    tx: WriteTx, app_id: str, endpoints: list[EndpointResponse]
) -> list[EndpointResponse]:
    tx.delete_endpoints(app_id, [endpoint_key(e.id) for e in endpoints if e.id is not UNSET])
    return endpoints


def update_endpoints_batch(
    tx: WriteTx, app_id: str, items: Sequence[EndpointBatchItem], stamp: Stamp
) -> None:
    """Apply the items in order, all or nothing (G7); read and written in a few statements
    (`core.staged`)."""
    ids: list[str] = []
    for index, item in enumerate(items):
        if item.id is UNSET or not item.id:
            raise BadRequest(f"Item[{index}]: Id is required and must not be empty")
        try:
            ids.append(check_id("Id", item.id))
        except BadRequest as error:
            raise BadRequest(f"Item[{index}]: {error.message}") from None
    staged = StagedEndpoints(tx, app_id)
    staged.read_ahead(zip(ids, items, strict=True))
    for index, (endpoint_id, item) in enumerate(zip(ids, items, strict=True)):
        try:
            update_endpoint(staged, app_id, endpoint_id, item, stamp)
        except BadRequest as error:
            raise BadRequest(f"Item[{index}] (Id {endpoint_id!r}): {error.message}") from None
    staged.write()


def update_endpoint(
    tx: EndpointTx,
    app_id: str,
    endpoint_id: str,
    request: EndpointRequest,
    stamp: Stamp,
    *,
    origin: Origin | None = None,
) -> EndpointResponse:
    """Create or update one endpoint with Pinpoint's merge and status rules."""
    check_id("EndpointId", endpoint_id)
    key = endpoint_key(endpoint_id)
    existing = tx.get_endpoint(app_id, key)
    names = _asked_names(request)
    return _update(
        tx, app_id, endpoint_id, existing, request, names=names, stamp=stamp, origin=origin
    )


def update_endpoint_in_app(
    tx: WriteTx, app_id: str, endpoint_id: str, request: EndpointRequest, stamp: Stamp
) -> EndpointResponse:
    """`apps.require_app`, then `update_endpoint`: the same answers, the app and the
    endpoint read by one store call."""
    _check_id_in_app(tx, app_id, "EndpointId", endpoint_id)
    # What `_update` will look up whatever is stored: the request's user (once valid:
    # `_update` checks it after the app, G1), address and attribute names (a request over
    # the quota is refused before any lookup).
    names = _asked_names(request)
    user = request.user.user_id if request.user is not UNSET else None
    tx.read_ahead(
        app_id,
        names=names if _names_sent(names) <= MAX_ATTRIBUTE_NAMES_PER_APP else {},
        addresses=[request.address] if isinstance(request.address, str) and request.address else [],
        users=[user] if isinstance(user, str) and is_id(user) else [],
    )
    app, existing = tx.get_app_and_endpoint(app_id, endpoint_key(endpoint_id))
    apps.found_app(app, app_id)
    return _update(tx, app_id, endpoint_id, existing, request, names=names, stamp=stamp)


def _update(
    tx: EndpointTx,
    app_id: str,
    endpoint_id: str,
    existing: EndpointResponse | None,
    request: EndpointRequest,
    *,
    names: dict[str, set[str]],
    stamp: Stamp,
    origin: Origin | None = None,
) -> EndpointResponse:
    """`names`: the request's attribute names by kind (`_asked_names`)."""
    key = endpoint_key(endpoint_id)
    endpoint = _merge(existing, app_id, endpoint_id, request, stamp, origin=origin or Origin())

    old_user = user_id_of(existing)
    new_user = old_user
    sent_user_attributes: dict[str, list[str]] | UnsetType = UNSET
    if request.user is not UNSET:
        if request.user.user_id is not UNSET:
            new_user = check_id("UserId", request.user.user_id) if request.user.user_id else None
        sent_user_attributes = request.user.user_attributes

    # G3: user attributes belong to the user. An endpoint that leaves a user leaves the
    # user's attributes behind; one that joins takes the user's attributes.
    user_attributes = user_attributes_of(existing)
    # The user's other endpoints matter only when the endpoint joins the user or the
    # request sends user attributes; most updates do neither and skip reading them.
    others: list[EndpointResponse] = []
    if new_user is not None and (new_user != old_user or sent_user_attributes is not UNSET):
        others = [e for e in tx.user_endpoints(app_id, new_user) if _key(e) != key]
    if new_user != old_user:
        if old_user is not None:
            user_attributes = {}
        if others:
            user_attributes = user_attributes_of(others[0])
        if len(others) >= MAX_ENDPOINTS_PER_USER and new_user is not None:
            _make_room(tx, app_id, new_user, endpoint, others)
    if sent_user_attributes is not UNSET:
        user_attributes = _merge_attribute_map(user_attributes, sent_user_attributes)
    endpoint.user = _user(new_user, user_attributes)

    _register_attribute_names(tx, app_id, names)
    _check_size(endpoint)

    if new_user is not None and sent_user_attributes is not UNSET:
        for other in others:
            if user_attributes_of(other) != user_attributes:
                tx.put_endpoint(
                    app_id, msgspec.structs.replace(other, user=_user(new_user, user_attributes))
                )

    # G5. The rule leaves at most one ACTIVE endpoint at an address, so when that one is
    # this endpoint and it keeps the address, there is no other to look up (a round trip
    # on PostgreSQL for an update that sends attributes only).
    if endpoint.address and not _active_at(existing, endpoint.address):
        for other in tx.active_endpoints_with_address(app_id, endpoint.address):
            if _key(other) != key:
                tx.put_endpoint(app_id, msgspec.structs.replace(other, endpoint_status="INACTIVE"))

    tx.put_endpoint(app_id, endpoint)
    return endpoint


@dataclass(frozen=True)
class Blacklist:
    """RemoveAttributes' patterns, compiled, and the names already matched against them."""

    pattern: re.Pattern[str]
    checked: Mapping[str, bool]
    """Whether each name read before the transaction matches."""

    def matches(self, name: str) -> bool:
        known = self.checked.get(name)
        return bool(self.pattern.match(name)) if known is None else known


def check_blacklist(patterns: Sequence[str], names: Iterable[str]) -> Blacklist:
    """Compile `patterns` (exact names or `fnmatch` globs) into one expression and match
    `names` against it.

    This is the long part of RemoveAttributes (up to about a second of CPU at the limits of
    250 patterns of 100 characters, in `re`'s compiler), so the caller runs it outside the
    transaction, in a worker thread: on SQLite transactions run on the event loop. It also
    compiles each pattern once: `fnmatchcase` caches only 256, so a longer list recompiled
    every pattern for every name. The translations use atomic groups, so matching does not
    backtrack exponentially.
    """
    joined = "|".join(translate(pattern) for pattern in patterns) or r"(?!)"
    pattern = re.compile(joined)
    return Blacklist(pattern, {name: bool(pattern.match(name)) for name in names})


def remove_attributes(
    tx: WriteTx, app_id: str, attribute_type: AttributeType, blacklist: Blacklist
) -> list[str]:
    """Forget the app's attribute names that `blacklist` matches (only names added since it
    was checked are matched here).

    Endpoints keep their values; the names stop counting toward the 250-name quota.
    """
    kind = ATTRIBUTE_KIND_OF_TYPE[attribute_type]
    removed = sorted(name for name in tx.attribute_names(app_id, kind) if blacklist.matches(name))
    tx.remove_attribute_names(app_id, kind, removed)
    return removed


def _active_at(endpoint: EndpointResponse | None, address: str) -> bool:
    return (
        endpoint is not None
        and endpoint.endpoint_status == "ACTIVE"
        and endpoint.address == address
    )


def _key(endpoint: EndpointResponse) -> str:
    assert endpoint.id is not UNSET
    return endpoint_key(endpoint.id)


def _user(user_id: str | None, attributes: dict[str, list[str]]) -> EndpointUser:
    return EndpointUser(
        user_id=user_id if user_id is not None else UNSET,
        user_attributes=attributes or UNSET,
    )


def _merge(
    existing: EndpointResponse | None,
    app_id: str,
    endpoint_id: str,
    request: EndpointRequest,
    stamp: Stamp,
    *,
    origin: Origin,
) -> EndpointResponse:
    """The endpoint after applying the request's top-level members (G2, G4, G5)."""
    if existing is None:
        created = origin.creation_date and normalise_client_date(origin.creation_date)
        cohort = origin.cohort_id
        endpoint = EndpointResponse(
            id=endpoint_id,
            cohort_id=cohort if cohort in _COHORTS else cohort_id(app_id, endpoint_id),
            creation_date=created or stamp.now,
            opt_out="NONE",
        )
    else:
        endpoint = msgspec.structs.replace(existing)
    if request.address is not UNSET:
        endpoint.address = request.address
    if request.channel_type is not UNSET:
        endpoint.channel_type = request.channel_type
    if request.opt_out is not UNSET:
        endpoint.opt_out = request.opt_out
    if request.attributes is not UNSET:
        old = endpoint.attributes if endpoint.attributes is not UNSET else {}
        endpoint.attributes = _merge_attribute_map(old, request.attributes) or UNSET
    if request.metrics is not UNSET:
        old_metrics = endpoint.metrics if endpoint.metrics is not UNSET else {}
        endpoint.metrics = {**old_metrics, **request.metrics} or UNSET
    if request.demographic is not UNSET:
        endpoint.demographic = _merge_fields(endpoint.demographic, request.demographic)
    if request.location is not UNSET:
        location = _merge_fields(endpoint.location, request.location)
        if location.latitude is not UNSET:
            location.latitude = round(location.latitude, 1)
        if location.longitude is not UNSET:
            location.longitude = round(location.longitude, 1)
        endpoint.location = location
    endpoint.endpoint_status = (
        request.endpoint_status if request.endpoint_status is not UNSET else "ACTIVE"
    )
    client_date = (
        normalise_client_date(request.effective_date)
        if request.effective_date is not UNSET
        else None
    )
    endpoint.effective_date = client_date or stamp.now
    endpoint.request_id = (
        request.request_id if request.request_id is not UNSET else stamp.request_id
    )
    return endpoint


def _merge_attribute_map(
    old: dict[str, list[str]], sent: dict[str, list[str]]
) -> dict[str, list[str]]:
    """Per-key merge: a sent key replaces that key, an empty list removes it (G2)."""
    merged = dict(old)
    for name, values in sent.items():
        if values:
            merged[name] = values
        else:
            merged.pop(name, None)
    return merged


_Part = TypeVar("_Part", EndpointDemographic, EndpointLocation)


def _merge_fields(old: _Part | UnsetType, sent: _Part) -> _Part:
    """Field-by-field merge of Demographic or Location (G2)."""
    if old is UNSET:
        return sent
    changes = {
        name: getattr(sent, name)
        for name in sent.__struct_fields__
        if getattr(sent, name) is not UNSET
    }
    return msgspec.structs.replace(old, **changes)


def _make_room(
    tx: EndpointTx,
    app_id: str,
    user_id: str,
    joining: EndpointResponse,
    members: list[EndpointResponse],
) -> None:
    """G6: a 16th endpoint displaces the oldest push endpoint, or is refused."""
    if joining.channel_type in PUSH_CHANNELS:
        pushes = [e for e in members if e.channel_type in PUSH_CHANNELS]
        if pushes:
            oldest = min(pushes, key=lambda e: (e.effective_date or "", _key(e)))
            tx.put_endpoint(
                app_id,
                msgspec.structs.replace(oldest, endpoint_status="INACTIVE", user=EndpointUser()),
            )
            members.remove(oldest)
            return
    raise BadRequest(
        f"Exceeded maximum endpoint per user count:{MAX_ENDPOINTS_PER_USER}: user {user_id!r} "
        f"already has {MAX_ENDPOINTS_PER_USER} endpoints in this application"
    )


def _asked_names(request: EndpointRequest) -> dict[str, set[str]]:
    """The attribute names the request sets, by kind."""
    asked: dict[str, set[str]] = {}
    if request.attributes and (custom := _named(request.attributes)):
        asked["custom"] = custom
    if request.metrics:
        asked["metric"] = set(request.metrics)
    user = request.user
    if user and user.user_attributes and (names := _named(user.user_attributes)):
        asked["user"] = names
    return asked


def _names_sent(asked: Mapping[str, set[str]]) -> int:
    return sum(map(len, asked.values()))


def _register_attribute_names(tx: EndpointTx, app_id: str, asked: dict[str, set[str]]) -> None:
    """G9: at most 250 distinct custom attribute names per app, over all three kinds, of
    which the request names `asked` (`_asked_names`)."""
    if not asked:
        return
    sent_count = _names_sent(asked)
    if sent_count > MAX_ATTRIBUTE_NAMES_PER_APP:
        # Refused before any lookup: no app could take this many names, and one query per
        # request with thousands of names would be slow or exceed the database's limits.
        raise BadRequest(
            f"Exceeded the limit of {MAX_ATTRIBUTE_NAMES_PER_APP} custom attribute names per "
            f"application (Attributes, Metrics and UserAttributes together): this request "
            f"alone names {sent_count}"
        )
    known = tx.known_attribute_names_by_kind(app_id, asked)
    new = {kind: unknown for kind, names in asked.items() if (unknown := names - known[kind])}
    if not new:
        return
    total = tx.count_attribute_names(app_id) + sum(len(names) for names in new.values())
    if total > MAX_ATTRIBUTE_NAMES_PER_APP:
        raise BadRequest(
            f"Exceeded the limit of {MAX_ATTRIBUTE_NAMES_PER_APP} custom attribute names per "
            f"application (Attributes, Metrics and UserAttributes together): this request "
            f"would bring it to {total}"
        )
    for kind, names in new.items():
        tx.add_attribute_names(app_id, kind, sorted(names))


def _named(attributes: dict[str, list[str]]) -> set[str]:
    """The names an attribute map sets (an empty list removes the name, G2)."""
    return {name for name, values in attributes.items() if values}


def _check_size(endpoint: EndpointResponse) -> None:
    size = len(encode(endpoint))
    if size > MAX_ENDPOINT_BYTES:
        raise BadRequest(
            f"Endpoint {endpoint.id!r} would be {size} bytes; the limit is 15 KB "
            f"({MAX_ENDPOINT_BYTES} bytes)"
        )
