"""Content-Security-Policy violation reports, stored as SecurityEvents for the merchant.

Threat: a script injected into the payment page (a card skimmer from a compromised
dependency, a stored XSS) is blocked by the CSP in the shopper's browser, and nobody at the
shop ever learns that someone tried. Browsers report each blocked script, frame or connection
here (`report-uri` and `report-to` in settings.SECURE_CSP); the admin lists them.

The endpoint is public and unauthenticated by nature (browsers send reports without cookies
or CSRF tokens), so it is also a target. It therefore answers:
- 405 to anything but POST,
- 429 to a client IP (an IPv6 /64 counts as one: security/clientip.py) that sends more than
  REPORTS_PER_MINUTE requests in a minute,
- 415 to a body that is not a CSP report content type,
- 413 to a body larger than MAX_BODY_BYTES (read no further than that),
- 400 to bad JSON or JSON that is not a CSP report,
and 204 once stored; of the reports a client address sends, a few a minute are kept
(`record_security_event_limited`), so reports, ten to a request, cannot flood the table or
the log. What is stored is trimmed: URLs lose their query string and fragment and
long digit runs are masked, so a report about an exfiltration attempt never becomes a copy of
the data it tried to exfiltrate.
"""

import json
import logging
import re
import time
from urllib.parse import urlsplit

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from security.clientip import client_bucket
from security.events import record_security_event_limited
from security.logscrub import scrub
from security.models import SecurityEvent

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024  # a real report is 1-2 KiB; browsers batch a handful at most
REPORTS_PER_MINUTE = 30  # requests per client IP; a page load with violations sends a few
MAX_REPORTS_PER_REQUEST = 10  # of a Reporting API batch, the rest is dropped
FIELD_CHARS = 500
SAMPLE_CHARS = 80  # browsers send at most 40 characters of the blocked script

# Content type → the report format it carries.
REPORT_URI_TYPE = "application/csp-report"  # one {"csp-report": {...}} (report-uri)
REPORTING_API_TYPE = "application/reports+json"  # a list of {"type": ..., "body": {...}}
ACCEPTED_TYPES = {REPORT_URI_TYPE, REPORTING_API_TYPE, "application/json"}

# Our field name → (report-uri key, Reporting API key).
FIELDS = {
    "document_uri": ("document-uri", "documentURL"),
    "blocked_uri": ("blocked-uri", "blockedURL"),
    "violated_directive": ("violated-directive", "effectiveDirective"),
    "effective_directive": ("effective-directive", "effectiveDirective"),
    "source_file": ("source-file", "sourceFile"),
    "line": ("line-number", "lineNumber"),
    "sample": ("script-sample", "sample"),
    "disposition": ("disposition", "disposition"),
}
URL_FIELDS = {"document_uri", "blocked_uri", "source_file"}
DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){7,}")  # 8+ digits, spaced or not: phone, account…


class BadReport(ValueError):
    """The body is JSON but not a CSP violation report."""


def _rate_limited(request: HttpRequest) -> bool:
    """Count this request against its client's budget for the current minute: per IPv4
    address, IPv6 /64 (`RATE_LIMIT_IPV6_PREFIX`), or the one bucket of unreadable addresses."""
    window = int(time.time() // 60)
    key = f"csp-report:{client_bucket(request)}:{window}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add() and incr()
        count = 1
        cache.set(key, count, timeout=120)
    return count > REPORTS_PER_MINUTE


def _clean_url(value: str) -> str:
    """Scheme, host and path of a URL; keywords such as 'inline' or 'eval' as they are."""
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return ""
    if parts.scheme in {"http", "https", "ws", "wss"}:
        return f"{parts.scheme}://{host}{parts.path}"
    return value.split("?", 1)[0].split("#", 1)[0]


def _clean(name: str, value) -> str | int | None:
    """One report field, reduced to something safe and small to store."""
    if name == "line":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if not isinstance(value, str):
        return ""
    value = value[: FIELD_CHARS * 4]
    if name in URL_FIELDS:
        value = _clean_url(value)
    value = scrub(DIGIT_RUN.sub("[digits removed]", value))  # and keys: a URL may carry one
    return value[: SAMPLE_CHARS if name == "sample" else FIELD_CHARS]


def _normalise(body: dict, style: int) -> dict:
    """Our fields from one report body; style 0 is report-uri's keys, 1 the Reporting API's."""
    return {name: _clean(name, body.get(keys[style])) for name, keys in FIELDS.items()}


def parse_reports(payload) -> list[dict]:
    """The violations in a decoded report-uri or Reporting API payload; BadReport otherwise."""
    if isinstance(payload, dict):
        body = payload.get("csp-report")
        if not isinstance(body, dict):
            raise BadReport("expected an object with a 'csp-report' object")
        return [_normalise(body, 0)]
    if isinstance(payload, list):
        reports = []
        for item in payload:
            if not isinstance(item, dict):
                raise BadReport("expected a list of report objects")
            if item.get("type") != "csp-violation":
                continue  # another kind of browser report: not ours to store
            if not isinstance(item.get("body"), dict):
                raise BadReport("a csp-violation report without a body object")
            reports.append(_normalise(item["body"], 1))
        if not reports:
            raise BadReport("no csp-violation report in the list")
        return reports[:MAX_REPORTS_PER_REQUEST]
    raise BadReport("expected a JSON object or list")


@csrf_exempt  # browsers send reports without cookies or a CSRF token
@require_POST
def csp_report(request: HttpRequest) -> HttpResponse:
    """Store the CSP violations a browser reports; see the module docstring for refusals."""
    if _rate_limited(request):
        return HttpResponse(status=429, headers={"Retry-After": "60"})
    if request.content_type not in ACCEPTED_TYPES:
        return HttpResponse(status=415)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return HttpResponse(status=400)
    if declared > MAX_BODY_BYTES:
        return HttpResponse(status=413)
    body = request.read(MAX_BODY_BYTES + 1)  # never trust the declared length alone
    if len(body) > MAX_BODY_BYTES:
        return HttpResponse(status=413)
    try:
        reports = parse_reports(json.loads(body))
    except (UnicodeDecodeError, json.JSONDecodeError, BadReport):
        return HttpResponse(status=400)

    for report in reports:
        # A few rows (and log lines) per client address a minute: reports are anyone's to send.
        event = record_security_event_limited(SecurityEvent.Kind.CSP_VIOLATION, request, **report)
        if event is None:
            break
        # The event's path is where the violation happened, not this endpoint.
        event.path = urlsplit(report["document_uri"]).path[:500]
        event.save(update_fields=["path"])
        logger.warning(
            "CSP violation on %s: %s blocked %s",
            event.path or "?",
            report["effective_directive"] or "?",
            report["blocked_uri"] or "?",
        )
    return HttpResponse(status=204)
