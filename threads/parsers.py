import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, refusing with a 400 what it would otherwise let
    through to crash later: JSON nested too deep for Python's parser, and
    unpaired surrogates (valid JSON escapes, but not text any database stores)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            raw = stream.read().decode(encoding) if stream is not None else ""
        except LookupError:
            # An unknown charset, or a bytes-to-bytes codec such as base64.
            raise ParseError(f"JSON parse error - {encoding!r} is not a text encoding.") from None
        except UnicodeError:
            raise ParseError(f"JSON parse error - the body is not valid {encoding}.") from None
        try:
            data = json.loads(raw, parse_constant=self._reject_constant)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ParseError("JSON parse error - the body contains an unpaired surrogate (invalid Unicode).") from None
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        return data

    @staticmethod
    def _reject_constant(name: str):
        raise ValueError(f"{name} is not valid JSON.")
