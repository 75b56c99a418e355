"""Usernames as people read them: one canonical form per name, one script per
name, and no look-alike of a name that is taken.

- `canonical(name)`: NFKC, then casefold (and NFKC again, as Unicode's
  NFKC_Casefold does): `ＡＬＩＣＥ`, `ALICE` and `Alice` are all `alice`, and
  `ᴬdmin` is `admin`. Stored unique (models.UserCanonicalName), so the
  database refuses a second account with the same canonical name however
  many registrations race.
- `scripts_problem(name)`: letters from more than one script (Cyrillic `а`
  in `аlice`) are refused. Common characters (digits, `_ . @ + -`) and
  combining marks go with any script; Han may go with Hiragana and Katakana
  (Japanese), Bopomofo or Hangul, as Unicode's "highly restrictive" level.
- `skeleton(name)`: the canonical form with every non-ASCII character that
  has an ASCII look-alike in Unicode's confusables data (the
  confusable-homoglyphs package) replaced by it: all-Cyrillic `аре` has the
  skeleton `ape`. A name whose skeleton is another user's is refused.
  ASCII characters are left alone, so `bob1` and `bobl` are both allowed, as
  they always were.
"""

import unicodedata

from confusable_homoglyphs.categories import alias
from confusable_homoglyphs.confusables import confusables_data

IGNORED_SCRIPTS = {"COMMON", "INHERITED"}
ALLOWED_MIXES = [{"HAN", "HIRAGANA", "KATAKANA"}, {"HAN", "BOPOMOFO"}, {"HAN", "HANGUL"}]


def normalized(name: str) -> str:
    """What Django stores (AbstractBaseUser.normalize_username): NFKC."""
    return unicodedata.normalize("NFKC", name)


def canonical(name: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def scripts_of(name: str) -> set[str]:
    return {alias(char) for char in normalized(name)} - IGNORED_SCRIPTS


def scripts_problem(name: str) -> str | None:
    """Why `name` mixes scripts, or None if it does not."""
    scripts = scripts_of(name)
    if len(scripts) <= 1 or any(scripts <= allowed for allowed in ALLOWED_MIXES):
        return None
    return f"A username must be written in one script; this one mixes {', '.join(sorted(s.title() for s in scripts))}."


def _ascii_lookalike(char: str) -> str:
    if char.isascii():
        return char
    for homoglyph in confusables_data.get(char, ()):
        if homoglyph["c"].isascii():
            return homoglyph["c"].casefold()
    return char


def skeleton(name: str) -> str:
    return "".join(_ascii_lookalike(char) for char in canonical(name))
