"""Development mail: on the terminal as a person reads it, or in files, one per message."""

import datetime
import os
import uuid

from django.core.mail.backends import console, filebased


class ReadableConsoleBackend(console.EmailBackend):
    """Django's console backend prints the raw MIME message: Japanese text as base64, and
    long links cut by quoted-printable line breaks. This prints the plain-text part as text,
    so whoever runs `make run` can read the mail and click the reset link."""

    def write_message(self, message):
        parts = "text" + "".join(f" + {kind}" for _, kind in message.alternatives)
        self.stream.write(
            f"From: {message.from_email}\n"
            f"To: {', '.join(message.to)}\n"
            f"Subject: {message.subject}\n"
            f"({parts}; the text part follows)\n\n"
            f"{message.body}\n"
        )
        self.stream.write("-" * 79 + "\n")


class FileBackend(filebased.EmailBackend):
    """Django's file backend (make serve's mailbox, var/mail/), with a file of its own for each
    connection, and so for each message sent: Django's names the file by the second and the
    backend object's id(), which Python gives again to the next backend once the last is
    gone, so two messages sent within a second went into one file, and "the newest file"
    showed the first of them (helper-96)."""

    def _get_filename(self):
        if self._fname is None:
            now = datetime.datetime.now()
            name = f"{now:%Y%m%d-%H%M%S-%f}-{uuid.uuid4().hex[:8]}.log"
            self._fname = os.path.join(self.file_path, name)
        return self._fname
