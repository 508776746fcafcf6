"""The pages that read the tables growing with the shop run as many queries at 3 rows as at
30 (no query per row), search through indexes, and count a long list only up to a bound.

bench/year.py times the same pages over a year of data; these tests hold what makes them
scale: the number and the shape of their queries.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from checkout.models import Order, OrderItem, PaymentAttempt, WebhookDelivery
from security.models import SecurityEvent
from security.paging import LargeTablePaginator

pytestmark = pytest.mark.django_db

ORDERS = "/admin/checkout/order/"
EVENTS = "/admin/security/securityevent/"
DASHBOARD = "/admin/checkout/order/monitoring/"


def add_orders(count: int, *, start: int = 0) -> list[Order]:
    orders = []
    for n in range(start, start + count):
        order = Order.objects.create(
            amount=129000,
            currency="THB",
            email=f"buyer{n}@example.com",
            name=f"Buyer {n}",
            country="TH" if n % 2 else "SG",
            status=Order.Status.PAID,
        )
        OrderItem.objects.create(order=order, name="Mug", sku="mug", unit_price=129000, quantity=1)
        PaymentAttempt.objects.create(
            order=order,
            key=f"key-{n}",
            charge_id=f"chrg_test_bench{n:06d}",
            amount=129000,
            currency="THB",
            status=PaymentAttempt.Status.SUCCESSFUL,
        )
        orders.append(order)
    return orders


def add_events(count: int) -> None:
    SecurityEvent.objects.bulk_create(
        SecurityEvent(
            kind=SecurityEvent.Kind.CARD_DATA_REFUSED
            if n % 2
            else SecurityEvent.Kind.CSP_VIOLATION,
            path=f"/checkout/{n}/" if n % 2 else "/csp-report/",
            client_ip=f"192.0.2.{n % 250}",
        )
        for n in range(count)
    )
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(event_id=f"evnt_test_{n:08d}", response_status=500) for n in range(count)
    )


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured)


def listed(client, url: str) -> set[str]:
    return {str(row) for row in client.get(url).context["cl"].result_list}


@pytest.mark.parametrize(
    "url",
    [
        ORDERS,
        f"{ORDERS}?status__exact=paid&country=TH",
        f"{ORDERS}?q=buyer1@example.com",
        f"{ORDERS}?q=chrg_test_bench000001",
        f"{ORDERS}?q=buyer",
        "/admin/checkout/paymentattempt/",
        "/admin/checkout/webhookdelivery/",
        EVENTS,
        f"{EVENTS}?kind__exact=card_data_refused",
        f"{EVENTS}?q=192.0.2.1",
        DASHBOARD,
    ],
)
def test_admin_pages_run_as_many_queries_at_3_rows_as_at_30(otp_admin_client, url):
    add_orders(3)
    add_events(3)
    few = queries(otp_admin_client, url)
    add_orders(27, start=3)
    add_events(27)
    assert queries(otp_admin_client, url) == few


def test_the_order_page_runs_as_many_queries_for_a_busy_shop(client):
    first = add_orders(1)[0]
    few = queries(client, first.get_absolute_url())
    add_orders(30, start=1)
    PaymentAttempt.objects.create(
        order=first, key="earlier", amount=129000, currency="THB", status="failed"
    )
    assert queries(client, first.get_absolute_url()) == few <= 5


def test_order_search_finds_by_email_charge_reference_and_name_start(otp_admin_client):
    orders = add_orders(12)
    assert listed(otp_admin_client, f"{ORDERS}?q=BUYER1@example.com") == {orders[1].reference}
    assert listed(otp_admin_client, f"{ORDERS}?q=chrg_test_bench000011") == {orders[11].reference}
    reference = orders[5].reference
    assert listed(otp_admin_client, f"{ORDERS}?q={reference.lower()}") == {reference}
    by_name = listed(otp_admin_client, f"{ORDERS}?q=buyer 1")
    assert by_name == {orders[1].reference, orders[10].reference, orders[11].reference}


def test_order_search_reads_no_row_it_cannot_find_through_an_index(otp_admin_client):
    """Not a "contains" search: the middle of an e-mail address or a name finds nothing, as
    the index it is read through cannot (docs: search_help_text says what can be typed)."""
    add_orders(3)
    assert listed(otp_admin_client, f"{ORDERS}?q=example.com") == set()
    assert listed(otp_admin_client, f"{ORDERS}?q=uyer") == set()


def test_order_list_filters_by_a_fixed_list_of_countries(otp_admin_client):
    orders = add_orders(4)
    response = otp_admin_client.get(f"{ORDERS}?country=SG")
    assert {str(o) for o in response.context["cl"].result_list} == {
        orders[0].reference,
        orders[2].reference,
    }
    filters = [spec.title for spec in response.context["cl"].filter_specs]
    assert "country" in filters
    assert response.context["cl"].date_hierarchy is None  # read from every row's date


def test_security_event_search_by_address_or_path_start(otp_admin_client):
    add_events(6)
    by_ip = otp_admin_client.get(f"{EVENTS}?q=192.0.2.3").context["cl"].result_list
    assert [e.client_ip for e in by_ip] == ["192.0.2.3"]
    by_path = otp_admin_client.get(f"{EVENTS}?q=/checkout/").context["cl"].result_list
    assert sorted(e.path for e in by_path) == ["/checkout/1/", "/checkout/3/", "/checkout/5/"]
    assert otp_admin_client.get(f"{EVENTS}?q=checkout").context["cl"].result_count == 0


def test_large_lists_do_not_count_their_whole_table(otp_admin_client):
    add_events(3)
    cl = otp_admin_client.get(EVENTS).context["cl"]
    assert isinstance(cl.paginator, LargeTablePaginator)
    assert cl.show_full_result_count is False
    assert cl.result_count == 3


def test_the_paginator_counts_exactly_below_its_bound():
    add_events(7)
    paginator = LargeTablePaginator(SecurityEvent.objects.order_by("-pk"), 2)
    paginator.exact_up_to = 10
    assert paginator.count == 7 and paginator.num_pages == 4
    paginator = LargeTablePaginator(list(range(5)), 2)  # not a queryset: Django's own count
    assert paginator.count == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_past_its_bound_the_paginator_shows_the_planners_estimate():
    add_events(60)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE shop_securityevent")
    paginator = LargeTablePaginator(SecurityEvent.objects.all(), 10)
    paginator.exact_up_to = 20
    with CaptureQueriesContext(connection) as captured:
        count = paginator.count
    assert count > 20  # the estimate, at least what was counted
    assert 30 <= count <= 120
    sql = " ".join(q["sql"] for q in captured)
    assert "LIMIT 21" in sql and "EXPLAIN" in sql


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_searches_and_the_dashboard_read_indexes_on_postgresql():
    """With scans priced out (as on a big table), each query the admin search and the
    dashboard send has an index to read: the plan names it."""
    add_orders(3)
    add_events(3)
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
    try:
        plans = {
            "email": Order.objects.filter(email__iexact="buyer1@example.com"),
            "name": Order.objects.filter(name__startswith="Buyer"),
            "kind": SecurityEvent.objects.filter(
                kind="csp_violation", created_at__gte=timezone.now()
            ),
            "path": SecurityEvent.objects.filter(path__startswith="/checkout/"),
            "unsettled": PaymentAttempt.objects.exclude(
                status__in=["successful", "failed", "expired", "reversed"]
            ).filter(created_at__lt=timezone.now()),
            "failures": WebhookDelivery.objects.filter(
                response_status__gte=400, received_at__gte=timezone.now()
            ),
        }
        expected = {
            "email": "order_email_upper",
            "name": "order_name_prefix",
            "kind": "",  # this one or the time index: a big table's statistics choose
            "path": "securityevent_path",
            "unsettled": "attempt_unsettled_created",
            "failures": "",  # this partial index or the time index, as for "kind"
        }
        for name, queryset in plans.items():
            plan = queryset.order_by().explain()  # the filter's index, not the ordering's
            assert "Seq Scan" not in plan and expected[name] in plan, (name, plan)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET enable_seqscan")
