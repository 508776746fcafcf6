"""Gunicorn settings for production: `gunicorn -c deploy/gunicorn.conf.py shop.wsgi`.

Logging is the point of this file. Gunicorn's access log writes each request line, query
string included, and its error log writes worker tracebacks; neither goes through Django's
LOGGING. Every handler below carries shop.logscrub.ScrubFilter, so a card number typed into a
GET form or a secret key in a traceback is masked before it is written (Omise's guide: card
details must not be "captured in server logs").
"""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = "-"  # stdout, through the scrubbing handler configured below
errorlog = "-"

_scrubbed_stream = {"class": "logging.StreamHandler", "formatter": "generic", "filters": ["scrub"]}

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"scrub": {"()": "shop.logscrub.ScrubFilter"}},
    "formatters": {
        "generic": {
            "format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
            "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
        },
    },
    "handlers": {
        "console": {**_scrubbed_stream, "stream": "ext://sys.stdout"},
        "error_console": {**_scrubbed_stream, "stream": "ext://sys.stderr"},
    },
    "loggers": {
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.error": {"handlers": ["error_console"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": "INFO"},
}
