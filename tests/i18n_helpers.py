"""Reading a page or an email the way a member does: the words they see, in which language."""

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

# Attributes a member reads (or hears from a screen reader) as well as the text itself.
READ_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")
VOID_ELEMENTS = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
UNREAD_ELEMENTS = {"script", "style", "template"}

# English that may stand on a Japanese page: the brand, the language switch's own name, member
# IDs and the example ID, the published default password, links, and the loanword acronyms
# the seed's own Japanese uses (ユーザID (JPN番号), PINコード, JA).
ALLOWED_ENGLISH = re.compile(
    r"例\) JPN1234567|JPN\d{7}|[Jj]enco@12345|\bJENCO\b|\bJenco\b|\bENGLISH\b|https?://\S+"
    r"|(?<![A-Za-z])(?:ID|JPN|PIN|JA|URL)(?![A-Za-z])"
)
# A word: ASCII letters, perhaps hyphenated (sign-in) or with an apostrophe (don't), not part
# of a member ID, an email address or a path.
_WORD = r"(?<![A-Za-z0-9@./_-])[A-Za-z]+(?:[-'’][A-Za-z]+)*(?![A-Za-z0-9@/_-])"
ENGLISH_RUN = re.compile(rf"{_WORD}(?:[,.:;!?)”’\"]*\s+[(“‘\"]*{_WORD})+")
# Hiragana, Katakana, CJK ideographs, CJK punctuation (、。「」) and full-width forms (（）：).
JAPANESE = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


@dataclass
class Piece:
    """One thing a member reads: a text node or an attribute, and where it sits."""

    text: str
    where: str
    lang: str


@dataclass
class Form:
    action: str
    hidden: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str, str]] = field(default_factory=list)  # name, value, text


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, str]] = []  # (tag, lang) of every open element
        self.pieces: list[Piece] = []
        self.forms: list[Form] = []
        self._button: list | None = None

    @property
    def lang(self) -> str:
        return self.open[-1][1] if self.open else ""

    def _where(self, tag: str, attrs: dict) -> str:
        marks = f"#{attrs['id']}" if "id" in attrs else ""
        if "class" in attrs:
            marks += "." + ".".join(attrs["class"].split())
        return f"<{tag}{marks}>"

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        lang = attrs.get("lang", self.lang)
        if tag not in VOID_ELEMENTS:
            self.open.append((tag, lang))
        if self.unread:
            return
        for name in READ_ATTRIBUTES:
            if attrs.get(name, "").strip():
                self.pieces.append(Piece(attrs[name], f"{self._where(tag, attrs)} {name}", lang))
        input_type = attrs.get("type", "").lower()
        if tag == "input" and input_type in ("submit", "button", "reset") and attrs.get("value"):
            self.pieces.append(Piece(attrs["value"], f"{self._where(tag, attrs)} value", lang))
        if tag == "form":
            self.forms.append(Form(action=attrs.get("action", "")))
        elif tag == "input" and input_type == "hidden" and self.forms:
            self.forms[-1].hidden[attrs.get("name", "")] = attrs.get("value", "")
        elif tag == "button" and self.forms:
            self._button = [attrs.get("name", ""), attrs.get("value", ""), ""]

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                del self.open[index:]
                break
        if tag == "button" and self._button is not None:
            self.forms[-1].buttons.append(tuple(self._button))
            self._button = None

    @property
    def unread(self) -> bool:
        return any(tag in UNREAD_ELEMENTS for tag, _ in self.open)

    def handle_data(self, data):
        if self.unread or not data.strip():
            return
        where = f"<{self.open[-1][0]}>" if self.open else "text"
        self.pieces.append(Piece(" ".join(data.split()), where, self.lang))
        if self._button is not None:
            self._button[2] += data.strip()


def read(html: str) -> _Reader:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader


def english_runs(text: str) -> list[str]:
    """Runs of two or more English words left once the allowed English is taken out."""
    return ENGLISH_RUN.findall(ALLOWED_ENGLISH.sub(" • ", text))


def japanese_in(text: str) -> bool:
    return JAPANESE.search(text) is not None


def language_switch(html: str) -> Form:
    """The header's language switch (the first form posting to Django's set_language view;
    the profile page has a second one, its language setting)."""
    forms = [form for form in read(html).forms if form.action == "/i18n/setlang/"]
    assert forms, "expected a language switch form"
    return forms[0]
