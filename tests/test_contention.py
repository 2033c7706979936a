"""Many concurrent boto3 clients on the same users and addresses (G5, G6, G12, issue 3).

Every check runs on each store and in three shapes: one server process, `--workers 2`
(one port, two processes) and two separate servers on one database with the clients spread
over both. Clients never retry (`total_max_attempts: 1`; botocore's `max_attempts` counts
retries, not attempts), and every call that may fail catches only the modeled error it
expects, so a 429, a 5xx or a lock error surfaces as a failure.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from conftest import (
    STORE_KINDS,
    RunningServer,
    new_store_url,
    pinpoint_client,
    start_servers,
    store_param,
)
from openpinpoint.store.open import open_store

T = TypeVar("T")

CLIENTS = 16
OPS_PER_CLIENT = 30
TOPOLOGIES = ["one-server", "two-workers", "two-servers"]


@dataclass
class Cluster:
    servers: list[RunningServer]
    clients: list[Any]  # one boto3 client per server URL, shared by the threads

    def client_for(self, index: int) -> Any:
        """Clients are spread round-robin over the server URLs."""
        return self.clients[index % len(self.clients)]

    def app(self) -> str:
        response = self.clients[0].create_app(CreateApplicationRequest={"Name": "contention"})
        return str(response["ApplicationResponse"]["Id"])

    def endpoints_stored(self, app_id: str) -> int:
        """How many endpoint rows the store holds for the app, looked at directly."""

        url = self.servers[0].db_url
        assert url is not None

        async def count() -> int:
            store = open_store(url)
            try:
                return await store.read(lambda tx: tx.count_endpoints(app_id))
            finally:
                await store.close()

        return asyncio.run(count())


@pytest.fixture(
    scope="module",
    params=[store_param(kind, topology) for kind in STORE_KINDS for topology in TOPOLOGIES],
)
def cluster_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[RunningServer]]:
    kind, topology = request.param
    url = new_store_url(kind, request, tmp_path_factory.mktemp("contention"))
    if topology == "two-servers":
        servers = start_servers(url, 2)
    elif topology == "two-workers":
        servers = [RunningServer(url, "--workers", "2")]
        # Both workers serve before the clients start: two processes, one port.
        workers = servers[0].wait_for_lines(r"listening on .*process (\d+)\)", 2)
        assert len({match[1] for match in workers}) == 2
    else:
        servers = [RunningServer(url)]
    yield servers
    for server in servers:
        server.stop()
        # No request failed unexpectedly, and no worker died, in any process.
        assert " ERROR " not in server.log, server.log


@pytest.fixture
def cluster(cluster_servers: list[RunningServer]) -> Cluster:
    """The servers, with clients of this test's own. Clients that never retry would see a
    server closing a keep-alive connection idle for 5 s (uvicorn's default) at the moment
    they reuse it; a test's connections are never idle that long, a module's may be."""
    clients = [
        pinpoint_client(s.url, max_pool_connections=CLIENTS * 2, retries={"total_max_attempts": 1})
        for s in cluster_servers
    ]
    return Cluster(cluster_servers, clients)


def run_clients(work: Callable[[int], T], clients: int = CLIENTS) -> list[T]:
    """`work(i)` for every client i, all in threads released at the same moment."""
    start = threading.Barrier(clients)

    def client(index: int) -> T:
        start.wait()
        return work(index)

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(client, range(clients)))


def endpoint(client: Any, app_id: str, endpoint_id: str) -> dict[str, Any] | None:
    try:
        response = client.get_endpoint(ApplicationId=app_id, EndpointId=endpoint_id)
    except client.exceptions.NotFoundException:
        return None
    return dict(response["EndpointResponse"])


def test_per_key_merges_from_many_clients_all_survive(cluster: Cluster) -> None:
    """G2 + G12: no lost update. Each client owns one attribute key and keeps rewriting it on
    the same four endpoints; afterwards every key holds its client's last value."""
    app_id = cluster.app()
    targets = [f"shared-{n}" for n in range(4)]

    def work(index: int) -> None:
        client = cluster.client_for(index)
        for op in range(OPS_PER_CLIENT):
            client.update_endpoint(
                ApplicationId=app_id,
                EndpointId=targets[op % len(targets)],
                EndpointRequest={
                    "ChannelType": "EMAIL",
                    "Attributes": {f"client{index}": [f"op{op}"]},
                    "Metrics": {f"m{index}": float(op)},
                },
            )

    run_clients(work)
    last = {
        t: max(op for op in range(OPS_PER_CLIENT) if op % 4 == n) for n, t in enumerate(targets)
    }
    for target in targets:
        found = endpoint(cluster.clients[-1], app_id, target)
        assert found is not None
        assert found["Attributes"] == {f"client{i}": [f"op{last[target]}"] for i in range(CLIENTS)}
        assert found["Metrics"] == {f"m{i}": float(last[target]) for i in range(CLIENTS)}


def test_at_most_one_active_endpoint_per_address(cluster: Cluster) -> None:
    """G5: clients move their endpoints between three shared addresses; afterwards every
    address has exactly one ACTIVE endpoint, one that holds the address now. Then one more
    write to each address, from an endpoint that was INACTIVE, makes that last writer the
    address's only ACTIVE endpoint."""
    app_id = cluster.app()
    addresses = [f"shared{n}@example.com" for n in range(3)]
    ids = {i: [f"c{i}-e{k}" for k in range(3)] for i in range(CLIENTS)}

    def work(index: int) -> None:
        client = cluster.client_for(index)
        for op in range(OPS_PER_CLIENT):
            client.update_endpoint(
                ApplicationId=app_id,
                EndpointId=ids[index][op % 3],
                EndpointRequest={"ChannelType": "EMAIL", "Address": addresses[(op + index) % 3]},
            )

    run_clients(work)
    every_id = list(itertools.chain.from_iterable(ids.values()))

    def holders_of(address: str) -> dict[str, str]:
        """endpoint id -> status, of every endpoint whose address is `address` now."""
        found = [endpoint(cluster.clients[0], app_id, e) for e in every_id]
        return {e["Id"]: e["EndpointStatus"] for e in found if e and e["Address"] == address}

    for address in addresses:
        holders = holders_of(address)
        active = [e for e, endpoint_status in holders.items() if endpoint_status == "ACTIVE"]
        assert len(active) == 1, (address, holders)
        last_writer = next(e for e in holders if e not in active)
        cluster.clients[-1].update_endpoint(
            ApplicationId=app_id,
            EndpointId=last_writer,
            EndpointRequest={"ChannelType": "EMAIL", "Address": address},
        )
        assert holders_of(address) == {
            e: "ACTIVE" if e == last_writer else "INACTIVE" for e in holders
        }


class UserWatcher(threading.Thread):
    """Reads a user's endpoints again and again while the clients run; keeps the largest
    count seen."""

    def __init__(self, client: Any, app_id: str, user_id: str) -> None:
        super().__init__(daemon=True)
        self.client, self.app_id, self.user_id = client, app_id, user_id
        self.done = threading.Event()
        self.most = 0
        self.reads = 0

    def run(self) -> None:
        while not self.done.is_set():
            try:
                items = self.client.get_user_endpoints(
                    ApplicationId=self.app_id, UserId=self.user_id
                )
                self.most = max(self.most, len(items["EndpointsResponse"]["Item"]))
            except self.client.exceptions.NotFoundException:
                pass
            self.reads += 1

    def __enter__(self) -> UserWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.join()


@pytest.mark.parametrize(
    "channel", ["EMAIL", "GCM"], ids=["refused-when-full", "push-displaces-oldest"]
)
def test_a_user_never_holds_more_than_fifteen_endpoints(cluster: Cluster, channel: str) -> None:
    """G6 at every moment: 40 endpoints are linked to one user at once. EMAIL endpoints past
    the fifteenth are refused (exactly 15 get in); push endpoints displace the oldest push
    endpoint, so the user ends with 15 and the displaced ones are INACTIVE and unlinked."""
    app_id = cluster.app()
    per_client = 5

    refusals: list[str] = []

    def work(index: int) -> list[str]:
        client = cluster.client_for(index)
        accepted = []
        for k in range(per_client):
            endpoint_id = f"c{index}-{k}"
            try:
                client.update_endpoint(
                    ApplicationId=app_id,
                    EndpointId=endpoint_id,
                    EndpointRequest={
                        "ChannelType": channel,
                        "Address": f"{endpoint_id}-address",
                        "User": {"UserId": "crowded"},
                    },
                )
            except client.exceptions.BadRequestException as error:
                refusals.append(error.response["Error"]["Message"])
                continue
            accepted.append(endpoint_id)
        return accepted

    with UserWatcher(cluster.clients[-1], app_id, "crowded") as watcher:
        accepted = list(itertools.chain.from_iterable(run_clients(work)))
    assert watcher.reads > 0
    assert watcher.most <= 15
    assert all("maximum endpoint per user count:15" in message for message in refusals)
    users = cluster.clients[0].get_user_endpoints(ApplicationId=app_id, UserId="crowded")
    members = users["EndpointsResponse"]["Item"]
    assert len(members) == 15
    if channel == "EMAIL":
        assert sorted(e["Id"] for e in members) == sorted(accepted)
    else:
        assert len(accepted) == CLIENTS * per_client
        displaced = set(accepted) - {e["Id"] for e in members}
        for endpoint_id in displaced:
            found = endpoint(cluster.clients[0], app_id, endpoint_id)
            assert found is not None
            assert found["EndpointStatus"] == "INACTIVE"
            assert "UserId" not in found.get("User", {})


def test_delete_user_endpoints_racing_updates_loses_nothing(cluster: Cluster) -> None:
    """DeleteUserEndpoints while other clients keep linking new endpoints to the user: every
    endpoint accepted is afterwards either present or was returned as deleted, never both,
    never neither; an endpoint refused by G6 is neither."""
    app_id = cluster.app()
    deleters = 2

    def work(index: int) -> tuple[list[str], list[str], list[str]]:
        client = cluster.client_for(index)
        accepted: list[str] = []
        refused: list[str] = []
        deleted: list[str] = []
        for op in range(OPS_PER_CLIENT):
            if index < deleters:
                try:
                    gone = client.delete_user_endpoints(ApplicationId=app_id, UserId="racer")
                except client.exceptions.NotFoundException:
                    continue
                deleted += [e["Id"] for e in gone["EndpointsResponse"]["Item"]]
                continue
            endpoint_id = f"c{index}-{op}"
            try:
                client.update_endpoint(
                    ApplicationId=app_id,
                    EndpointId=endpoint_id,
                    EndpointRequest={"ChannelType": "SMS", "User": {"UserId": "racer"}},
                )
            except client.exceptions.BadRequestException:
                refused.append(endpoint_id)
                continue
            accepted.append(endpoint_id)
        return accepted, refused, deleted

    results = run_clients(work)
    accepted = [e for a, _, _ in results for e in a]
    refused = [e for _, r, _ in results for e in r]
    deleted = [e for _, _, d in results for e in d]
    assert len(deleted) == len(set(deleted)), "an endpoint was returned as deleted twice"
    assert set(deleted) <= set(accepted)
    for endpoint_id in accepted:
        present = endpoint(cluster.clients[0], app_id, endpoint_id) is not None
        assert present != (endpoint_id in deleted), endpoint_id
    for endpoint_id in refused:
        assert endpoint(cluster.clients[0], app_id, endpoint_id) is None


def test_tags_from_many_clients_all_survive(cluster: Cluster) -> None:
    """TagResource merges into the app's tags: concurrent taggers lose none (G10)."""
    app_id = cluster.app()
    arn = cluster.clients[0].get_app(ApplicationId=app_id)["ApplicationResponse"]["Arn"]

    def work(index: int) -> None:
        for op in range(3):
            cluster.client_for(index).tag_resource(
                ResourceArn=arn, TagsModel={"tags": {f"c{index}-{op}": "v"}}
            )

    run_clients(work)
    tags = cluster.clients[-1].list_tags_for_resource(ResourceArn=arn)["TagsModel"]["tags"]
    assert tags == {f"c{i}-{op}": "v" for i in range(CLIENTS) for op in range(3)}


def test_delete_app_racing_updates_leaves_no_endpoint_behind(cluster: Cluster) -> None:
    """An UpdateEndpoint either lands before DeleteApp (and is deleted with the app) or
    finds the app gone (404); no endpoint outlives its app (G10)."""
    app_id = cluster.app()
    created = threading.Event()

    def work(index: int) -> None:
        client = cluster.client_for(index)
        if index == 0:
            assert created.wait(60)
            client.delete_app(ApplicationId=app_id)
            return
        for op in range(OPS_PER_CLIENT):
            try:
                client.update_endpoint(
                    ApplicationId=app_id,
                    EndpointId=f"c{index}-{op}",
                    EndpointRequest={"ChannelType": "SMS", "User": {"UserId": f"u{index}"}},
                )
            except client.exceptions.NotFoundException:
                return
            created.set()

    run_clients(work)
    with pytest.raises(cluster.clients[0].exceptions.NotFoundException):
        cluster.clients[0].get_app(ApplicationId=app_id)
    assert cluster.endpoints_stored(app_id) == 0
