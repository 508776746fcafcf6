"""The card guard: the detector, and the middleware refusing card data on every carrier."""

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse, QueryDict
from django.test import RequestFactory, override_settings

from security import card_fields, cardguard, cards
from security.card_fields import is_card_field
from security.cardguard import CardGuardMiddleware
from security.cards import card_brand, find_card_numbers, is_card_number, luhn_ok
from security.models import SecurityEvent
from shop.models import Product

# Omise's test cards (docs/omise-api.md), as a shopper would type them.
OMISE_TEST_CARDS = [
    "4242 4242 4242 4242",
    "5555 5555 5555 4444",
    "3530 1113 3330 0000",
    "4111 1111 1114 0011",
    "4111 1111 1113 0012",
    "4111 1111 1112 0013",
    "4111 1111 1111 0014",
    "4111 1111 1119 0016",
    "4111 1111 1118 0017",
    "4111 1111 1116 0001",
    "4111 1111 1115 0002",
    "4111 1111 1114 0003",
]
CARD = "4242424242424242"
FORM = "application/x-www-form-urlencoded"

pytestmark = pytest.mark.django_db


def events():
    return list(SecurityEvent.objects.filter(kind=SecurityEvent.Kind.CARD_DATA_REFUSED))


def form_post(client, path, data, **extra):
    """POST url-encoded, as a browser's plain form does (the test client defaults to multipart)."""
    return client.post(path, urlencode(data), content_type=FORM, **extra)


# --- The detector ------------------------------------------------------------------------------


@pytest.mark.parametrize("number", OMISE_TEST_CARDS)
def test_every_omise_test_card_is_found_plain_spaced_and_dashed(number):
    """Omise's test cards are found whether typed with spaces, dashes or no separator."""
    digits = number.replace(" ", "")
    for text in (number, digits, number.replace(" ", "-")):
        assert [m.digits for m in find_card_numbers(f"pay {text} now")] == [digits]


@pytest.mark.parametrize(
    ("digits", "brand"),
    [
        ("4242424242424242", "visa"),
        ("4000056655665556", "visa"),
        ("5105105105105100", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("371449635398431", "amex"),
        ("3566002020360505", "jcb"),
        ("6200000000000005", "unionpay"),
        ("36227206271667", "diners"),
        ("3056930009020004", "diners"),
        ("6011111111111117", "discover"),
        ("6445644564456445", "discover"),
    ],
)
def test_known_brands_are_recognised(digits, brand):
    """Published test numbers of every supported brand pass Luhn and match their brand."""
    assert luhn_ok(digits)
    assert card_brand(digits) == brand
    assert is_card_number(digits)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("4242424242424241", "fails Luhn"),
        ("1234567812345670", "passes Luhn but has no card prefix"),
        ("9999999999999995", "passes Luhn but has no card prefix"),
        ("5555555555554", "Mastercard prefix with a length Mastercard never issues"),
        ("42424242424242424242", "20 digits: an id, not a card"),
        ("tokn_test_4242424242424242", "part of an identifier"),
        ("ORD4242424242424242", "part of an identifier"),
        ("+4915123456781", "an international phone number"),
        ("1718000000000", "a millisecond timestamp"),
        ("2024-06-10 2024-06-11", "two dates"),
        ("4242 4242 4242", "only 12 digits"),
    ],
)
def test_lookalikes_are_not_card_numbers(text, why):
    """Values that merely look numeric are not reported as card numbers."""
    assert list(find_card_numbers(text)) == [], why


def test_card_followed_by_its_cvv_is_still_found():
    """A number typed with its CVV after it is found on its whole groups, not lost in the run."""
    [match] = find_card_numbers("4242 4242 4242 4242 123")
    assert match.digits == CARD and match.last4 == "4242"


@pytest.mark.parametrize(
    "name",
    [
        "card_number",
        "cardNumber",
        "CardNumber",
        "cc-number",
        "cc_number",
        "ccnum",
        "creditCardNumber",
        "card[number]",
        "payment[card][number]",
        "card_no",
        "cvv",
        "CVV2",
        "cvc",
        "cc-csc",
        "security_code",
        "securityCode",
        "card[security_code]",
        "expiration_month",
        "expiration_year",
        "exp_month",
        "exp_year",
        "expiry",
        "expiryDate",
        "cc-exp",
        "cc-exp-month",
        "card[expiration_year]",
    ],
)
def test_card_field_names_are_recognised(name):
    """Card number, security code and expiry fields, in the spellings real forms use."""
    assert is_card_field(name)


@pytest.mark.parametrize(
    "name",
    [
        "card",
        "omise_token",
        "omise_source",
        "token",
        "card_last_digits",
        "last_digits",
        "number",
        "phone_number",
        "order_number",
        "quantity",
        "product",
        "expires_at",
        "security_code_check",
        "postal_code",
        "csrfmiddlewaretoken",
        "email",
        "name",
    ],
)
def test_legitimate_field_names_are_not_card_fields(name):
    """The shop's own fields (a `card` holding a `tokn_` id, a bare `number`…) are allowed."""
    assert not is_card_field(name)


def test_bare_number_is_a_card_field_only_under_a_card():
    """Omise.js names its field `number`: it counts when nested in a card object."""
    assert is_card_field("number", ["card"])
    assert not is_card_field("number", ["address"])


# --- The middleware on every carrier -----------------------------------------------------------


def test_query_string_card_number_is_refused(client):
    """A card number in the query string is refused with 400 before the view runs."""
    response = client.get("/", {"q": "4242 4242 4242 4242"})
    assert response.status_code == 400
    [event] = events()
    assert (event.field_name, event.detail["carrier"], event.detail["last4"]) == (
        "q",
        "query",
        "4242",
    )


def test_form_post_card_number_in_any_field_is_refused(client):
    """A url-encoded POST with a card number in an innocently named field is refused."""
    response = form_post(client, "/cart/add/", {"product": "mug", "note": "5555-5555-5555-4444"})
    assert response.status_code == 400
    assert events()[0].detail == {
        "carrier": "form",
        "reason": "card_number",
        "method": "POST",
        "last4": "4444",
    }


def test_card_field_holding_a_value_is_refused_without_keeping_its_digits(client):
    """A CVV field is refused by its name; its digits are not kept, not even as last4."""
    response = form_post(client, "/cart/add/", {"product": "mug", "security_code": "123"})
    assert response.status_code == 400
    [event] = events()
    assert event.field_name == "security_code"
    assert "last4" not in event.detail and "123" not in json.dumps(event.detail)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("product=mug&note=hi&note=4242+4242+4242+4242&phone=0812345678", "note"),
        ("a=1&a=2&b=3&c=5555555555554444", "c"),
        ("first=4111111111111111&second=x", "first"),
        ("x=1&4242424242424242=y", "4242424242424242"),
    ],
)
def test_the_finding_names_the_field_that_holds_the_number(body, field):
    """A number is reported with its own field, whichever value of which field holds it (or
    with the field it names, when a mis-built form uses it as a name)."""
    assert cardguard.scan_fields(QueryDict(body), "form").field_name == field


def test_long_made_up_field_names_are_judged_but_not_remembered(client):
    """Field names are remembered to save work, but only short ones: a long name (as an
    attacker would send, a megabyte each, to fill the memory) is judged afresh. A long card
    field name is still refused, in a form and in JSON."""

    def remembered():
        return card_fields._is_card_field_cached.cache_info().currsize, len(
            cardguard._card_fields_of_forms
        )

    before = remembered()
    long_note, long_cvv = "note_" + "x" * 10_000, "x" * 10_000 + "_cvv"
    assert form_post(client, "/cart/add/", {"product": "none", long_note: "hi"}).status_code != 400
    assert form_post(client, "/cart/add/", {"product": "mug", long_cvv: "123"}).status_code == 400
    body = json.dumps({"card": {long_note: {"cvc": "123"}}})
    assert client.post("/csp-report/", body, content_type="application/json").status_code == 400
    # Only the JSON's short "card" is remembered; no set of form names with a long one.
    after = remembered()
    assert after[0] <= before[0] + 1 and after[1] == before[1]
    assert sorted(e.detail["reason"] for e in events()) == ["card_field", "card_field"]


def test_forms_with_made_up_names_fill_no_more_than_a_bounded_memory():
    """However many different sets of names arrive, at most 256 of them are remembered."""
    for n in range(600):
        assert cardguard.scan_fields(QueryDict(f"product=mug&made_up_{n}=1"), "form") is None
    assert 0 < len(cardguard._card_fields_of_forms) <= 256


def test_empty_card_field_is_not_refused(client):
    """An empty card field (a template's unused input) carries no card data."""
    form_post(client, "/cart/add/", {"product": "none", "cvv": ""})
    assert events() == []


def test_multipart_field_is_refused(client):
    """Multipart form fields are scanned like url-encoded ones."""
    response = client.post("/cart/add/", {"card[number]": CARD, "product": "mug"})
    assert response.status_code == 400
    assert events()[0].detail["carrier"] == "multipart"


def test_multipart_file_contents_are_not_scanned(client):
    """An uploaded file's contents are not read by the guard (only field values are)."""
    upload = SimpleUploadedFile("statement.txt", b"card 4242 4242 4242 4242\n")
    response = client.post("/cart/add/", {"product": "none", "attachment": upload})
    assert response.status_code != 400
    assert events() == []


def test_nested_json_is_refused(client):
    """Card numbers nested at any depth in JSON, and card fields by key, are refused."""
    body = {"order": {"lines": [{"meta": [{"x": {"pan": "3530111333300000"}}]}]}}
    response = client.post("/cart/add/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "card_data_refused"
    assert events()[0].detail["last4"] == "0000"
    response = client.post(
        "/cart/add/", {"card": {"number": CARD}}, content_type="application/json"
    )
    assert response.status_code == 400
    assert events()[0].field_name == "number"


def test_json_number_value_is_refused(client):
    """A card number sent as a JSON number is refused too."""
    response = client.post("/cart/add/", f'{{"n": {CARD}}}', content_type="application/json")
    assert response.status_code == 400


def test_text_body_is_scanned(client):
    """A body of another type (text/plain, invalid JSON) is scanned as text."""
    response = client.post("/cart/add/", "paid with 4242424242424242", content_type="text/plain")
    assert response.status_code == 400
    assert events()[0].detail["carrier"] == "text"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_every_method_is_scanned(client, method):
    """PUT, PATCH and DELETE bodies are scanned, form-encoded or JSON."""
    send = getattr(client, method)
    form = send("/cart/add/", f"cc_number={CARD}", content_type=FORM)
    json_response = send("/cart/add/", {"n": CARD}, content_type="application/json")
    assert (form.status_code, json_response.status_code) == (400, 400)


def test_admin_is_guarded(client):
    """The admin is not exempt: a card number posted to its login is refused."""
    response = client.post("/admin/login/", {"username": CARD, "password": "x"})
    assert response.status_code == 400
    assert events()[0].path == "/admin/login/"


# --- The refusal -------------------------------------------------------------------------------


def test_html_refusal_explains_and_never_echoes(client):
    """The HTML page says what happened and that nothing was stored, without the number."""
    response = client.post("/cart/add/", {"note": "4242 4242 4242 4242"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Nothing from this request was stored" in page
    assert "4242 4242" not in page and CARD not in page
    assert response["Cache-Control"] == "no-store"


def test_json_refusal_when_the_client_asks_for_json(client):
    """An API client (Accept: application/json) gets the refusal as JSON."""
    response = client.post("/cart/add/", {"note": CARD}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "error": "card_data_refused",
        "message": cardguard.REFUSAL_MESSAGE,
    }
    assert CARD not in response.content.decode()


def test_event_records_who_and_where_with_last4_only(client):
    """The event has path, field, client IP, user agent and time; never the whole number."""
    client.post(
        "/cart/add/?x=1",
        {"card_number": "5555 5555 5555 4444"},
        HTTP_USER_AGENT="Mozilla/5.0 test",
        REMOTE_ADDR="203.0.113.9",
    )
    [event] = events()
    assert (event.path, event.field_name, event.client_ip, event.user_agent) == (
        "/cart/add/",
        "card_number",
        "203.0.113.9",
        "Mozilla/5.0 test",
    )
    assert event.created_at is not None and event.detail["last4"] == "4444"
    stored = json.dumps([str(getattr(event, f.attname)) for f in event._meta.fields])
    assert "5555555555554444" not in stored and "5555 5555" not in stored


def test_a_flood_of_card_data_is_refused_every_time_but_recorded_a_few_times(client):
    """Anyone can send card-like digits at will: each request is refused, but one client
    address leaves at most EVENTS_PER_MINUTE rows a minute (an IPv6 /64 counts as one), so a
    flood cannot fill the events table; another address is still recorded."""
    from security.events import EVENTS_PER_MINUTE

    for n in range(EVENTS_PER_MINUTE + 15):
        response = client.post(
            "/cart/add/", {"card_number": CARD}, REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}"
        )
        assert response.status_code == 400
    assert len(events()) == EVENTS_PER_MINUTE
    client.post("/cart/add/", {"card_number": CARD}, REMOTE_ADDR="203.0.113.9")
    assert len(events()) == EVENTS_PER_MINUTE + 1


def test_card_number_as_a_field_name_is_masked_in_the_event(client):
    """A card number used as a field *name* is refused and not stored as the name."""
    client.post("/cart/add/", {CARD: "1"})
    [event] = events()
    assert CARD not in event.field_name and event.field_name.endswith("4242")


def test_refused_request_saves_nothing(client):
    """A refused cart POST reaches no view: the cart is unchanged and no session is saved."""
    Product.objects.create(name="Mug", slug="mug", price=35000, currency="THB")
    response = form_post(client, "/cart/add/", {"product": "mug", "quantity": "1", "cvc": "123"})
    assert response.status_code == 400
    assert "sessionid" not in response.cookies and not response.cookies
    assert client.session.get("cart") is None
    # The same POST without the card field does change the cart: the test can fail.
    response = form_post(client, "/cart/add/", {"product": "mug", "quantity": "1"})
    assert response.status_code == 302
    assert client.session["cart"] == {str(Product.objects.get().pk): 1}


def test_legitimate_shop_posts_pass(client):
    """Omise ids, order references, phones and quantities are not refused."""
    response = client.post(
        "/cart/add/",
        {
            "card": "tokn_test_5xp6ca7ud1a2u5ng3",
            "omise_token": "tokn_test_5xp6ca7ud1a2u5ng3",
            "source": "src_test_5xp6cabc",
            "charge": "chrg_test_5xp6cc1",
            "phone": "+66 81 234 5678",
            "postal_code": "10110",
            "quantity": "3",
            "order": "LG-20250101-0042",
            "created": "1718000000000",
            "card_last_digits": "4242",
        },
    )
    assert response.status_code == 302
    assert events() == []


def test_omise_webhook_card_object_is_not_refused(client):
    """An Omise event's card object (expiry and last digits, never the number) passes."""
    event = {
        "object": "event",
        "id": "evnt_test_5xp",
        "key": "charge.complete",
        "data": {
            "object": "charge",
            "id": "chrg_test_5xp",
            "amount": 100000,
            "card": {
                "object": "card",
                "id": "card_test_5xp",
                "last_digits": "4242",
                "brand": "Visa",
                "expiration_month": 12,
                "expiration_year": 2030,
                "security_code_check": True,
            },
        },
    }
    client.post("/cart/add/", event, content_type="application/json")
    assert events() == []


# --- Exemption ---------------------------------------------------------------------------------


def _through_guard(request):
    return CardGuardMiddleware(lambda request: HttpResponse("view ran"))(request)


def test_sandbox_vault_is_exempt_while_the_sandbox_is_mounted(rf: RequestFactory, settings):
    """The sandbox vault (which plays Omise) receives card numbers; its siblings do not."""
    assert settings.OMISE_SANDBOX and settings.CARD_GUARD_EXEMPT_PATHS == ["/sandbox/vault/"]
    vault = _through_guard(rf.post("/sandbox/vault/tokens", {"card[number]": CARD}))
    api = _through_guard(rf.post("/sandbox/api/charges", {"card[number]": CARD}))
    lookalike = _through_guard(rf.post("/sandbox/vaultx/tokens", {"card[number]": CARD}))
    assert vault.content == b"view ran"
    assert (api.status_code, lookalike.status_code) == (400, 400)


def test_exemption_is_ignored_without_the_sandbox(rf: RequestFactory):
    """Even a misconfigured exemption list is ignored when the sandbox is off."""
    with override_settings(OMISE_SANDBOX=False, CARD_GUARD_EXEMPT_PATHS=["/sandbox/vault/"]):
        response = _through_guard(rf.post("/sandbox/vault/tokens", {"card[number]": CARD}))
    assert response.status_code == 400


def test_production_configuration_has_no_exemption():
    """Production settings (DEBUG off, real keys) load with an empty exemption list, the guard
    installed right after WhiteNoise, and the guard exempting nothing."""
    script = (
        "import json, django; django.setup()\n"
        "from django.conf import settings\n"
        "from security.cardguard import exempt_paths\n"
        "print(json.dumps({'paths': settings.CARD_GUARD_EXEMPT_PATHS,"
        " 'active': list(exempt_paths()), 'sandbox': settings.OMISE_SANDBOX,"
        " 'middleware': settings.MIDDLEWARE}))\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "ENV_FILE": "",
        "DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "prod-" + "k" * 50,
        "ALLOWED_HOSTS": "shop.example",
        "OMISE_PUBLIC_KEY": "pkey_test_5xprod",
        "OMISE_SECRET_KEY": "skey_test_5xprod",
        "OMISE_WEBHOOK_SECRET": "d2hzZWNfcHJvZA==",
        "DATABASE_URL": "sqlite://:memory:",
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    config = json.loads(result.stdout.strip().splitlines()[-1])
    assert config["sandbox"] is False
    assert config["paths"] == [] and config["active"] == []
    middleware = config["middleware"]
    guard = middleware.index("security.cardguard.CardGuardMiddleware")
    # Right after the charset check, itself after the security headers: the guard reads only
    # ASCII-compatible bodies, and its refusal carries every header.
    assert middleware[guard - 2 : guard] == [
        "security.headers.SecurityHeadersMiddleware",
        "security.charset.RequestCharsetMiddleware",
    ]
    assert middleware[guard + 1] == "whitenoise.middleware.WhiteNoiseMiddleware"
    assert guard < middleware.index("django.contrib.sessions.middleware.SessionMiddleware")


# --- Reading the body --------------------------------------------------------------------------


def test_form_body_is_parsed_once_and_still_usable_by_the_view(rf: RequestFactory):
    """The guard's parse of a POST form is the one the view gets; no second parse."""
    seen = {}

    def view(request):
        with mock.patch("django.http.request.QueryDict", wraps=QueryDict) as parse:
            seen["post"] = request.POST.copy()
            seen["parses"] = parse.call_count
        return HttpResponse("ok")

    request = rf.post("/cart/add/", {"product": "mug", "quantity": "2"})
    CardGuardMiddleware(view)(request)
    assert seen == {"post": QueryDict("product=mug&quantity=2", mutable=True), "parses": 0}


def test_json_body_is_still_readable_by_the_view(rf: RequestFactory):
    """After the guard read a JSON body, the view can read request.body itself."""
    request = rf.post("/api/", {"token": "tokn_test_1"}, content_type="application/json")
    response = CardGuardMiddleware(lambda r: HttpResponse(r.body))(request)
    assert json.loads(response.content) == {"token": "tokn_test_1"}


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
@pytest.mark.parametrize("content_type", ["form", "json"])
def test_oversized_body_is_refused_by_django_not_scanned(client, content_type):
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE gets Django's own 400; the guard scans nothing
    and records no event (Django refused it, it was never parsed)."""
    with (
        mock.patch.object(cardguard, "scan_fields") as scan_fields,
        mock.patch.object(cardguard, "scan_json") as scan_json,
    ):
        if content_type == "form":
            response = form_post(client, "/cart/add/", {"note": "x" * 2000})
        else:
            response = client.post(
                "/cart/add/", {"note": "x" * 2000}, content_type="application/json"
            )
    assert response.status_code == 400
    assert not scan_fields.called and not scan_json.called
    assert events() == []


def test_separated_numbers_must_start_with_four_digits():
    """Numbers next to each other in prose (quantity, postcode, phone) are not one card, while
    the same digits typed as a card (first group of four) are."""
    digits = "341111111111111"  # an Amex-shaped, Luhn-valid 15-digit number
    assert is_card_number(digits)
    assert list(find_card_numbers("3 41111 1111111111")) == []
    assert [m.digits for m in find_card_numbers("3411 111111 11111")] == [digits]


def test_numbers_joined_to_an_identifier_by_a_dash_are_ids():
    """`LG-4242424242424242` is an order reference, not a card typed after a dash."""
    assert list(find_card_numbers(f"LG-{CARD}")) == []
    assert list(find_card_numbers(f"{CARD}-x")) == []
    assert [m.digits for m in find_card_numbers(f"ref - {CARD}")] == [CARD]


def test_groups_dashed_onto_an_identifier_belong_to_it():
    """In `LG-20254256-4242 424242424242` the 4242 is the reference's, not a card's first
    group."""
    assert is_card_number(CARD)
    assert list(find_card_numbers("LG-20254256-4242 424242424242")) == []
    assert [m.digits for m in find_card_numbers("room 4242 424242424242")] == [CARD]


def test_a_security_code_inside_a_card_shaped_object_is_refused(client):
    """Tagging an object `"object": "card"` does not let a security code through."""
    body = {"card": {"object": "card", "security_code": "123", "expiration_month": 12}}
    response = client.post("/cart/add/", body, content_type="application/json")
    assert response.status_code == 400
    assert events()[0].field_name == "security_code"


@pytest.mark.parametrize(
    "body",
    [
        '{"note": "\\u0034242 4242 4242 4242"}',  # a \u escape spells the first digit
        '{"note": "4242\\u00204242\\u00204242\\u00204242"}',  # and the spaces
        '{"note": "\\u00a04242 4242 4242 4242"}',  # an escape's hex digits glued to the number
        '{"\\u30003782 822463 10005": "amex in a name"}',
        '{"amount": 42424242.42424242e8}',  # a float whose digits are a card's once read
        '{"n": [1, 2, {"deep": {"deeper": ["x", "4242-4242-4242-4242"]}}]}',
    ],
)
def test_json_that_hides_a_card_number_from_its_raw_text_is_still_refused(client, body):
    """One search of a JSON body's own text stands in for searching every value only when
    nothing can spell a card number after parsing; escapes and floats are read as parsed."""
    response = client.post("/cart/add/", body, content_type="application/json")
    assert response.status_code == 400


def test_a_webhook_like_json_body_without_card_data_passes(client):
    """A charge event full of ids, amounts, timestamps and an Omise card object (expiry, last
    digits, the cardholder's phone number, fingerprint) is let through."""
    event = {
        "object": "event",
        "id": "evnt_test_5xp6ca7ud",
        "key": "charge.complete",
        "created_at": "2026-12-01T01:02:03Z",
        "data": {
            "object": "charge",
            "id": "chrg_test_5xp6ca7ue",
            "amount": 129000,
            "currency": "thb",
            "metadata": {"order_reference": "LG-20261201-0042", "phone": "+66 81 234 5678"},
            "description": "1 × Celadon mug",  # sent as \u00d7 by json.dumps
            "card": {
                "object": "card",
                "id": "card_test_5xp",
                "last_digits": "4242",
                "brand": "Visa",
                "expiration_month": 12,
                "expiration_year": 2030,
                "phone_number": "+66 81 234 5678",
                "name": "MALEE SUKJAI",
                "fingerprint": "XjOdjaoHRvUGRfmZacMPcJtm0U3SEIIfkA7534dQeVw=",
            },
        },
    }
    response = client.post("/cart/add/", event, content_type="application/json")
    assert response.status_code != 400 and events() == []


def test_utf16_json_is_scanned_as_the_view_would_read_it(client):
    """A JSON body in UTF-16 (which json.loads reads) cannot hide a card number."""
    body = json.dumps({"note": "4242 4242 4242 4242"}).encode("utf-16")
    response = client.post("/cart/add/", body, content_type="application/json")
    assert response.status_code == 400


def test_a_card_number_in_the_url_path_is_masked_in_the_event(client):
    """The event's path keeps at most the last four digits of a number found in it, and
    Django's own "Bad Request: <path>" log line is not written for the refusal (the whole
    run's log capture, tests/log_capture.py, would flag it)."""
    with mock.patch("django.utils.log.request_logger.warning") as bad_request:
        client.post(f"/cart/{CARD}/", {"number": CARD})
    assert events()[0].path == "/cart/************4242/"
    bad_request.assert_not_called()


def test_a_static_file_url_carrying_a_card_number_is_refused(client):
    """Static files are served after the guard: a card number in their query string is
    refused like any other, not served and forgotten."""
    response = client.get("/static/css/shop.css", {"card_number": CARD})
    assert response.status_code == 400
    assert events()[0].path == "/static/css/shop.css"


def test_the_refusal_page_has_a_policy_that_runs_no_script(client):
    """The refusal comes before the CSP middleware, so it brings a strict policy of its own:
    no script at all, no framing, plus the security headers every page gets."""
    response = client.post("/cart/add/", {"note": CARD})
    policy = response["Content-Security-Policy"]
    assert "script-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "camera=()" in response["Permissions-Policy"]


def test_an_omise_card_object_may_hold_only_its_expiry(client):
    """`"object": "card"` lets an Omise card's expiry through (webhook events carry it), but
    not a card number field, even one holding a short, non-card value."""
    body = {
        "data": {
            "card": {
                "object": "card",
                "card_number": "4242 4242 4242 424",
                "expiration_month": 12,
                "expiration_year": 2030,
            }
        }
    }
    response = client.post("/cart/add/", body, content_type="application/json")
    assert response.status_code == 400
    assert events()[0].field_name == "card_number"


# --- Card guard v2: field-name spellings, split numbers, bodies as they arrived ----------------

# What the shop's own forms, Omise.js and the admin post, by name (checkout/forms.py, templates/,
# static/js/, the admin's login form): none of them is a card field or a part of a card number.
SHOP_FIELD_NAMES = [
    "card",  # holds a tokn_ id
    "omise_token",
    "omise_source",
    "card_last_digits",
    "last_digits",
    "first_digits",
    "card_brand",
    "card_fingerprint",
    "security_code_check",  # Omise's boolean
    "attempts-0-card_last_digits",  # an admin inline's prefixed name
    "product",
    "quantity",
    "next",
    "email",
    "name",
    "phone",
    "country",
    "street1",
    "street2",
    "city",
    "state",
    "postal_code",
    "attempt_key",
    "shown_total",
    "shown_currency",
    "cart_fingerprint",
    "csrfmiddlewaretoken",
    "username",
    "password",
    "otp_token",
    "method",
    "expires_at",
    "line-number",
    "column-number",
    "lineNumber",
    "status-code",
    "statusCode",
    # Not card fields alone: a campaign or analytics client id, an e-mail or 2FA code, …
    "cid",
    "verification_code",
    "pin",
    "code",
    "discount_code",
    "promo_code",
    "qr_code",
    "country_code",
    "social_security_number",
    "phone_number",
    "order_number",
    "cvc_check",
    "number",
]


@pytest.mark.parametrize(
    "name",
    [
        # each network's own name, in snake, kebab, camel, bracket and upper-case spellings
        "cvv",
        "CVV",
        "cvv2",
        "CVV2",
        "cvc",
        "cvc2",
        "ccv",
        "csc",
        "cvn",
        "cvd",
        "cav2",
        "cvd2",
        "Cvv",
        "cc-csc",
        "card_cvv",
        "card-cvc",
        "cardCvc",
        "cardcvc",
        "CARD_CVV",
        "card[cvc]",
        "card[cvv2]",
        "payment[card][cvc]",
        "cvv_code",
        "cvvCode",
        "CVVCode",
        "cvc_number",
        "cvcNumber",
        "securitycode",
        "security_code",
        "security-code",
        "securityCode",
        "SECURITY_CODE",
        "card_security_code",
        "card[security_code]",
        "card_code",
        "cardCode",
        "CardCode",
        "card-code",
        "card[code]",
        "creditCardCode",
        "card_verification",
        "card_verification_code",
        "cardVerificationValue",
        "cc_verification_code",
        "card_cid",
        "card[cid]",
        "cardCid",
        "card_pin",
        "cvv_1",
    ],
)
def test_every_spelling_of_a_security_code_field_is_a_card_field(name):
    """Security-code fields in every common spelling, bare or in a card context."""
    assert card_fields.card_field_kind(name) == "security_code"


@pytest.mark.parametrize(
    "name",
    [
        "exp",
        "expiry",
        "expiration",
        "exp_month",
        "exp-year",
        "expMonth",
        "EXP_YEAR",
        "expiry_date",
        "expiryDate",
        "expirationDate",
        "expiration_month",
        "exp_mm",
        "exp_yy",
        "exp_mm_yy",
        "expMMYY",
        "cc-exp",
        "cc-exp-month",
        "cc_exp_year",
        "card_expiry",
        "cardExpiry",
        "card[exp_month]",
        "card[expiration_year]",
        "card[month]",
        "card_year",
        "cc_mm",
        "valid_thru",
        "card_valid_until",
    ],
)
def test_every_spelling_of_an_expiry_field_is_a_card_field(name):
    """Expiry fields, month and year apart or together, in the same spellings."""
    assert card_fields.card_field_kind(name) == "expiry"


@pytest.mark.parametrize(
    "name", ["card_number_1", "cardNumber2", "cc_number[0]", "card[number][3]", "cc_pan"]
)
def test_card_number_names_with_an_index_are_card_fields(name):
    assert card_fields.card_field_kind(name) == "number"


@pytest.mark.parametrize("name", SHOP_FIELD_NAMES)
def test_the_shops_own_names_are_neither_card_fields_nor_number_parts(name):
    """What the shop and Omise post by name passes; only `card` (a tokn_ id) could be the name
    of a number split over repeated fields, and its values are never all digits."""
    assert not is_card_field(name)
    assert card_fields.card_number_part(name) is None or name == "card"


def test_the_checkout_forms_fields_are_no_card_fields():
    """Every field the checkout form has, as Django renders and posts it."""
    from checkout.forms import CheckoutForm

    for name in CheckoutForm.base_fields:
        assert not is_card_field(name) and card_fields.card_number_part(name) is None, name


def test_cid_pin_and_verification_code_count_only_directly_inside_a_card():
    """`cid` is an analytics client or campaign id and `verification_code` an e-mail or 2FA
    code, unless a card encloses them: by name (`card_cid`) or as the JSON object around."""
    for name in ("cid", "verification_code", "pin"):
        assert not is_card_field(name)
        assert not is_card_field(name, ["order"])
        assert is_card_field(name, ["card"])
        assert is_card_field(name, ["payment", "creditCard"])
        assert not is_card_field(name, ["card", "metadata"])  # only directly inside


@pytest.mark.parametrize(
    "name", ["cardCode", "card_code", "ccv", "CVV2", "card[cvc]", "cvv_code", "cvc_number"]
)
def test_security_code_spellings_are_refused_on_a_form_and_in_json(client, name):
    """The names the issue lists, holding a value: refused by name, digits not kept."""
    assert form_post(client, "/cart/add/", {"product": "mug", name: "123"}).status_code == 400
    body = {"payment": {name: "123"}}
    assert client.post("/cart/add/", body, content_type="application/json").status_code == 400
    assert [(e.field_name, e.detail["reason"]) for e in events()] == [(name, "card_field")] * 2
    assert all("last4" not in e.detail for e in events())


def test_cid_in_json_is_refused_only_inside_a_card(client):
    ok = client.post("/cart/add/", {"cid": "123.456"}, content_type="application/json")
    refused = client.post("/cart/add/", {"card": {"cid": "1234"}}, content_type="application/json")
    assert (ok.status_code != 400, refused.status_code) == (True, 400)
    # An Omise card object may hold its expiry, not a security code by any spelling.
    omise_card = {"card": {"object": "card", "expiration_month": 12, "cid": "1234"}}
    response = client.post("/cart/add/", omise_card, content_type="application/json")
    assert response.status_code == 400
    assert [e.field_name for e in events()] == ["cid", "cid"]


SPLIT_FORMS = [
    ("card1=4242&card2=4242&card3=4242&card4=4242", "card1"),
    ("card3=4242&card1=4242&card4=4242&card2=4242", "card1"),  # joined by index
    (
        "card_number_1=4242&card_number_2=4242&card_number_3=4242&card_number_4=4242",
        "card_number_1",
    ),
    ("cardNumber1=4242&cardNumber2=4242&cardNumber3=4242&cardNumber4=4242", "cardNumber1"),
    ("cc_1=4242&cc_2=4242&cc_3=4242&cc_4=4242", "cc_1"),
    ("ccnum[0]=4242&ccnum[1]=4242&ccnum[2]=4242&ccnum[3]=4242", "ccnum[0]"),
    (
        "card[number][1]=4242&card[number][2]=4242&card[number][3]=4242&card[number][4]=4242",
        "card[number][1]",
    ),
    ("card_number=4242&card_number2=4242&card_number3=4242&card_number4=4242", "card_number"),
    ("card=4242&card=4242&card=4242&card=4242", "card"),  # one name repeated
    ("card[]=4242&card[]=4242&card[]=4242&card[]=4242", "card[]"),
    ("card=42424242&card=42424242", "card"),  # 8 + 8
    ("card_number_1=42424242&card_number_2=42424242", "card_number_1"),
    ("cc_number=42424242&cc_number_end=42424242", "cc_number"),  # consecutive, no index
    ("pan1=4242+4242&pan2=4242-4242", "pan1"),  # typed with separators
    ("product=mug&card1=4242&quantity=1&card2=4242&card3=4242&card4=4242", "card1"),
    ("card_part_1=5555&card_part_2=5555&card_part_3=5555&card_part_4=4444", "card_part_1"),
]


@pytest.mark.parametrize(("body", "field"), SPLIT_FORMS)
def test_a_card_number_split_over_fields_is_refused(body, field):
    """Digits spread over indexed fields, one name repeated, or consecutive card-number fields
    are joined in order and judged as one number."""
    finding = cardguard.scan_fields(QueryDict(body), "form")
    assert finding is not None
    assert (finding.field_name, finding.reason) == (field, "card_number")
    assert finding.last4 == ("4444" if "5555" in body else "4242")


def test_a_split_card_number_is_refused_on_every_carrier(client):
    body = "card1=4242&card2=4242&card3=4242&card4=4242"
    assert client.get("/?" + body).status_code == 400
    assert client.post("/cart/add/", body, content_type=FORM).status_code == 400
    parts = {f"card{i}": "4242" for i in range(1, 5)}
    assert client.post("/cart/add/", parts).status_code == 400  # multipart
    assert sorted((e.detail["carrier"], e.field_name, e.detail["last4"]) for e in events()) == [
        ("form", "card1", "4242"),
        ("multipart", "card1", "4242"),
        ("query", "card1", "4242"),
    ]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"card": {"1": "4242", "2": "4242", "3": "4242", "4": "4242"}}, "1"),
        (
            {"card": {"number1": "4242", "number2": "4242", "number3": "4242", "number4": "4242"}},
            "number1",
        ),
        ({"payment": {"card1": 4242, "card2": 4242, "card3": 4242, "card4": 4242}}, "card1"),
        ({"card": ["4242", "4242", "4242", "4242"]}, "card"),
        ({"order": {"cc": ["42424242", "42424242"]}}, "cc"),
        ({"card_number_1": "42424242", "card_number_2": "42424242"}, "card_number_1"),
    ],
)
def test_a_card_number_split_over_json_members_is_refused(client, document, field):
    response = client.post("/cart/add/", document, content_type="application/json")
    assert response.status_code == 400
    [event] = events()
    assert (event.field_name, event.detail["reason"], event.detail["last4"]) == (
        field,
        "card_number",
        "4242",
    )


@pytest.mark.parametrize(
    "body",
    [
        # unrelated numeric fields are never joined, whatever their digits
        "quantity=4242&quantity=4242&quantity=4242&quantity=4242",
        "product=4242&quantity=4242&phone=4242&postal_code=4242",
        "product=4242&product=4242&product=4242&product=4242",
        "phone=4242&phone=4242&phone=4242&phone=4242",
        "street1=4242&street2=4242&postal_code=42424242",
        "tel1=4242&tel2=4242&tel3=4242&tel4=4242",
        "number1=4242&number2=4242&number3=4242&number4=4242",  # no card word
        "shown_total=42424242&attempt_key=42424242",
        # card words, but not a number's parts: last digits, brand, a token
        "card=tokn_test_5xp6ca7ud1a2u5ng3&card_last_digits=4242",
        "card_last_digits=4242&card_last_digits=4242&card_last_digits=4242&card_last_digits=4242",
        "card_number_start=4242&note=x&card_number_end=424242424242",  # not consecutive
        "card=4242&card=tokn_test_1&card=4242&card=4242",  # a non-digit value breaks the run
        # values apart: joined by NUL, not "\n", which the detector reads as a separator
        "note=4242+4242&memo=4242+4242",
        "a=4242+4242+4242&b=4242",
    ],
)
def test_unrelated_numeric_fields_are_not_joined(body):
    assert cardguard.scan_fields(QueryDict(body), "form") is None


def test_the_shops_real_forms_pass(client):
    """Cart, checkout and admin-login forms as the templates and Omise.js post them, with
    numbers that would make a card if they were joined."""
    forms = [
        ("/cart/add/", {"product": "4242", "next": "product", "quantity": "4"}),
        ("/cart/update/", {"product": "4242", "quantity": "2"}),
        ("/cart/remove/", {"product": "4242"}),
        (
            "/checkout/",
            {
                "email": "malee@example.com",
                "name": "Malee Sukjai",
                "phone": "4242 4242",
                "country": "TH",
                "street1": "4242",
                "street2": "4242",
                "city": "Bangkok",
                "state": "Bangkok",
                "postal_code": "42424",
                "omise_token": "tokn_test_5xp6ca7ud1a2u5ng3",
                "omise_source": "",
                "attempt_key": "4242424242",
                "shown_total": "424242",
                "shown_currency": "THB",
                "cart_fingerprint": "42424242",
            },
        ),
        ("/admin/login/", {"username": "admin", "password": "42424242", "otp_token": "424242"}),
    ]
    for path, data in forms:
        assert form_post(client, path, data).status_code != 400, path
        assert client.post(path, data).status_code != 400, path  # multipart
    assert events() == []


def test_csp_reports_and_webhooks_pass(client):
    """A CSP report (both formats) and an Omise webhook with digits a split number would use."""
    report = {
        "csp-report": {
            "document-uri": "https://shop.example/checkout/",
            "violated-directive": "script-src-elem",
            "blocked-uri": "inline",
            "line-number": 42424242,
            "column-number": 42424242,
            "status-code": 200,
        }
    }
    batch = [
        {"type": "csp-violation", "age": 4242, "body": {"lineNumber": 4242, "columnNumber": 4242}}
    ]
    webhook = {
        "object": "event",
        "key": "charge.complete",
        "data": {
            "object": "charge",
            "amount": 424242,
            "card": {
                "object": "card",
                "first_digits": "424242",
                "last_digits": "4242",
                "expiration_month": 12,
                "expiration_year": 2030,
                "security_code_check": True,
            },
        },
    }
    client.post("/csp-report/", json.dumps(report), content_type="application/csp-report")
    client.post("/csp-report/", json.dumps(batch), content_type="application/reports+json")
    client.post("/webhooks/omise/", webhook, content_type="application/json")
    assert events() == []


def test_joining_split_parts_is_linear(client):
    """Thousands of one-digit parts under one name cost a bounded number of checks each."""
    fields = QueryDict(mutable=True)
    fields.setlist("card", ["1"] * 5000)
    with mock.patch.object(cardguard, "is_card_number", wraps=cardguard.is_card_number) as checks:
        assert cardguard.scan_fields(fields, "form") is None
    assert checks.call_count <= 3 * cards.MAX_DIGITS * 5000


# --- Bodies judged as the bytes that arrived ------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"note": "4242 4242 4242 4242"',  # truncated
        '{"note": "4242 4242 4242 4242",}',  # trailing comma
        "note=4242 4242 4242 4242",  # not JSON at all
    ],
)
def test_an_invalid_json_body_is_scanned_as_its_text(client, body):
    response = client.post("/cart/add/", body, content_type="application/json")
    assert response.status_code == 400
    assert events()[0].detail["carrier"] == "text"


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ('{"cvv": "123", "cvv": ""}', "cvv", "card_field"),  # json.loads keeps ""
        ('{"note": "4242 4242 4242 4242", "note": "paid"}', "note", "card_number"),
        ('{"card": {"number": "4242424242424242", "number": null}}', "number", "card_field"),
        ('{"card": "4242", "card": "4242", "card": "4242", "card": "4242"}', "card", "card_number"),
        (
            '{"object": "card", "object": "x", "security_code": "123"}',
            "security_code",
            "card_field",
        ),
    ],
)
def test_a_json_object_with_a_repeated_name_has_every_value_judged(client, body, field, reason):
    """json.loads keeps a repeated name's last value; the guard judges all of them."""
    response = client.post("/cart/add/", body, content_type="application/json")
    assert response.status_code == 400
    [event] = events()
    assert (event.field_name, event.detail["reason"]) == (field, reason)


def test_a_json_object_with_a_harmless_repeated_name_passes(client):
    body = '{"product": "mug", "quantity": 1, "quantity": 2, "note": "a", "note": "b"}'
    assert client.post("/cart/add/", body, content_type="application/json").status_code != 400
    assert events() == []


@pytest.mark.parametrize(
    "escaped",
    [
        "\\u0034242 4242 4242 4242",  # an escaped ASCII digit
        "\\uff14\\uff12\\uff14\\uff12 4242 4242 4242",  # full-width digits
        "4242\\n4242\\n4242\\n4242",  # short escapes for whitespace
        "4242\\t4242\\t4242\\t4242",
        "4242\\u00a04242\\u00a04242\\u00a04242",  # escaped NBSP
        "4242\\u20134242\\u20134242\\u20134242",  # escaped en dash
        "\\u00e94242424242424242",  # an escape's hex digits glued to the number
    ],
)
def test_json_escapes_cannot_hide_a_number_the_parsed_value_holds(client, escaped):
    """The raw-text shortcut is taken only when no escape can spell a digit or a separator:
    the guard refuses exactly when the detector finds a number in the parsed value."""
    body = '{"note": "' + escaped + '"}'
    expected = bool(list(find_card_numbers(json.loads(body)["note"])))
    assert expected  # the detector reads each of these as a card number
    assert not cardguard._raw_json_is_clear(body.encode())
    response = client.post("/cart/add/", body, content_type="application/json")
    assert response.status_code == 400


def test_a_text_body_is_judged_as_its_bytes_whatever_charset_it_declares(rf: RequestFactory):
    """A UTF-16 or EBCDIC declaration (refused before the guard by security/charset.py) does
    not hide ASCII digits from the guard itself either."""
    body = b"paid with 4242 4242 4242 4242"
    for charset in ("utf-16", "cp500", "utf-32"):
        assert cardguard.scan_text(body, charset).last4 == "4242", charset
        request = rf.post("/cart/add/", body, content_type=f"text/plain; charset={charset}")
        assert CardGuardMiddleware(lambda r: HttpResponse("ok"))(request).status_code == 400
    assert (
        cardguard.scan_text("ชำระ ๔๒๔๒ ๔๒๔๒ ๔๒๔๒ ๔๒๔๒".encode("tis-620"), "tis-620").last4 == "4242"
    )
    assert cardguard.scan_text(b"order LG-20250101-0042", "utf-16") is None


def test_a_json_float_holding_a_card_number_is_refused(client):
    """4242424242424242.0 is what int() and every JSON reader make 4242424242424242 of."""
    body = '{"amount": 4242424242424242.0}'
    assert client.post("/cart/add/", body, content_type="application/json").status_code == 400


def test_a_body_without_a_content_length_is_still_scanned():
    """ASGI (or a chunked upload) gives the view a body with no Content-Length: the guard reads
    it all the same."""
    request = RequestFactory().post(
        "/cart/add/", data=json.dumps({"card_number": CARD}), content_type="application/json"
    )
    del request.META["CONTENT_LENGTH"]
    assert cardguard.scan_request(request) is not None


def test_deeply_nested_json_with_long_names_costs_each_key_a_bounded_context():
    """800 levels of 300-character names (under the 256 KiB body limit) took 20 s when every
    key re-read every enclosing name; now each key sees at most JSON_CONTEXT_NAMES of them:
    counted, not timed."""
    from unittest import mock

    name = "a_" * 148 + "number"
    document: object = "1"
    for _ in range(800):
        document = {name: document}
    with mock.patch.object(
        cardguard, "card_field_kind_memo", wraps=cardguard.card_field_kind_memo
    ) as judged:
        assert cardguard.scan_json(document) is None
    assert judged.call_count == 800
    assert max(len(call.args[1]) for call in judged.call_args_list) <= cardguard.JSON_CONTEXT_NAMES


def test_an_objects_names_are_judged_where_they_stand_however_often_seen():
    """Names judged together are remembered by their place too: the same object under a card
    and under an order is judged apart, and an object with more names than are remembered
    whole is judged all the same."""
    assert cardguard.scan_json({"order": {"number": "12", "cvv": ""}}) is None
    refused = cardguard.scan_json({"card": {"number": "12", "cvv": ""}})
    assert refused is not None and refused.reason == "card_field"
    assert cardguard.scan_json({"order": {"number": "12", "cvv": ""}}) is None
    many = {f"field_{i}": "x" for i in range(cardguard.CACHED_SHAPE_NAMES + 1)}
    assert cardguard.scan_json({"card": many}) is None
    refused = cardguard.scan_json({"card": {**many, "security_code": "123"}})
    assert refused is not None and refused.field_name == "security_code"


# --- JSON sent under another type -----------------------------------------------------------------

HIDDEN_IN_JSON = [
    '{"card": "4242", "card": "4242", "card": "4242", "card": "4242"}',  # split, repeated name
    '{"card1": "4242", "card2": "4242", "card3": "4242", "card4": "4242"}',  # split, indexed
    '{"note": "\\u0034242\\u00204242\\u00204242\\u00204242"}',  # escapes spell the number
    '[{"cvv": "123"}]',  # a security code's field name
    ' \r\n{"payment": {"cvc": "123"}}',  # whitespace before the object
]


@pytest.mark.parametrize("body", HIDDEN_IN_JSON)
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain;charset=UTF-8",  # what fetch() sends a string body as
        "application/octet-stream",
        "application/x-www-form-urlencoded",
    ],
)
def test_a_json_document_under_another_type_is_judged_as_json(client, body, content_type):
    """A view may json.loads(request.body) whatever type was declared: the guard reads the
    body that way too, so a number split over members, spelled with escapes, or a security
    code's name, is refused under any type."""
    response = client.post("/cart/add/", body, content_type=content_type)
    assert response.status_code == 400
    assert events()[0].detail["carrier"] == "json"


def test_utf16_json_under_another_type_is_judged_as_json(rf: RequestFactory):
    body = '{"card": "4242", "card": "4242", "card": "4242", "card": "4242"}'.encode("utf-16")
    request = rf.post("/cart/add/", body, content_type="text/plain")
    assert cardguard.scan_request(request).carrier == "json"


@pytest.mark.parametrize(
    "body",
    [
        '{"product": "teak-bowl", "quantity": 2, "note": "081 234 5678, 50200"}',
        "{not json at all, order LG-20250101-0042}",
        "[1, 2, 3",
    ],
)
def test_json_like_bodies_without_card_data_pass_under_any_type(client, body):
    response = client.post("/cart/add/", body, content_type="text/plain")
    assert response.status_code != 400
    assert events() == []
