import os
import uuid

from openpinpoint.wire.request_ids import new_request_id


def test_request_ids_are_version_4_uuids_in_canonical_form() -> None:
    for _ in range(1_000):
        request_id = new_request_id()
        parsed = uuid.UUID(request_id)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == request_id


def test_request_ids_of_one_process_do_not_repeat() -> None:
    ids = [new_request_id() for _ in range(100_000)]
    assert len(set(ids)) == len(ids)


def test_a_forked_child_draws_its_own_random_part() -> None:
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read, "rb") as pipe:
        in_child = pipe.read().decode()
    assert in_child[:24] != new_request_id()[:24]
