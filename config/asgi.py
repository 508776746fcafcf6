"""ASGI entry point, for servers that speak ASGI."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()
# An unreadable Content-Type header becomes a 400 from security.charset, not the server's bare 500.
from security.charset import ShopASGIRequest  # noqa: E402 - needs the settings configured above

application.request_class = ShopASGIRequest
