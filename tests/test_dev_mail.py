"""`make run` prints mail on the terminal; a newcomer must be able to read it and click the link."""

import io

from django.core.mail import EmailMultiAlternatives

from accounts.mail import ReadableConsoleBackend

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
