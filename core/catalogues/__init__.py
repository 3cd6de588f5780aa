"""The sentences users read, one module per language, each one dict from key to sentence.

:mod:`core.messages` is the API (``text(key, locale, **values)``); these modules only
hold the words. Every key is in every language with the same placeholders (and the
same conversions and format specs): ``tests/test_catalogues.py`` fails otherwise.
Command names (``/ask``) and words a user types literally (``--size square``,
``stats``) stay as they are in every language; janken moves are read in either
language whatever the locale (:func:`core.janken.parse_move`).
"""
