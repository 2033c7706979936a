"""The README's "Sending messages" example works on a fresh install: no flags, the outbox
in the data directory (M10)."""

from __future__ import annotations

import contextlib
import io
import mailbox
import re
from pathlib import Path

from conftest import RunningServer

README = Path(__file__).resolve().parent.parent / "README.md"


def test_m10_the_readme_example_sends_to_the_outbox_of_a_fresh_install(tmp_path: Path) -> None:
    section = README.read_text().split("## Sending messages", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    server = RunningServer(None, env={"OPENPINPOINT_DATA": str(tmp_path)}, cwd=tmp_path)
    try:
        pinpoint = server.client()
        app_id = pinpoint.create_app(CreateApplicationRequest={"Name": "shop"})[
            "ApplicationResponse"
        ]["Id"]
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(match[1], {"pinpoint": pinpoint, "app_id": app_id})
    finally:
        server.stop()
    assert "'DeliveryStatus': 'SUCCESSFUL'" in printed.getvalue()
    (mail,) = mailbox.Maildir(tmp_path / "outbox" / "email", create=False)
    assert mail["Subject"] == "Your order"
    assert "not delivered" in server.log
