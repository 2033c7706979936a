"""The email every back end sends (M10): a message that Python's own parser, like any mail
client, reads back exactly; client text cannot add headers."""

from __future__ import annotations

import email
import email.policy

import pytest

from openpinpoint.delivery.base import Email
from openpinpoint.delivery.mime import compose


def _lines(text: str) -> list[str]:
    """Text as lines: SMTP carries CRLF, however the client ended its lines."""
    return text.replace("\r\n", "\n").rstrip("\n").split("\n")


def _parsed(message: Email) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(compose(message), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("Plain", None),
        (None, "<p>Only HTML</p>"),
        ("Hé, ça va ? " + "long " * 300, "<p>Grüße</p>"),
        ("a\r\nb\nc", "<p>x</p>"),
    ],
)
def test_m10_email_parts_read_back_exactly(text: str | None, html: str | None) -> None:
    mail = _parsed(
        Email(
            message_id="abc@example.com",
            from_address="Zoë <zoe@example.com>",
            to="to@example.net",
            subject="Café ☕",
            text=text,
            html=html,
            headers=(("X-Tag", "spring"),),
            reply_to=("reply@example.com",),
        )
    )
    assert mail["Message-ID"] == "<abc@example.com>"
    assert (str(mail["From"]), mail["To"], mail["Subject"]) == (
        "Zoë <zoe@example.com>",
        "to@example.net",
        "Café ☕",
    )
    assert (mail["X-Tag"], mail["Reply-To"], mail["MIME-Version"]) == (
        "spring",
        "reply@example.com",
        "1.0",
    )
    assert mail["Date"]
    plain, rich = mail.get_body(("plain",)), mail.get_body(("html",))
    if text is not None:
        assert plain is not None
        assert _lines(plain.get_content()) == _lines(text)
    if html is not None:
        assert rich is not None
        assert _lines(rich.get_content()) == _lines(html)
    if text is not None and html is not None:
        assert mail.get_content_type() == "multipart/alternative"


def test_m10_client_text_cannot_add_headers() -> None:
    mail = _parsed(
        Email(
            message_id="x@example.com",
            from_address="a@example.com",
            to="b@example.com",
            subject="Hi\r\nBcc: victim@example.com",
            text="x",
            headers=(("X-A", "1\nBcc: other@example.com"), ("Bad Name", "v"), ("To", "c@x.com")),
        )
    )
    assert mail["Bcc"] is None
    assert mail.get_all("To") == ["b@example.com"]
    assert mail["Bad Name"] is None
