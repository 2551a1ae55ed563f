"""What comes before a page's first element, made safe for the HTML parser.

A browser renders any page whose prolog is broken: every `<?...>` (an XML declaration of any
shape: well formed, with a garbage encoding, cut off before its `?>`, repeated) is a bogus
comment that ends at the first `>`, and a page with no element at all is an empty page.
lxml refuses both: a decoded string that opens with something like an encoding declaration
(`ValueError`), and a document without an element ("Document is empty"). Here the prolog is
read as the HTML tokenizer reads it (white space, comments, doctypes, bogus comments, stray
end tags), its `<?...>` tokens are left out, and an `<html>` start tag is put first when
nothing after the prolog would make one (the rest of the page is then its content).

The decision about the encoding is not taken here: `pipeline.charset` decodes first.
"""

from __future__ import annotations

import re

# One token of the prolog, as the HTML tokenizer reads it (libxml2 2.14 reads it the same way):
# white space (and byte-order marks: libxml2 skips one that a removed `<?...>` leaves first), a
# comment (`-->`, `--!>`, or the abrupt `<!-->` and `<!--->` end it), a doctype or bogus comment
# (`<!x`, `<?x`, `</` not before a letter: up to the first `>`), an end tag (its attributes read
# as in a start tag). A token that never ends does not match.
_SPACE = r"[\t\n\f\r ]"
# An attribute: a name, then either a value or no `=` at all (a quote that never closes runs
# to the end of the page, as in the tokenizer: that tag never ends).
_VALUE = r"""(?:"[^"]*+"|'[^']*+'|[^\t\n\f\r >"'][^\t\n\f\r >]*+|(?=>))"""
_ATTRIBUTE = rf"[^\t\n\f\r />][^\t\n\f\r />=]*+(?:{_SPACE}*+={_SPACE}*+{_VALUE}|(?!{_SPACE}*+=))"
_ATTRIBUTES = rf"(?:{_SPACE}|/|{_ATTRIBUTE})*+"
_PROLOG_TOKEN = re.compile(
    rf"""[\t\n\f\r \ufeff]+
    |<!--(?:-?>|.*?--!?>)
    |(?P<pi><\?[^>]*+>)
    |<!(?!--)[^>]*+>
    |</(?:[A-Za-z][^\t\n\f\r />]*+{_ATTRIBUTES}|[^A-Za-z>][^>]*+)?>""",
    re.DOTALL | re.VERBOSE,
)
# The <html> start tag, whole: only then does the parser make the root element of it.
_HTML_START = re.compile(rf"<html(?=[\t\n\f\r />]){_ATTRIBUTES}>", re.IGNORECASE)
MAX_PROLOG_TOKENS = 10_000  # past that many the prolog is noise: the page gets its <html> first


def neutralize_prolog(text: str) -> str:
    """`text` without the `<?...>` tokens of its prolog, and with `<html>` first when nothing would root it.

    Only the prolog changes: a page that opens with its doctype and `<html lang>` keeps every
    other character, so its language still reaches the metadata.
    """
    pieces: list[str] = []
    start = pos = 0
    for _ in range(MAX_PROLOG_TOKENS):
        token = _PROLOG_TOKEN.match(text, pos)
        if token is None:
            break
        if token.group("pi"):
            pieces.append(text[start:pos])
            start = token.end()
        pos = token.end()
    if text.startswith("<?", pos) and text.find(">", pos) < 0:
        pieces.append(text[start:pos])  # a `<?` that no `>` ends: a comment to the end of the page
        start = len(text)
    pieces.append(text[start:])
    out = "".join(pieces)
    return out if _has_root(text, pos) else "<html>" + out


def _has_root(text: str, pos: int) -> bool:
    """Whether the parser makes a root element of what follows the prolog (at `pos`)."""
    if pos >= len(text) or text.startswith(("<!", "</", "<?"), pos):
        return False  # nothing after the prolog, or a token of it that runs to the end
    if text[pos : pos + 5].lower() == "<html" and text[pos + 5 : pos + 6] in ("", *"\t\n\f\r />"):
        return _HTML_START.match(text, pos) is not None  # an <html> tag cut off makes nothing
    return True  # text or any other start tag: the parser makes the <html> itself
