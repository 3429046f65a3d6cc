"""What a member recognises a device by: browser and system, read from the user agent.

A few lines rather than a library: members need "Chrome on Android", not a version tree, and
an unknown agent just reads as such.
"""

import re

# Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari", Android says "Linux".
_BROWSERS = [
    ("Edge", r"Edg(e|A|iOS)?/"),
    ("Opera", r"OPR/|Opera"),
    ("Samsung Internet", r"SamsungBrowser/"),
    ("Firefox", r"Firefox/|FxiOS/"),
    ("Chrome", r"Chrome/|CriOS/"),
    ("Safari", r"Safari/"),
]
_SYSTEMS = [
    ("iPhone", r"iPhone"),
    ("iPad", r"iPad"),
    ("Android", r"Android"),
    ("Windows", r"Windows"),
    ("macOS", r"Macintosh|Mac OS X"),
    ("ChromeOS", r"CrOS"),
    ("Linux", r"Linux"),
]


def describe(user_agent: str) -> tuple[str, str]:
    """(browser, system), each "" when not recognised."""
    browser = next((name for name, pattern in _BROWSERS if re.search(pattern, user_agent)), "")
    system = next((name for name, pattern in _SYSTEMS if re.search(pattern, user_agent)), "")
    return browser, system
