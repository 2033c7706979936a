"""The stores' resources (templates, channels, segments): one behaviour on every store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from openpinpoint.store.base import SERVER_SCOPE, ReadTx, Resource, Store, WriteTx
from openpinpoint.store.open import open_store

T = TypeVar("T")


def run(url: str, fn: Callable[[Store], Coroutine[Any, Any, T]]) -> T:
    async def go() -> T:
        store = open_store(url)
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(go())


def write(url: str, fn: Callable[[WriteTx], T]) -> T:
    return run(url, lambda store: store.write(fn))


def read(url: str, fn: Callable[[ReadTx], T]) -> T:
    return run(url, lambda store: store.read(fn))


def resource(name: str, version: int, scope: str = SERVER_SCOPE, kind: str = "t") -> Resource:
    return Resource(scope=scope, kind=kind, name=name, version=version, doc=f"{name} v{version}")


def put_all(*resources: Resource) -> Callable[[WriteTx], None]:
    def put(tx: WriteTx) -> None:
        for r in resources:
            tx.put_resource(r)

    return put


@pytest.fixture
def url(empty_store_url: str) -> str:
    write(
        empty_store_url,
        put_all(
            resource("b", 1),
            resource("b", 2),
            resource("a", 1),
            resource("ab", 3),
            resource("B", 1),
            resource("é", 1),
            resource("a", 1, kind="other"),
            resource("a", 1, scope="app"),
        ),
    )
    return empty_store_url


def test_get_without_version_is_the_highest(url: str) -> None:
    assert read(url, lambda tx: tx.get_resource(SERVER_SCOPE, "t", "b")) == resource("b", 2)
    assert read(url, lambda tx: tx.get_resource(SERVER_SCOPE, "t", "b", 1)) == resource("b", 1)
    assert read(url, lambda tx: tx.get_resource(SERVER_SCOPE, "t", "b", 3)) is None
    assert read(url, lambda tx: tx.get_resource(SERVER_SCOPE, "t", "zz")) is None


def test_list_gives_the_highest_version_of_each_name_in_byte_order_by_page(url: str) -> None:
    listed = read(url, lambda tx: tx.list_resources(SERVER_SCOPE, "t", "", 10))
    assert [(r.name, r.version) for r in listed] == [
        ("B", 1),
        ("a", 1),
        ("ab", 3),
        ("b", 2),
        ("é", 1),
    ]
    page = read(url, lambda tx: tx.list_resources(SERVER_SCOPE, "t", "a", 2))
    assert [r.name for r in page] == ["ab", "b"]
    prefixed = read(url, lambda tx: tx.list_resources(SERVER_SCOPE, "t", "", 10, prefix="a"))
    assert [r.name for r in prefixed] == ["a", "ab"]


def test_versions_scopes_and_kinds_are_kept_apart(url: str) -> None:
    assert read(url, lambda tx: tx.resource_versions(SERVER_SCOPE, "t", "b")) == [
        resource("b", 1),
        resource("b", 2),
    ]
    assert read(url, lambda tx: tx.get_resource("app", "t", "a")) == resource("a", 1, "app")
    assert len(read(url, lambda tx: tx.scope_resources(SERVER_SCOPE))) == 7
    assert read(url, lambda tx: tx.scope_resources("app")) == [resource("a", 1, "app")]


def test_put_replaces_a_version_and_delete_removes_one_or_all(url: str) -> None:
    write(url, put_all(Resource(scope=SERVER_SCOPE, kind="t", name="b", version=2, doc="new")))
    assert read(url, lambda tx: tx.get_resource(SERVER_SCOPE, "t", "b", 2)).doc == "new"  # type: ignore[union-attr]
    write(url, lambda tx: tx.delete_resource(SERVER_SCOPE, "t", "b", 2))
    assert read(url, lambda tx: tx.get_resource(SERVER_SCOPE, "t", "b")) == resource("b", 1)
    write(url, lambda tx: tx.delete_resource(SERVER_SCOPE, "t", "ab"))
    assert read(url, lambda tx: tx.resource_versions(SERVER_SCOPE, "t", "ab")) == []
    assert read(url, lambda tx: tx.get_resource(SERVER_SCOPE, "other", "a")) is not None


def test_deleting_an_app_deletes_its_resources(url: str) -> None:
    write(url, lambda tx: tx.delete_app("app"))
    assert read(url, lambda tx: tx.scope_resources("app")) == []
    assert len(read(url, lambda tx: tx.scope_resources(SERVER_SCOPE))) == 7


def test_a_failed_write_leaves_no_resource(url: str) -> None:
    def fail(tx: WriteTx) -> None:
        tx.put_resource(resource("new", 1))
        raise RuntimeError("undo")

    with pytest.raises(RuntimeError):
        write(url, fail)
    assert read(url, lambda tx: tx.get_resource(SERVER_SCOPE, "t", "new")) is None
