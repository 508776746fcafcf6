"""The card guard: the detector, and the middleware refusing card data on every carrier."""

import json
import os
import random
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
        ("4222222222222", "visa"),
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
        ("4242  4242  4242  4242", "double spaces are not a typed card number"),
    ],
)
def test_lookalikes_are_not_card_numbers(text, why):
    """Values that merely look numeric are not reported as card numbers."""
    assert list(find_card_numbers(text)) == [], why


def test_card_followed_by_its_cvv_is_still_found():
    """A number typed with its CVV after it is found on its whole groups, not lost in the run."""
    [match] = find_card_numbers("4242 4242 4242 4242 123")
    assert match.digits == CARD and match.last4 == "4242"


def test_scanner_work_is_linear_in_adversarial_input():
    """100 KB of 4-digit groups and separators (every group starts candidate windows) costs
    a bounded number of candidate checks per group: counted, not timed."""
    rnd = random.Random(5)
    text = "".join(f"{rnd.randint(0, 9999):04d}{rnd.choice(' -')}" for _ in range(20_000))
    with mock.patch.object(cards, "card_brand", wraps=cards.card_brand) as checks:
        list(find_card_numbers(text))
    # A window holds at most 19 digits: at most 7 window lengths (13..19) per starting group.
    assert 0 < checks.call_count <= 7 * 20_000


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
    """In `LG-20254256-4533 074228608` the 4533 is the reference's, not a card's first group."""
    assert is_card_number("4533074228608")
    assert list(find_card_numbers("LG-20254256-4533 074228608")) == []
    assert [m.digits for m in find_card_numbers("room 4533 074228608")] == ["4533074228608"]


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
