"""How JENCO's tools and browser tests start Chromium: Debian's build, never a downloaded one.

`make browser` installs it (apt-get install chromium fonts-noto-cjk); `playwright install` is
never run, so Playwright gets the executable by path.
"""

import re
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root in containers, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
MISSING = (
    f"Chromium is missing at {CHROMIUM}. Run `make browser` (or `sudo apt-get install "
    "chromium fonts-noto-cjk`); Playwright's own browser downloads are not used."
)

# Console errors the app is known to cause and that are reported to the lead: the screenshot
# tool and the browser tests print them but do not fail on them. Remove an entry once it is
# fixed; never add one to get a run green without reporting it.
KNOWN_CONSOLE_ERRORS: list[re.Pattern] = []


def launch_args() -> dict:
    """Keyword arguments for `playwright.chromium.launch(...)`; raises if Chromium is missing."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(MISSING)
    return {"executable_path": str(CHROMIUM), "args": list(CHROMIUM_ARGS), "headless": True}


def describe(message) -> str | None:
    """One line for a console message that is an error (CSP violations are), else None."""
    if message.type not in ("error", "assert"):
        return None
    kind = "CSP violation" if "Content Security Policy" in message.text else "console error"
    url = (message.location or {}).get("url")
    return f"{kind}: {message.text}" + (f" [{url}]" if url else "")


def is_known(line: str) -> bool:
    return any(pattern.search(line) for pattern in KNOWN_CONSOLE_ERRORS)
