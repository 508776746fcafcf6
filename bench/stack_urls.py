"""The shop's URLs plus the benchmark's baseline: a bare view rendering a tiny template.

Only bench/settings.py uses this URLconf; production URLs never contain the bare view.
"""

from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

BARE = engines["django"].from_string("<!doctype html><title>{{ title }}</title><p>{{ text }}</p>")


def bare(request):
    """What any Django page costs at least: middleware, routing, one template, no queries."""
    return HttpResponse(BARE.render({"title": "Bench", "text": "Hello"}, request))


urlpatterns = [
    path("bench/bare/", bare),
    path("", include("config.urls")),
]
