"""A one-view URLconf for the benchmark: the view reads the form and logs one line."""

import logging

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger("bench.view")


@csrf_exempt
def receive(request):
    # What a real view does with a POST: parse it, use a field, log something about it.
    note = request.POST.get("note", "")
    logger.info("note of %d characters received on %s", len(note), request.path)
    return HttpResponse("ok")


urlpatterns = [path("receive/", receive)]
