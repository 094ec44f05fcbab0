"""Parse the text ``busctl call`` prints for a D-Bus reply, e.g. ``a{sv} 1 "target" s "default"``.

Used to read firewalld's runtime zone settings over D-Bus, which answers in milliseconds where
``firewall-cmd`` starts a Python interpreter (seconds on a small VM).
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|[0-7]{3}|.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_BASIC_NUMBERS = set("ynqiuxtdh")


def _unescape(text: str) -> str:
    """Undo busctl's C-style escapes (``\\"``, ``\\\\``, ``\\n``, ``\\xNN``, octal)."""

    def replace(match: re.Match) -> str:
        code = match[1]
        if code.startswith("x"):
            return chr(int(code[1:], 16))
        if len(code) == 3:
            return chr(int(code, 8))
        return _ESCAPES.get(code, code)

    return _ESCAPE.sub(replace, text)


def tokens(text: str) -> list[str]:
    return [
        _unescape(match[1]) if match[1] is not None else match[2]
        for match in _TOKEN.finditer(text)
    ]


def _complete_type(signature: str, start: int) -> int:
    """The index just past the single complete type that starts at ``start``."""
    char = signature[start]
    if char == "a":
        return _complete_type(signature, start + 1)
    if char in "({":
        depth, index = 0, start
        while True:
            if signature[index] in "({":
                depth += 1
            elif signature[index] in ")}":
                depth -= 1
                if depth == 0:
                    return index + 1
            index += 1
    return start + 1


def _members(signature: str) -> list[str]:
    members, index = [], 0
    while index < len(signature):
        end = _complete_type(signature, index)
        members.append(signature[index:end])
        index = end
    return members


def _value(signature: str, stream: list[str]) -> Any:
    char = signature[0]
    if char == "a":
        element = signature[1:]
        count = int(stream.pop(0))
        if element.startswith("{"):
            key_type, value_type = _members(element[1:-1])
            return dict(
                (_value(key_type, stream), _value(value_type, stream)) for _ in range(count)
            )
        return [_value(element, stream) for _ in range(count)]
    if char == "(":
        return tuple(_value(member, stream) for member in _members(signature[1:-1]))
    if char == "v":
        return _value(stream.pop(0), stream)
    token = stream.pop(0)
    if char == "b":
        return token == "true"
    if char in _BASIC_NUMBERS:
        return float(token) if char == "d" else int(token)
    return token


def parse_reply(text: str) -> list[Any]:
    """Every value of a ``busctl call`` reply, in order: the signature comes first."""
    stream = tokens(text)
    signature = stream.pop(0)
    return [_value(member, stream) for member in _members(signature)]
