"""`make run` prints mail on the terminal; a newcomer must be able to read it and click the link.
`make serve` writes it into var/mail/, a file per message."""

import email
import email.policy
import io

from django.core.mail import EmailMultiAlternatives

from accounts.mail import FileBackend, ReadableConsoleBackend

LINK = "https://jenco.example/password/reset/MQ/" + "d" * 6 + "-" + "f" * 32 + "/"


def test_japanese_mail_prints_as_text_with_the_link_whole():
    stream = io.StringIO()
    message = EmailMultiAlternatives(
        subject="【JENCO】パスワード再設定用のURL",
        body=f"山田 太郎 様\n\n新しいパスワードを設定するには、次のURLを開いてください。\n{LINK}\n",
        to=["taro@example.com"],
    )
    message.attach_alternative("<p>html</p>", "text/html")
    ReadableConsoleBackend(stream=stream).send_messages([message])
    printed = stream.getvalue()
    assert "Subject: 【JENCO】パスワード再設定用のURL" in printed
    assert "新しいパスワードを設定するには" in printed
    assert f"\n{LINK}\n" in printed
    assert "To: taro@example.com" in printed


def test_make_serves_mailbox_has_a_file_for_each_message_sent_at_once(tmp_path):
    # Django's file backend named its file by the second and by the backend's id(), which
    # the next backend takes over: a PIN notice and a password notice sent within the same
    # second went into one file, and "the newest file" showed the first (helper-96).
    sent = ["PIN", "password", "mailbox code"]
    for message in [EmailMultiAlternatives(s, f"{s}\n", to=["t@example.com"]) for s in sent]:
        FileBackend(file_path=tmp_path).send_messages([message])  # as the worker: one each

    files = sorted(tmp_path.iterdir())  # named by when they were written
    subjects = [
        email.message_from_bytes(f.read_bytes(), policy=email.policy.default)["Subject"]
        for f in files
    ]
    assert subjects == sent
