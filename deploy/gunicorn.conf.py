"""Gunicorn settings for production: `gunicorn -c deploy/gunicorn.conf.py config.wsgi`.

Logging is the point of this file. Gunicorn's access log writes each request line, query
string included, and its error log writes worker tracebacks; neither goes through Django's
LOGGING. Every handler below carries security.logscrub.ScrubFilter, so a card number typed into a
GET form or a secret key in a traceback is masked before it is written (Omise's guide: card
details must not be "captured in server logs").

Every value can be set from the environment, so one file serves a PaaS (which sets PORT and
often WEB_CONCURRENCY), a VM behind nginx (HOST=127.0.0.1) and `make run-prod`.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


# --- Where and how many --------------------------------------------------------------------
# A PaaS routes to $PORT on all interfaces; behind nginx on a VM set HOST=127.0.0.1 so nothing
# reaches gunicorn except through the proxy.
bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104
# Sync workers: each handles one request at a time. The checkout waits on Omise (up to the
# client's timeout), so a few more workers than cores keeps the shop answering meanwhile.
workers = _int("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8))
# Longer than the Omise client's own timeouts, so a slow charge ends in the app's
# reconcile path (the attempt is marked unknown) rather than in a killed worker.
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)  # finish in-flight checkouts on deploy
keepalive = 5  # behind nginx or a PaaS router, which reuse connections
# Recycle workers now and then (with jitter, so not all at once) to bound slow memory growth.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = 200
# Heartbeat files in memory, not on a possibly slow container disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# Only the local proxy may set X-Forwarded-* for gunicorn (Django has its own settings:
# SECURE_PROXY_SSL_HEADER, TRUSTED_PROXY_COUNT and TRUSTED_PROXY_NETWORKS).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# --- Logs ----------------------------------------------------------------------------------
accesslog = "-"  # stdout, through the scrubbing handler configured below
errorlog = "-"

# LOG_FORMAT=json (as for Django, config/settings.py): gunicorn's lines as JSON objects too, so a
# log aggregator gets one format from the whole process.
_format = "json" if os.environ.get("LOG_FORMAT", "plain") == "json" else "generic"
_scrubbed_stream = {"class": "logging.StreamHandler", "formatter": _format, "filters": ["scrub"]}

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"scrub": {"()": "security.logscrub.ScrubFilter"}},
    "formatters": {
        "generic": {
            "format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
            "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
        },
        "json": {"()": "config.logformat.JsonFormatter"},
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
