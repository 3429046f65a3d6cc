"""Mail servers that misbehave, for the worker tests: EMAIL_BACKEND=tests.mail_backends.…

Set through the environment, so a worker in another process behaves the same:
JENCO_TEST_MAIL_TRIES  a file that gets one line per attempt to send (its time), across
                       processes and restarts;
JENCO_TEST_MAIL_FAILURES  the first this-many attempts fail as a mail server that is down;
JENCO_TEST_MAIL_HANGS  the first this-many attempts hang (a send the worker is killed in).
Otherwise the mail is delivered: to EMAIL_FILE_PATH (FlakyFileBackend), or to
django.core.mail.outbox (FlakyLocmemBackend, in the test's own process).
"""

import os
import smtplib
import time
from pathlib import Path

from django.core.mail.backends import filebased, locmem


class _Flaky:
    def send_messages(self, messages):
        tries = Path(os.environ["JENCO_TEST_MAIL_TRIES"])
        with tries.open("a") as f:
            f.write(f"{time.time()}\n")
        attempt = len(tries.read_text().splitlines())
        if attempt <= int(os.environ.get("JENCO_TEST_MAIL_HANGS", "0")):
            time.sleep(3600)
        if attempt <= int(os.environ.get("JENCO_TEST_MAIL_FAILURES", "0")):
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


class FlakyFileBackend(_Flaky, filebased.EmailBackend):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("file_path", os.environ["EMAIL_FILE_PATH"])
        super().__init__(*args, **kwargs)


class FlakyLocmemBackend(_Flaky, locmem.EmailBackend):
    pass
