"""Many endpoint updates in one transaction, in a few statements rather than several each:
UpdateEndpointsBatch's items, an import's rows.

`StagedEndpoints` stands in for the transaction under `core.endpoints`' rules, which run on
it unchanged, one update after the other, so that no rule has a second, set-based version.
It answers their reads from what it read ahead in one statement (`read_ahead`), or for
anything it did not, from the transaction; it keeps their writes and sends them in one call
(`write`). Each update can be made atomic on its own (`atomic`): a rule that refuses one
undoes just that one, and the run goes on, as an import needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol

from msgspec import UNSET

from openpinpoint.core.shapes import EndpointRequest, EndpointResponse, user_id_of
from openpinpoint.core.values import endpoint_key
from openpinpoint.store.base import WriteTx, stored_endpoint


class EndpointTx(Protocol):
    """What `core.endpoints` reads and writes to update an endpoint: a `WriteTx`, or
    `StagedEndpoints` over one.

    The rules never change an endpoint a read returned: they put a changed copy
    (`msgspec.structs.replace`). So `StagedEndpoints` answers with what it holds, which
    stays as it was until replaced, to be undone or indexed by what it was."""

    def get_endpoint(self, app_id: str, key: str) -> EndpointResponse | None: ...

    def user_endpoints(self, app_id: str, user_id: str) -> list[EndpointResponse]: ...

    def active_endpoints_with_address(
        self, app_id: str, address: str
    ) -> list[EndpointResponse]: ...

    def put_endpoint(self, app_id: str, endpoint: EndpointResponse) -> None: ...

    def known_attribute_names_by_kind(
        self, app_id: str, names: Mapping[str, Iterable[str]]
    ) -> dict[str, set[str]]: ...

    def count_attribute_names(self, app_id: str) -> int: ...

    def add_attribute_names(self, app_id: str, kind: str, names: Iterable[str]) -> None: ...


def _placement(endpoint: EndpointResponse) -> tuple[str | None, str | None]:
    """The endpoint's user, and its address if it is ACTIVE (what the rules look it up by)."""
    address = endpoint.address
    if endpoint.endpoint_status != "ACTIVE" or not isinstance(address, str):
        return user_id_of(endpoint), None
    return user_id_of(endpoint), address


class StagedEndpoints:
    """The endpoints of one app that a run of updates reads and writes, in one transaction.

    Everything it has read or staged is held by key (`None`: known not to exist); the users
    and addresses it has read are indexed completely, since every endpoint of such a user
    or with such an address is either as read or staged here."""

    def __init__(self, tx: WriteTx, app_id: str) -> None:
        self._tx = tx
        self._app_id = app_id
        self._current: dict[str, EndpointResponse | None] = {}
        self._placed: dict[str, tuple[str | None, str | None]] = {}
        self._by_user: dict[str, set[str]] = {}
        self._by_address: dict[str, set[str]] = {}
        self._staged: dict[str, None] = {}  # keys written, in the order first written
        # By kind: the names whose registration is known, and those of them registered.
        self._checked: dict[str, set[str]] = {}
        self._registered: dict[str, set[str]] = {}
        self._new_names: dict[tuple[str, str], None] = {}
        self._name_count: int | None = None
        self._undo: list[Callable[[], None]] | None = None

    # Reading ahead

    def read_ahead(self, updates: Iterable[tuple[str, EndpointRequest]]) -> None:
        """Read, in two statements, what updating these (endpoint id, request) pairs will
        read (`endpoints._update`): the endpoints; the users they join or send attributes
        to; the addresses they will have; the attribute names they register."""
        keys: list[str] = []
        users: set[str] = set()
        addresses: set[str] = set()
        # Keys whose stored user (the request sends user attributes alone) or stored
        # address (the request sends none) the update will look up.
        keeping_user: list[str] = []
        keeping_address: list[str] = []
        names: dict[str, set[str]] = {"custom": set(), "metric": set(), "user": set()}
        for endpoint_id, request in updates:
            key = endpoint_key(endpoint_id)
            keys.append(key)
            if isinstance(request.address, str) and request.address:
                addresses.add(request.address)
            else:
                keeping_address.append(key)
            if request.attributes is not UNSET:
                names["custom"].update(request.attributes)
            if request.metrics is not UNSET:
                names["metric"].update(request.metrics)
            if request.user is not UNSET:
                if isinstance(request.user.user_id, str) and request.user.user_id:
                    users.add(request.user.user_id)
                if request.user.user_attributes is not UNSET:
                    names["user"].update(request.user.user_attributes)
                    if request.user.user_id is UNSET:
                        keeping_user.append(key)
        self._read(keys, users, addresses)
        self._read(
            (),
            {user for key in keeping_user if (user := self._stored_user(key)) is not None},
            {address for key in keeping_address if (address := self._stored_address(key))},
        )
        self._check_names({kind: found for kind, found in names.items() if found})

    def _stored_user(self, key: str) -> str | None:
        return user_id_of(self._current[key])

    def _stored_address(self, key: str) -> str | None:
        endpoint = self._current[key]
        if endpoint is None or not isinstance(endpoint.address, str):
            return None
        return endpoint.address or None

    def _read(self, keys: Iterable[str], users: Iterable[str], addresses: Iterable[str]) -> None:
        keys = [key for key in keys if key not in self._current]
        users = [user for user in users if user not in self._by_user]
        addresses = [address for address in addresses if address not in self._by_address]
        if not (keys or users or addresses):
            return
        found = self._tx.related_endpoints(self._app_id, keys, users, addresses)
        new_users = {user: set[str]() for user in users}
        new_addresses = {address: set[str]() for address in addresses}
        # What was staged or read before is newer than the rows, and is indexed from here.
        for key, (user, address) in self._placed.items():
            if user in new_users:
                new_users[user].add(key)
            if address in new_addresses:
                new_addresses[address].add(key)
        self._by_user.update(new_users)
        self._by_address.update(new_addresses)
        for key in keys:
            self._current[key] = None
        for endpoint in found:
            assert isinstance(endpoint.id, str)
            key = endpoint_key(endpoint.id)
            if self._current.get(key) is None:
                self._current[key] = endpoint
                self._place(key, endpoint)

    def _place(self, key: str, endpoint: EndpointResponse) -> None:
        user, address = self._placed[key] = _placement(endpoint)
        if user is not None and user in self._by_user:
            self._by_user[user].add(key)
        if address is not None and address in self._by_address:
            self._by_address[address].add(key)

    def _unplace(self, key: str) -> None:
        user, address = self._placed.pop(key)
        if user is not None and user in self._by_user:
            self._by_user[user].discard(key)
        if address is not None and address in self._by_address:
            self._by_address[address].discard(key)

    # The transaction's reads and writes, as `EndpointTx`

    def get_endpoint(self, app_id: str, key: str) -> EndpointResponse | None:
        assert app_id == self._app_id
        if key not in self._current:
            self._read([key], (), ())
        return self._current[key]

    def user_endpoints(self, app_id: str, user_id: str) -> list[EndpointResponse]:
        assert app_id == self._app_id
        if user_id not in self._by_user:
            self._read((), [user_id], ())
        return self._held(self._by_user[user_id])

    def active_endpoints_with_address(self, app_id: str, address: str) -> list[EndpointResponse]:
        assert app_id == self._app_id
        if address not in self._by_address:
            self._read((), (), [address])
        return self._held(self._by_address[address])

    def _held(self, keys: Iterable[str]) -> list[EndpointResponse]:
        """The endpoints held under `keys`, in key order."""
        return [e for key in sorted(keys) if (e := self._current[key]) is not None]

    def put_endpoint(self, app_id: str, endpoint: EndpointResponse) -> None:
        assert app_id == self._app_id
        assert isinstance(endpoint.id, str)
        key = endpoint_key(endpoint.id)
        before = self._current.get(key)
        first = key not in self._staged
        self._set(key, endpoint)
        self._staged[key] = None
        if self._undo is not None:
            self._undo.append(lambda: self._unput(key, before, first))

    def _set(self, key: str, endpoint: EndpointResponse | None) -> None:
        if key in self._placed:
            self._unplace(key)
        self._current[key] = endpoint
        if endpoint is not None:
            self._place(key, endpoint)

    def _unput(self, key: str, before: EndpointResponse | None, first: bool) -> None:
        self._set(key, before)
        if first:
            del self._staged[key]

    def known_attribute_names_by_kind(
        self, app_id: str, names: Mapping[str, Iterable[str]]
    ) -> dict[str, set[str]]:
        assert app_id == self._app_id
        known: dict[str, set[str]] = {}
        for kind, kind_names in names.items():
            wanted = set(kind_names)
            checked = self._checked.get(kind)
            if checked is None or not checked >= wanted:
                self._check_names({kind: wanted})
            known[kind] = self._registered[kind] & wanted
        return known

    def _check_names(self, names: Mapping[str, set[str]]) -> None:
        unchecked: dict[str, set[str]] = {}
        for kind, kind_names in names.items():
            if missing := kind_names - self._checked.setdefault(kind, set()):
                unchecked[kind] = missing
            self._registered.setdefault(kind, set())
        if unchecked:
            known = self._tx.known_attribute_names_by_kind(self._app_id, unchecked)
            for kind, kind_names in unchecked.items():
                self._checked[kind] |= kind_names
                self._registered[kind] |= known[kind]

    def count_attribute_names(self, app_id: str) -> int:
        assert app_id == self._app_id
        if self._name_count is None:
            self._name_count = self._tx.count_attribute_names(app_id)
        return self._name_count + len(self._new_names)

    def add_attribute_names(self, app_id: str, kind: str, names: Iterable[str]) -> None:
        assert app_id == self._app_id
        names = list(names)
        self._check_names({kind: set(names)})
        added = [name for name in dict.fromkeys(names) if name not in self._registered[kind]]
        self._registered[kind].update(added)
        for name in added:
            self._new_names[kind, name] = None
        if self._undo is not None:
            self._undo.append(lambda: self._forget_names(kind, added))

    def _forget_names(self, kind: str, added: list[str]) -> None:
        self._registered[kind].difference_update(added)
        for name in added:
            del self._new_names[kind, name]

    # Atomic updates, and the write

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """What runs inside is undone if it raises."""
        assert self._undo is None, "atomic blocks do not nest"
        self._undo = []
        try:
            yield
        except BaseException:
            for step in reversed(self._undo):
                step()
            raise
        finally:
            self._undo = None

    def write(self) -> None:
        """Send what was staged to the transaction, in one call per kind of thing."""
        rows = []
        for key in self._staged:
            endpoint = self._current[key]
            assert endpoint is not None
            rows.append(stored_endpoint(endpoint))
        if rows:
            self._tx.put_endpoints(self._app_id, rows)
        kinds: dict[str, list[str]] = {}
        for kind, name in self._new_names:
            kinds.setdefault(kind, []).append(name)
        for kind, names in kinds.items():
            self._tx.add_attribute_names(self._app_id, kind, sorted(names))
