"""An `Email` as the RFC 5322 message that every email back end sends or stores, so that
SMTP, SES and the outbox carry the same bytes and the same `Message-ID` (M5, M10)."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate

from openpinpoint.delivery.base import Email


def compose(message: Email) -> bytes:
    if message.raw is not None:
        return _raw_with_our_id(message)
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["Message-ID"] = f"<{message.message_id}>"
    mail["Date"] = formatdate(usegmt=True)
    mail["From"] = message.from_address
    mail["To"] = message.to
    mail["Subject"] = message.subject
    if message.reply_to:
        mail["Reply-To"] = ", ".join(message.reply_to)
    for name, value in message.headers:
        mail[name] = value
    if message.html is None:
        mail.set_content(message.text or "")
    elif message.text is None:
        mail.set_content(message.html, subtype="html")
    else:
        mail.set_content(message.text)
        mail.add_alternative(message.html, subtype="html")
    return mail.as_bytes()


def _raw_with_our_id(message: Email) -> bytes:
    """`RawEmail` is sent as the client wrote it, except that its `Message-ID` becomes the
    one OpenPinpoint reports (the result's MessageId must find the message) and a missing
    `Date` is added, as a submission server would."""
    assert message.raw is not None
    mail = BytesParser(policy=email.policy.SMTP).parsebytes(message.raw)
    del mail["Message-ID"]
    mail["Message-ID"] = f"<{message.message_id}>"
    if mail["Date"] is None:
        mail["Date"] = formatdate(usegmt=True)
    return mail.as_bytes()
