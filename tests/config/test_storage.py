"""Production static files: the same hashed URLs as WhiteNoise's storage, each computed once."""

import json

import pytest
from whitenoise.storage import CompressedManifestStaticFilesStorage

from config.storage import StaticFilesStorage


@pytest.fixture
def static_root(tmp_path):
    """A collected static root: one stylesheet and the manifest that names its hashed copy."""
    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "shop.css").write_text("body{}")
    (tmp_path / "css" / "shop.0123abcd.css").write_text("body{}")
    manifest = {"paths": {"css/shop.css": "css/shop.0123abcd.css"}, "version": "1.1"}
    (tmp_path / "staticfiles.json").write_text(json.dumps(manifest))
    return tmp_path


def test_urls_are_whitenoises_and_computed_once(static_root):
    """The remembered URL is the hashed one WhiteNoise gives; asking again computes nothing."""
    ours = StaticFilesStorage(location=static_root, base_url="/static/")
    theirs = CompressedManifestStaticFilesStorage(location=static_root, base_url="/static/")
    assert ours.url("css/shop.css") == theirs.url("css/shop.css") == "/static/css/shop.0123abcd.css"
    ours.url("css/shop.css")
    assert ours.url.cache_info().hits == 1


def test_unknown_files_still_fail_and_are_not_remembered(static_root):
    """A file missing from the manifest raises as before (strict manifest), every time."""
    storage = StaticFilesStorage(location=static_root, base_url="/static/")
    for _ in range(2):
        with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
            storage.url("css/missing.css")
    assert storage.url.cache_info().currsize == 0
