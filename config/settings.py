"""Settings for the Omise reference storefront: one module, driven by the environment.

Every value comes from an environment variable of the same name (or from an optional `.env`
file, see `.env.example`). Development (`DEBUG=true`) works with nothing else set and talks to
the offline Omise sandbox. Production (`DEBUG` unset or false) refuses to start while anything
it needs is missing: there is no insecure fallback to drift into.
"""

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # local state of a development checkout (git-ignored)

env = environ.Env()
# Real environment variables win over the file; ENV_FILE="" disables it (the tests do).
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE)

# Secure by default: a production host that forgets DEBUG gets production, never debug pages.
DEBUG = env.bool("DEBUG", default=False)

missing: list[str] = []  # what production lacks; reported all at once below


def _dev_secret_key() -> str:
    """A random key kept in var/ so development sessions survive restarts; never production."""
    path = VAR_DIR / "dev-secret-key"
    if not path.exists():
        VAR_DIR.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = _dev_secret_key()
    else:
        missing.append("SECRET_KEY")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    if DEBUG:
        ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
    else:
        missing.append("ALLOWED_HOSTS")

# --- Omise -----------------------------------------------------------------------------------
# Keys live in the environment only (Omise's guide: never commit them). Without keys in
# development the shop talks to the sandbox app, which plays Omise's test mode offline.
OMISE_PUBLIC_KEY = env.str("OMISE_PUBLIC_KEY", default="")
OMISE_SECRET_KEY = env.str("OMISE_SECRET_KEY", default="")
OMISE_WEBHOOK_SECRET = env.str("OMISE_WEBHOOK_SECRET", default="")
OMISE_SANDBOX = env.bool("OMISE_SANDBOX", default=DEBUG and not OMISE_SECRET_KEY)

# The shop's own origin in development, and the sandbox on a *different* origin (localhost vs
# 127.0.0.1 are distinct to a browser), so the card frame is cross-origin as Omise's is.
PORT = env.int("PORT", default=8000)
SHOP_ORIGIN = env.str("SHOP_ORIGIN", default=f"http://127.0.0.1:{PORT}")
SANDBOX_ORIGIN = env.str("SANDBOX_ORIGIN", default=f"http://localhost:{PORT}")


def _sandbox_credential(purpose: str, size: int = 24) -> bytes:
    """Derive a stable sandbox credential from SECRET_KEY: generated, never written in code."""
    return hmac.new(
        SECRET_KEY.encode(), f"omise-sandbox:{purpose}".encode(), hashlib.sha256
    ).digest()[:size]


if OMISE_SANDBOX:
    if not DEBUG:
        raise ImproperlyConfigured(
            "OMISE_SANDBOX is a development tool and cannot run with DEBUG off. "
            "Set OMISE_PUBLIC_KEY, OMISE_SECRET_KEY and OMISE_WEBHOOK_SECRET instead."
        )
    OMISE_PUBLIC_KEY = OMISE_PUBLIC_KEY or "pkey_test_" + _sandbox_credential("pkey").hex()[:19]
    OMISE_SECRET_KEY = OMISE_SECRET_KEY or "skey_test_" + _sandbox_credential("skey").hex()[:19]
    OMISE_WEBHOOK_SECRET = (
        OMISE_WEBHOOK_SECRET or base64.b64encode(_sandbox_credential("whsec", 32)).decode()
    )
    _omise_api, _omise_vault = f"{SANDBOX_ORIGIN}/sandbox/api", f"{SANDBOX_ORIGIN}/sandbox/vault"
    _omise_js = f"{SANDBOX_ORIGIN}/sandbox/omise.js"
else:
    _omise_api, _omise_vault = "https://api.omise.co", "https://vault.omise.co"
    _omise_js = "https://cdn.omise.co/omise.js"
    if not DEBUG:
        missing += [
            name
            for name in ("OMISE_PUBLIC_KEY", "OMISE_SECRET_KEY", "OMISE_WEBHOOK_SECRET")
            if not globals()[name]
        ]

OMISE_API_URL = env.str("OMISE_API_URL", default=_omise_api)
OMISE_VAULT_URL = env.str("OMISE_VAULT_URL", default=_omise_vault)
OMISE_JS_URL = env.str("OMISE_JS_URL", default=_omise_js)
# An HTTPS proxy with a fixed egress IP for Omise calls only (see docs/keys.md).
OMISE_PROXY_URL = env.str("OMISE_PROXY_URL", default="")
# Seconds to connect to Omise and to wait for its answer. A charge whose answer times out is
# "outcome unknown" and reconciled (docs/operations.md), never charged again.
OMISE_TIMEOUT_CONNECT = env.float("OMISE_TIMEOUT_CONNECT", default=5.0)
OMISE_TIMEOUT_READ = env.float("OMISE_TIMEOUT_READ", default=30.0)
# How long the account's capability (GET /capability) is used before it is read again.
OMISE_CAPABILITY_CACHE_SECONDS = env.int("OMISE_CAPABILITY_CACHE_SECONDS", default=3600)
# "automatic": card charges are captured at once. "manual": they are only authorized, and staff
# capture (in full or in part) or release them from the order's admin page before the
# authorization expires (docs/operations.md).
OMISE_CAPTURE = env.str("OMISE_CAPTURE", default="automatic")
if OMISE_CAPTURE not in {"automatic", "manual"}:
    raise ImproperlyConfigured("OMISE_CAPTURE must be 'automatic' or 'manual'.")
# Who is e-mailed when a dispute opens or its deadline nears (default: the ADMINS).
STAFF_NOTIFY_EMAILS = env.list("STAFF_NOTIFY_EMAILS", default=[])
# Omise's dispute object carries no deadline: the shop counts this many days from the dispute's
# creation (set it to what Omise's dispute e-mail says), and warns staff DISPUTE_WARN_DAYS before.
DISPUTE_RESPOND_WITHIN_DAYS = env.int("DISPUTE_RESPOND_WITHIN_DAYS", default=7)
DISPUTE_WARN_DAYS = env.int("DISPUTE_WARN_DAYS", default=2)
# Sandbox only (docs/sandbox.md): where it POSTs webhook events, and how — "async" (a
# background thread, no extra process) or "manual" (tests deliver through a hook).
SANDBOX_WEBHOOK_URL = env.str("SANDBOX_WEBHOOK_URL", default=f"{SHOP_ORIGIN}/webhooks/omise/")
SANDBOX_WEBHOOK_DELIVERY = env.str("SANDBOX_WEBHOOK_DELIVERY", default="async")
SANDBOX_3DS = env.str("SANDBOX_3DS", default="cards")  # "all": 3-D Secure on every card
# What the sandbox's account can take (its GET /capability): a comma-separated list of methods
# (default: every one it models, sandbox/sources.py), the installments' minimum monthly amount
# in satang, and whether the merchant pays the installments' interest.
SANDBOX_PAYMENT_METHODS = env.list("SANDBOX_PAYMENT_METHODS", default=None)
SANDBOX_INSTALLMENT_MIN_AMOUNT = env.int("SANDBOX_INSTALLMENT_MIN_AMOUNT", default=200000)
SANDBOX_ZERO_INTEREST_INSTALLMENTS = env.bool("SANDBOX_ZERO_INTEREST_INSTALLMENTS", default=False)
# The card guard (security/cardguard.py) skips only the sandbox's vault, which plays Omise and so
# receives card numbers by design; production mounts no sandbox and has no exemption at all.
CARD_GUARD_EXEMPT_PATHS = ["/sandbox/vault/"] if OMISE_SANDBOX else []
# Omise only delivers webhooks over HTTPS; refusing plain HTTP here also stops a proxy
# misconfiguration from silently downgrading. Always on in production; development (no local
# TLS) may opt in.
WEBHOOK_REQUIRE_HTTPS = not DEBUG or env.bool("WEBHOOK_REQUIRE_HTTPS", default=False)
SHOP_NAME = env.str("SHOP_NAME", default="Lanna Goods")
SHOP_CURRENCY = "THB"

if missing:
    raise ImproperlyConfigured(
        "Production mode (DEBUG is off) needs these environment variables: "
        + ", ".join(missing)
        + ". See .env.example for what each one is and where its value comes from; "
        "for local development set DEBUG=true."
    )

# --- Django ----------------------------------------------------------------------------------
INSTALLED_APPS = [
    "security.apps.OTPAdminConfig",  # django.contrib.admin behind 2FA (security/otp_admin.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "security",
    "shop",
    "mails",
    "checkout",
]
if OMISE_SANDBOX:
    INSTALLED_APPS.append("sandbox")

# Background work (Django's tasks framework). Immediate by default: nothing to run besides the
# web server. Production can queue webhook processing in the database and run a worker
# (`manage.py db_worker`): TASKS_BACKEND=django_tasks_db.DatabaseBackend.
TASKS = {
    "default": {
        "BACKEND": env.str(
            "TASKS_BACKEND", default="django.tasks.backends.immediate.ImmediateBackend"
        )
    }
}
if TASKS["default"]["BACKEND"].startswith("django_tasks_db."):
    INSTALLED_APPS.append("django_tasks_db")
# "inline": a webhook event is applied while Omise waits, and an error answers 500 so Omise
# retries. "deferred": the receiver verifies, records and queues the event, answering at once;
# a worker applies it (failures are settled by `reconcile_payments`, see docs/operations.md).
WEBHOOK_PROCESSING = env.str("WEBHOOK_PROCESSING", default="inline")
if WEBHOOK_PROCESSING not in {"inline", "deferred"}:
    raise ImproperlyConfigured("WEBHOOK_PROCESSING must be 'inline' or 'deferred'.")
if WEBHOOK_PROCESSING == "deferred" and "Immediate" in TASKS["default"]["BACKEND"]:
    raise ImproperlyConfigured(
        "WEBHOOK_PROCESSING=deferred needs a queue with a worker, e.g. "
        "TASKS_BACKEND=django_tasks_db.DatabaseBackend and `manage.py db_worker`."
    )

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "security.headers.SecurityHeadersMiddleware",
    # Refuses charsets that are no ASCII-compatible text encoding (security/charset.py), so the
    # card guard and every view read ASCII digits as ASCII digits.
    "security.charset.RequestCharsetMiddleware",
    # Before static files and sessions: a request carrying card data is refused, whatever
    # its path, and nothing from it is saved. Its refusal still gets the headers above.
    "security.cardguard.CardGuardMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The shopper's language: the switcher's cookie, else the browser's Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shop.context_processors.cart",
                "shop.context_processors.branding",
            ],
        },
    },
]

if not env.str("DATABASE_URL", default=""):
    VAR_DIR.mkdir(exist_ok=True)  # the default SQLite file lives there, whatever else is set
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://shop")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "config.cache.RedisCache"  # same, without a client per call
# Each worker's own memory for catalog pages, keyed by a shared version (shop/catalog.py).
CACHES["catalog"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "catalog",
    "OPTIONS": {"MAX_ENTRIES": 2000},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Shopper languages (docs/languages.md says how to add one). A first visit gets the browser's
# Accept-Language; the switcher (Django's set_language) keeps a choice in a cookie. English is
# the fallback for any other language. Names are written in their own language, as switchers do.
LANGUAGE_CODE = "en"
LANGUAGES = [("th", "ไทย"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]  # compiled by `make run` / `make test` (git-ignored .mo)
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_HTTPONLY = True  # no script needs it
TIME_ZONE = "Asia/Bangkok"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# collectstatic's target, served by WhiteNoise in production; development serves from static/.
STATIC_ROOT = None if DEBUG else BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "config.storage.StaticFilesStorage"  # WhiteNoise's, URLs remembered
        )
    },
}

# How many reverse proxies we run in front of Django (nginx: 1). X-Forwarded-For entries beyond
# those are the client's own claims and are not believed (see security/clientip.py).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# ...believed only from a peer in these networks (our proxy: loopback or a private network by
# default), so a client reaching gunicorn directly cannot name its own address. "*": any peer
# (a PaaS whose router addresses are public and vary, and whose app port is not reachable).
TRUSTED_PROXY_NETWORKS = env.list(
    "TRUSTED_PROXY_NETWORKS",
    default=[
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
    ],
)
# Per-IP rate limits count an IPv6 client by its network of this many bits (a VPS gets a /64),
# never by its address alone (security/clientip.py rate_limit_bucket).
RATE_LIMIT_IPV6_PREFIX = env.int("RATE_LIMIT_IPV6_PREFIX", default=64)
if not 1 <= RATE_LIMIT_IPV6_PREFIX <= 128:
    raise ImproperlyConfigured("RATE_LIMIT_IPV6_PREFIX must be from 1 to 128 (default 64)")

# Request bodies over this many bytes are refused with a 400 (Django's RequestDataTooBig), before
# anything parses them or the card guard reads them: 256 KiB, as deploy/nginx.conf's
# client_max_body_size 256k, so a deployment without nginx (a PaaS) has the same bound. The shop
# takes no uploads; its forms, webhooks and CSP reports are a few KiB. (File parts of a
# multipart body are not counted by Django: the shop has no file field.)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=256 * 1024)
if DATA_UPLOAD_MAX_MEMORY_SIZE < 1:
    raise ImproperlyConfigured("DATA_UPLOAD_MAX_MEMORY_SIZE must be a positive number of bytes")

# --- Retention (checkout/retention.py; `manage.py prune_records` from cron, docs/operations.md) -
# Security events are audit history: PCI DSS asks for a year, three months at hand; never less.
SECURITY_EVENT_RETENTION_DAYS = env.int("SECURITY_EVENT_RETENTION_DAYS", default=365)
if SECURITY_EVENT_RETENTION_DAYS < 90:
    raise ImproperlyConfigured("SECURITY_EVENT_RETENTION_DAYS must be at least 90 (days)")
# Raw webhook deliveries are for debugging; Omise retries for days, not months.
WEBHOOK_DELIVERY_RETENTION_DAYS = env.int("WEBHOOK_DELIVERY_RETENTION_DAYS", default=90)
if WEBHOOK_DELIVERY_RETENTION_DAYS < 7:
    raise ImproperlyConfigured("WEBHOOK_DELIVERY_RETENTION_DAYS must be at least 7 (days)")

# --- Card-testing defence (checkout/velocity.py; defaults and reasons in docs/velocity.md) ----
# An attempt costs 1 point, a declined attempt this many in all.
CHECKOUT_VELOCITY_DECLINE_POINTS = env.int("CHECKOUT_VELOCITY_DECLINE_POINTS", default=3)
# dimension → (points, window seconds, block seconds); e.g. CHECKOUT_VELOCITY_IP=15,600,3600
CHECKOUT_VELOCITY_LIMITS = {
    dimension: tuple(env.list(f"CHECKOUT_VELOCITY_{dimension.upper()}", cast=int, default=default))
    for dimension, default in {
        "ip": [15, 10 * 60, 60 * 60],  # 5 declines from one IP in 10 min: blocked for an hour
        "session": [15, 60 * 60, 60 * 60],  # 5 declines in one browser session in an hour
        "email": [15, 60 * 60, 60 * 60],  # 5 declines for one shopper email in an hour
        "card": [9, 24 * 60 * 60, 24 * 60 * 60],  # 3 declines of one card in a day
    }.items()
}
if any(len(limit) != 3 or min(limit) < 1 for limit in CHECKOUT_VELOCITY_LIMITS.values()):
    raise ImproperlyConfigured(
        "CHECKOUT_VELOCITY_<DIMENSION> must be three positive integers: points,window,block"
    )

# --- HTTPS (Omise's guide: "Enable HTTPS on your website") ------------------------------------
# Development serves plain http://127.0.0.1; production is HTTPS only. See docs/deploy.md.
SESSION_COOKIE_HTTPONLY = True  # no page script (nor an injected one) can read the session
SESSION_COOKIE_SAMESITE = "Lax"  # not sent on cross-site POSTs: a second line against CSRF
CSRF_COOKIE_HTTPONLY = True  # forms carry the token via {% csrf_token %}; scripts never need it
CSRF_COOKIE_SAMESITE = "Lax"
# Behind a TLS-terminating proxy (nginx, a PaaS router) Django sees plain HTTP. Name the header
# the proxy sets, e.g. SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https, and only if the
# proxy always overwrites it: otherwise a client could claim HTTPS by sending it themselves.
_proxy_ssl_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_ssl_header:
    if len(_proxy_ssl_header) != 2 or not _proxy_ssl_header[0].startswith("HTTP_"):
        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER must be 'HTTP_<HEADER>,<value>', "
            "e.g. HTTP_X_FORWARDED_PROTO,https"
        )
    SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header)
if not DEBUG:
    # Every http:// request is redirected (301) to https://. Platforms that redirect before
    # Django reaches the request may set SECURE_SSL_REDIRECT=false.
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # HSTS: for two years browsers refuse plain HTTP to this host and its subdomains, so a
    # network attacker cannot strip TLS. Preload bakes the host into browsers and is hard to
    # undo, so it is an explicit opt-in; without it Django's "consider preload" hint is silenced.
    SECURE_HSTS_SECONDS = 63_072_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    # Cookies travel over HTTPS only. The __Host- prefix makes browsers enforce Secure, Path=/
    # and no Domain, so a sibling subdomain or a plain-HTTP page cannot plant or overwrite them.
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"

# --- Admin two-factor login (security/otp_admin.py, security/login_throttle.py) -------------
OTP_TOTP_ISSUER = "Omise storefront"
# Wrong codes wait 1, 2, 4, 8… seconds per device (0 would switch throttling off: security.checks).
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the admin never displays TOTP keys or backup codes
ADMIN_LOGIN_USERNAME_LIMIT = 5  # wrong passwords per username, then a cool-off
ADMIN_LOGIN_IP_LIMIT = 20  # wrong passwords per client IP, then a cool-off
ADMIN_LOGIN_COOL_OFF_SECONDS = 15 * 60

# --- Browser security headers ----------------------------------------------------------------
# A strict policy for every page; the checkout view widens it just enough for Omise.
SECURE_CSP: dict[str, list[str] | str] = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE, CSP.REPORT_SAMPLE],  # sample: reports show the script
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-src": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
    # Violations are reported to security.csp_reports and shown in the admin (SecurityEvent):
    # report-uri for browsers of today, report-to (+ the Reporting-Endpoints header that
    # security.headers adds) for the Reporting API that replaces it.
    "report-uri": ["/csp-report/"],
    "report-to": "csp-endpoint",
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Mail ------------------------------------------------------------------------------------
# Who gets the (scrubbed) 500 reports, and how mail leaves: printed in development, an SMTP
# relay in production (Django 6.1's MAILERS).
ADMINS = env.list("ADMINS", default=[])
SERVER_EMAIL = env.str("SERVER_EMAIL", default="shop@localhost")
# One e-mail per distinct error per this many seconds; the next one counts those not sent
# (security/logscrub.py ScrubbingAdminEmailHandler, shared by all workers through CACHES). 0: off.
ADMIN_ERROR_EMAIL_THROTTLE_SECONDS = env.int("ADMIN_ERROR_EMAIL_THROTTLE_SECONDS", default=300)
# EMAIL_URL (django-environ): smtp+tls://user:password@smtp.example.com:587, smtp+ssl://…:465,
# smtp://host:25, or consolemail:// (printed). Without it: printed in development, and in
# production the EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS
# variables below. A mail server gets MAIL_TIMEOUT seconds; a slow one delays only the outbox's
# task (mails/outbox.py), never a checkout.
EMAIL_URL = env.str("EMAIL_URL", default="")
MAIL_TIMEOUT = env.int("MAIL_TIMEOUT", default=20)
if EMAIL_URL:
    _email = environ.Env.email_url_config(EMAIL_URL)
    _smtp = _email["EMAIL_BACKEND"].endswith(".smtp.EmailBackend")
    MAILERS = {
        "default": {
            "BACKEND": _email["EMAIL_BACKEND"],
            "OPTIONS": {
                "host": _email["EMAIL_HOST"],
                "port": _email["EMAIL_PORT"] or 25,
                "username": _email["EMAIL_HOST_USER"] or "",
                "password": _email["EMAIL_HOST_PASSWORD"] or "",
                "use_tls": bool(_email.get("EMAIL_USE_TLS")),
                "use_ssl": bool(_email.get("EMAIL_USE_SSL")),
                "timeout": MAIL_TIMEOUT,
            }
            if _smtp
            else {},
        }
    }
else:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.console.EmailBackend"
            if DEBUG
            else "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {}
            if DEBUG
            else {
                "host": env.str("EMAIL_HOST", default="localhost"),
                "port": env.int("EMAIL_PORT", default=587),
                "username": env.str("EMAIL_HOST_USER", default=""),
                "password": env.str("EMAIL_HOST_PASSWORD", default=""),
                "use_tls": env.bool("EMAIL_USE_TLS", default=True),
                "timeout": MAIL_TIMEOUT,
            },
        }
    }
# Shopper e-mails (docs/mails.md): who they come from, the shop's colour in them, and how many
# times the outbox tries one before giving up (`manage.py send_mails` retries from cron).
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"{SHOP_NAME} <shop@localhost>")
MAIL_ACCENT_COLOR = env.str("MAIL_ACCENT_COLOR", default="#8a3b12")
MAIL_MAX_ATTEMPTS = env.int("MAIL_MAX_ATTEMPTS", default=8)

# --- Logging ---------------------------------------------------------------------------------
# Every handler carries the "scrub" filter (security/logscrub.py): card numbers, secret keys and
# credentials are masked before anything is written. Django's own handlers (runserver's access
# log "django.server", the 500 e-mails) are redefined here so that none escapes the filter.
# LOG_FORMAT=json: one JSON object per line for log aggregators (config/logformat.py), scrubbed.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured("LOG_FORMAT must be 'plain' or 'json'")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "scrub": {"()": "security.logscrub.ScrubFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logformat.JsonFormatter"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["scrub"],
        },
        "django.server": {
            "class": "logging.StreamHandler",
            "filters": ["scrub"],
            "formatter": "json" if LOG_FORMAT == "json" else "django.server",
        },
        "mail_admins": {
            "level": "ERROR",
            "class": "security.logscrub.ScrubbingAdminEmailHandler",
            "filters": ["require_debug_false", "scrub"],
        },
    },
    "loggers": {
        # Replace Django's default handlers (which would not carry the filter); records still
        # propagate to the root console handler.
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
# Error reports (DEBUG page, 500 e-mails) hide card fields and mask card numbers and keys.
DEFAULT_EXCEPTION_REPORTER_FILTER = "security.logscrub.ScrubbingExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "security.logscrub.ScrubbingExceptionReporter"
