"""Every shopper-facing string has its Thai translation (scripts/translations.py)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

from django.utils import translation

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "translations.py"


def _module():
    spec = importlib.util.spec_from_file_location("translations", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_wrapped_string_has_a_thai_translation():
    """makemessages over a copy of the project finds no string without Thai (a string wrapped
    since the catalogue was last updated, or a fuzzy guess, is listed by the script)."""
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(SCRIPT), "check"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_lists_empty_and_fuzzy_translations(tmp_path):
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: th\\n"\n\n'
        'msgid "Done"\nmsgstr "เสร็จแล้ว"\n\n'
        'msgid "Empty"\nmsgstr ""\n\n'
        '#, fuzzy\nmsgid "Guessed"\nmsgstr "เดา"\n\n'
        'msgid ""\n"Two "\n"lines"\nmsgstr ""\n\n'
        'msgid "%(n)s item"\nmsgid_plural "%(n)s items"\nmsgstr[0] ""\n',
        encoding="utf-8",
    )
    assert _module().untranslated(po) == ["Empty", "Guessed", "Two lines", "%(n)s item"]


def test_the_compiled_catalogue_is_loaded():
    with translation.override("th"):
        assert translation.gettext("Add to cart") == "ใส่ตะกร้า"
