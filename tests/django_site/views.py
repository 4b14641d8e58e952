"""Views that send mail as apps do: `send_mail`, and an `EmailMessage` with attachments."""

from __future__ import annotations

from django.core.mail import EmailMessage, send_mail
from django.http import HttpRequest, HttpResponse

#: The invoice's attachments: a PDF-like binary file and a UTF-8 text file.
PDF = bytes(range(256)) * 4
NOTES = "Total: 12 €\n".encode()


def signup(request: HttpRequest) -> HttpResponse:
    """Send the welcome mail to the address posted."""
    to = request.POST["email"]
    send_mail("Welcome", f"Hi {to}, click https://example.com/verify?t=1", None, [to])
    return HttpResponse("sent")


def invoice(request: HttpRequest) -> HttpResponse:
    """Send an invoice with two attachments, to the address posted and a Cc."""
    message = EmailMessage(
        subject="Your invoice",
        body="Attached.",
        to=[request.POST["email"]],
        cc=["accounts@example.com"],
    )
    message.attach("invoice.pdf", PDF, "application/pdf")
    message.attach("notes.txt", NOTES, "text/plain")
    message.send()
    return HttpResponse("sent")
