"""Every member page is valid HTML, in both languages: the Nu Html Checker reads them all.

The checker is vnu.jar from npm's `vnu-jar` (package.json; `make checkers` installs it and
Debian's Java runtime). The pages are what the test client gets for each entry of
tests/member_pages.py, each form also after it was sent empty; the checker runs once over
all of them (one Java start, not one per page).
"""

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client

from tests.member_pages import PAGES, signed_in

ROOT = Path(__file__).resolve().parent.parent
VNU = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
MISSING = "The Nu Html Checker needs Java and node_modules/vnu-jar: run `make checkers`."

pytestmark = pytest.mark.django_db


def documents(folder: Path) -> dict[str, str]:
    """Each page in each language written to `folder`: file name -> what it is."""
    written = {}
    for language in ("ja", "en"):
        for n, page in enumerate(PAGES):
            client = Client()
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
            member = signed_in(client, page.who)
            response = page.get(client, member)
            html = response.content.decode()
            assert response.status_code == page.status, (
                f"{page} ({language}) answered {response.status_code}, not {page.status}"
            )
            if page.fetch is None and isinstance(page.path, str) and not page.submit_empty:
                # The page itself, not wherever a redirect (the gate, sign-in) led instead.
                chain = response.redirect_chain
                landed = urlsplit(chain[-1][0]).path if chain else page.path
                expected = page.lands_on or urlsplit(page.path).path
                assert landed == expected, f"{page} led to {landed}, not {expected}"
            if page.status not in (400, 500):  # rendered without a request: both languages
                assert f'<html lang="{language}">' in html, f"{page} is not in {language}"
            name = f"{language}-{n:02d}-{re.sub(r'[^a-z0-9]+', '-', str(page).lower())}.html"
            (folder / name).write_text(html, encoding="utf-8")
            written[name] = f"{page} [{language}]"
    return written


def test_every_member_page_is_valid_html(tmp_path):
    java = shutil.which("java")
    if java is None or not VNU.exists():
        pytest.fail(MISSING, pytrace=False)
    pages = documents(tmp_path)
    assert len(pages) == 2 * len(PAGES)
    # nginx's own page for when no app server answers (deploy/nginx/jenco.conf)
    shutil.copy(ROOT / "static" / "errors" / "busy.html", tmp_path / "nginx-busy.html")
    pages["nginx-busy.html"] = "static/errors/busy.html (nginx's busy page)"
    checked = subprocess.run(
        [java, "-jar", str(VNU), "--format", "json", "--errors-only", "--exit-zero-always"]
        + sorted(str(tmp_path / name) for name in pages),
        capture_output=True,
        text=True,
        timeout=600,
    )
    messages = json.loads(checked.stderr)["messages"]
    problems = [
        f"{pages.get(Path(m.get('url', '')).name, m.get('url'))}: {m['message']}"
        f" (line {m.get('lastLine')}: {m.get('extract', '').strip()!r})"
        for m in messages
    ]
    assert not problems, f"{len(problems)} HTML errors:\n" + "\n".join(problems)
