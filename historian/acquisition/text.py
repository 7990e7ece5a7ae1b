"""Text from the network made safe to print or to write into a TOML file.

Strings that come from a server (BrowseNames, node ids, data type names) can hold newlines,
quotes, terminal escape sequences (``ESC [ ...``) or bidirectional overrides. Written raw into a
config stub they could add a section of their own; printed raw they could rewrite the terminal.

Examples
--------
>>> print(toml_string('Temp"\\n[[opcua]]'))
"Temp\\"\\n[[opcua]]"
>>> printable("ok\\x1b[2Jgone\\u202e")
'ok?[2Jgone?'
"""

from __future__ import annotations

import unicodedata

__all__ = ["printable", "toml_string"]

_SHORT = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"',
          "\\": "\\\\"}  # fmt: skip


def _unsafe(ch: str) -> bool:
    """Control, format (bidi overrides, zero-width), separator-line/paragraph and surrogates."""
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string: quotes, backslashes and every control/format character
    escaped, so that :mod:`tomllib` reads back exactly ``text`` (lone surrogates, which no UTF-8
    file can hold, become U+FFFD)."""
    out = ['"']
    for ch in text:
        if ch in _SHORT:
            out.append(_SHORT[ch])
        elif unicodedata.category(ch) == "Cs":
            out.append("\ufffd")
        elif _unsafe(ch):
            o = ord(ch)
            out.append(f"\\u{o:04X}" if o <= 0xFFFF else f"\\U{o:08X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def printable(text: str, *, limit: int = 500) -> str:
    """``text`` with every control/format character replaced by ``?`` (for terminals, log lines
    and TOML comments), cut to ``limit`` characters."""
    s = "".join("?" if _unsafe(ch) else ch for ch in text)
    return s if len(s) <= limit else s[: limit - 3] + "..."
