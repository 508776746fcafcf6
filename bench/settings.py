"""Settings for the gunicorn benchmarks (bench/stack.py): production settings plus baselines.

bench/stack.py starts gunicorn with a production environment (DEBUG off, PostgreSQL, Redis).
Two differences from a real deployment, both because the benchmark speaks plain HTTP on
loopback with no nginx in front: cookies lose Secure and their __Host- names (a client sends
Secure cookies only over HTTPS), and the URLconf adds the baseline views under /bench/
(bench/stack_urls.py). A counting middleware reports each request's SQL, commits, Redis and
Omise calls in response headers (bench/instrument.py).
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.stack_urls"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
SESSION_COOKIE_NAME, CSRF_COOKIE_NAME = "sessionid", "csrftoken"

# Outermost: counts each request's SQL statements, commits, Redis and Omise calls into
# X-Bench-* response headers (bench/instrument.py).
MIDDLEWARE = ["bench.instrument.CountingMiddleware", *MIDDLEWARE]  # noqa: F405
