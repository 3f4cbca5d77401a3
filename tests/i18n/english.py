"""Finding English left in text that should be in another language.

A sentence is English when it holds two or more of these words, none of which is a word of Romanian, German,
French or Spanish. Proper nouns and product names (PROPER_NOUNS) are removed first.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

ENGLISH_WORDS = frozenset(
    "the your you and with this please will have has been which from that there their they were would "
    "should could when what where into about only after before must here".split()
)
PROPER_NOUNS = [
    "Expert Software Applications SRL",
    "Hetzner Online GmbH",
    "Mindomo",
    "Maple Grove Elementary",
    "Maple Grove",
    "Google Analytics",
    "Braintree",
    "2Checkout",
    "PayPal",
    "Office365",
]
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def english_sentences(text: str) -> list[str]:
    """The lines of ``text`` that read as English."""
    found = []
    for line in re.split(r"[\n\r]+|(?<=[.!?])\s+", text):
        cleaned = line
        for noun in PROPER_NOUNS:
            cleaned = cleaned.replace(noun, " ")
        words = [w.lower() for w in WORD.findall(cleaned)]
        if sum(1 for w in words if w in ENGLISH_WORDS) >= 2:
            found.append(line.strip())
    return found


class _VisibleText(HTMLParser):
    """The text a reader sees (and hears: aria-labels, alt, placeholders, titles), skipping script and style."""

    SKIP = {"script", "style", "template"}
    READ_ATTRIBUTES = {"aria-label", "alt", "placeholder", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping += 1
        for name, value in attrs:
            if name in self.READ_ATTRIBUTES and value:
                self.parts.append(value)
            if tag == "input" and name == "value" and value and ("type", "submit") in attrs:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)
