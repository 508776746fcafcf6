"""Request bodies are capped in Django too (DATA_UPLOAD_MAX_MEMORY_SIZE, 256 KiB by default), as
deploy/nginx.conf caps them, so a deployment without nginx (a PaaS) has the same bound: a body
over it is answered 400, never 500, before the card guard or a view parses it."""

import json
import re

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import override_settings
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from tests.support import ROOT, load_settings

LIMIT = 256 * 1024
FORM = "application/x-www-form-urlencoded"


@csrf_exempt
def echo(request):
    """How much of the body the view got: the form's note, or the raw body otherwise."""
    if request.content_type in (FORM, "multipart/form-data"):
        return HttpResponse(str(len(request.POST["note"])))
    return HttpResponse(str(len(request.body)))


urlpatterns = [path("echo/", echo), path("", include("config.urls"))]


def form_of(size: int) -> str:
    """A url-encoded form of exactly `size` bytes."""
    return "note=" + "a" * (size - len("note="))


@pytest.fixture
def errors(caplog):
    """Error records other than Django's own note of the refusal (django.security.
    RequestDataTooBig): a 500 would log "Internal Server Error" on django.request."""
    caplog.set_level("INFO")
    return lambda: [
        r
        for r in caplog.records
        if r.levelname in ("ERROR", "CRITICAL") and r.name != "django.security.RequestDataTooBig"
    ]


def test_the_default_limit_is_256_kib_as_nginx_has_it():
    """The tests run the default, and it is deploy/nginx.conf's client_max_body_size."""
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == LIMIT
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    [size] = re.findall(r"^\s*client_max_body_size\s+(\d+)k;", nginx, re.MULTILINE)
    assert int(size) * 1024 == LIMIT


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize("path", ["/echo/", "/cart/add/"])
def test_a_form_just_over_the_limit_gets_400_not_500(client, errors, path):
    response = client.post(path, form_of(LIMIT + 1), content_type=FORM)
    assert response.status_code == 400
    assert errors() == []


@override_settings(ROOT_URLCONF=__name__)
def test_a_form_at_the_limit_reaches_the_view(client, errors):
    response = client.post("/echo/", form_of(LIMIT), content_type=FORM)
    assert response.status_code == 200
    assert int(response.content) == LIMIT - len("note=")
    assert errors() == []


@override_settings(ROOT_URLCONF=__name__)
def test_json_and_multipart_bodies_are_capped_too(client, errors):
    """A raw body (JSON: webhooks, CSP reports) and a multipart form's fields count as well."""
    note = "a" * LIMIT
    response = client.post("/echo/", json.dumps({"note": note}), content_type="application/json")
    assert response.status_code == 400
    response = client.post("/echo/", {"note": note})  # the test client's default: multipart
    assert response.status_code == 400
    small = client.post("/echo/", json.dumps({"note": "a" * 1000}), content_type="application/json")
    assert small.status_code == 200
    assert errors() == []


@override_settings(ROOT_URLCONF=__name__, DATA_UPLOAD_MAX_MEMORY_SIZE=4 * LIMIT)
def test_a_larger_limit_lets_a_larger_form_through(client):
    response = client.post("/echo/", form_of(LIMIT + 1), content_type=FORM)
    assert response.status_code == 200


def test_the_limit_comes_from_the_environment(tmp_path):
    """DATA_UPLOAD_MAX_MEMORY_SIZE in the environment sets it; unset, 256 KiB."""
    expr = "settings.DATA_UPLOAD_MAX_MEMORY_SIZE"
    result = load_settings({"DEBUG": "true"}, tmp_path, expr)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(LIMIT)
    result = load_settings(
        {"DEBUG": "true", "DATA_UPLOAD_MAX_MEMORY_SIZE": "1048576"}, tmp_path, expr
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1048576"


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_limit_that_is_not_positive_is_refused(tmp_path, value):
    """0 or less would refuse every body (or, to Django, mean nothing): a configuration error."""
    result = load_settings({"DEBUG": "true", "DATA_UPLOAD_MAX_MEMORY_SIZE": value}, tmp_path)
    assert result.returncode != 0
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE must be a positive number" in result.stderr
