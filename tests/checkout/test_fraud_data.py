"""What Omise's fraud scoring receives with every charge, read from what reached the sandbox.

Omise's guide asks for charge.ip, a description, the customer's email, the billing address
(above all for US and Canadian shoppers) and details of the purchase.
"""

import re

import pytest

from checkout.models import Order
from tests.factories import make_product
from tests.shopping import checkout_form

pytestmark = pytest.mark.django_db(transaction=True)

THAI_SHOPPER = {"email": "malee@example.com", "name": "Malee Sukjai", "country": "TH"}
US_SHOPPER = {
    "email": "Jane.Doe@example.com",
    "name": "Jane Doe",
    "phone": "+1 512 555 0100",
    "country": "US",
    "street1": "1 Congress Ave",
    "street2": "Suite 200",
    "city": "Austin",
    "state": "TX",
    "postal_code": "78701",
}


@pytest.fixture
def shop(client, sandbox):
    """A shopper with one silk scarf and three rice soaps in the cart."""
    for slug, name, price, quantity in [
        ("silk-scarf", "Silk Scarf", 129000, 1),
        ("rice-soap", "Rice Soap", 12000, 3),
    ]:
        make_product(name=name, slug=slug, price=price)
        client.post("/cart/add/", {"product": slug, "quantity": str(quantity)})
    return client


def pay(client, sandbox, buyer=THAI_SHOPPER, **meta) -> dict:
    """Submit the checkout with a fresh token; returns the charge parameters Omise received."""
    data = {**buyer, "omise_token": sandbox.token(), **checkout_form(client, **meta)}
    response = client.post("/checkout/", data, **meta)
    assert response.status_code == 302
    return sandbox.last_request("charges.create")


def test_charge_ip_is_the_connecting_client(shop, sandbox, settings):
    """With no proxy in front, charge.ip is the address that connected."""
    settings.TRUSTED_PROXY_COUNT = 0
    assert pay(shop, sandbox, REMOTE_ADDR="203.0.113.9")["ip"] == "203.0.113.9"


def test_a_spoofed_forwarded_for_is_not_believed(shop, sandbox, settings):
    """Without trusted proxies, an X-Forwarded-For sent from the internet does not become
    charge.ip: the connecting address does."""
    settings.TRUSTED_PROXY_COUNT = 0
    sent = pay(shop, sandbox, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="8.8.8.8")
    assert sent["ip"] == "203.0.113.9"


def test_behind_one_trusted_proxy_the_address_it_saw_is_sent(shop, sandbox, settings):
    """Behind one proxy, charge.ip is the address the proxy appended, not the client's own
    claim before it, nor the proxy's address."""
    settings.TRUSTED_PROXY_COUNT = 1
    sent = pay(shop, sandbox, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="8.8.8.8, 198.51.100.23")
    assert sent["ip"] == "198.51.100.23"


def test_description_names_the_shop_the_order_and_what_was_bought(shop, sandbox, settings):
    """The description says which shop, which order, and the items with their quantities."""
    sent = pay(shop, sandbox)
    order = Order.objects.get()
    prefix = f"{settings.SHOP_NAME} order {order.reference}: "
    assert sent["description"].startswith(prefix)
    items = sent["description"].removeprefix(prefix).split(", ")
    assert sorted(items) == ["1 × Silk Scarf", "3 × Rice Soap"]


def test_email_name_and_purchase_details_are_in_metadata(shop, sandbox):
    """The shopper's email and name, the item count, and each item's SKU, name, quantity and
    unit price go in the charge's metadata."""
    metadata = pay(shop, sandbox)["metadata"]
    assert metadata["email"] == "malee@example.com"
    assert metadata["customer_name"] == "Malee Sukjai"
    assert metadata["billing_country"] == "TH"
    assert int(metadata["item_count"]) == 4
    assert sorted(
        (i["sku"], i["name"], int(i["quantity"]), int(i["unit_price"])) for i in metadata["items"]
    ) == [("rice-soap", "Rice Soap", 3, 12000), ("silk-scarf", "Silk Scarf", 1, 129000)]


def test_a_us_shopper_billing_address_goes_with_the_charge(shop, sandbox):
    """A US shopper's billing address (street, city, state, postal code, country, phone)
    reaches Omise in the charge's metadata."""
    metadata = pay(shop, sandbox, US_SHOPPER)["metadata"]
    assert metadata["billing_address"] == {
        "street1": "1 Congress Ave",
        "street2": "Suite 200",
        "city": "Austin",
        "state": "TX",
        "postal_code": "78701",
        "country": "US",
        "phone_number": "+1 512 555 0100",
    }
    assert metadata["email"] == "Jane.Doe@example.com"


def test_no_empty_billing_address_is_sent(shop, sandbox):
    """A shopper who gave no street address sends no billing_address object at all."""
    assert "billing_address" not in pay(shop, sandbox)["metadata"]


def test_no_card_data_goes_in_description_or_metadata(shop, sandbox):
    """Only the token stands for the card: no run of 12 or more digits appears in the
    description or metadata."""
    sent = pay(shop, sandbox, US_SHOPPER)
    assert sent["card"].startswith("tokn_test_")
    assert not re.search(r"\d{12,}", f"{sent['description']} {sent['metadata']}")
