"""WSGI entry point (gunicorn config.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
# An unreadable Content-Type header becomes a 400 from security.charset, not the server's bare 500.
from security.charset import ShopWSGIRequest  # noqa: E402 - needs the settings configured above

application.request_class = ShopWSGIRequest
