"""Development mail on the terminal, as a person reads it."""

from django.core.mail.backends import console


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
