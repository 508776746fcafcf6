"""Sandbox URLs, mounted at /sandbox/ by config/urls.py only when OMISE_SANDBOX is on.

Omise's hosts map to prefixes: api.omise.co → /sandbox/api, vault.omise.co → /sandbox/vault
(the only prefix that may receive card numbers), cdn.omise.co/omise.js → /sandbox/omise.js.
"""

from django.urls import path, re_path

from sandbox import api, views

app_name = "sandbox"

CHARGE = r"(?P<charge_id>chrg_test_[0-9a-z]+)"
EVENT = r"(?P<event_id>evnt_test_[0-9a-z]+)"
SOURCE = r"(?P<source_id>src_test_[0-9a-z]+)"
DISPUTE = r"(?P<dispute_id>dspt_test_[0-9a-z]+)"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    # the shop's e-mails, as a shopper's inbox would get them
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<int:pk>/", views.outbox_mail, name="outbox_mail"),
    # vault.omise.co
    path("vault/tokens", api.tokens, name="tokens"),
    # api.omise.co
    path("api/account", api.account, name="account"),
    path("api/sources", api.sources, name="sources"),  # public key, from the shopper's browser
    re_path(rf"^api/sources/{SOURCE}$", api.source_detail, name="source"),
    path("api/capability", api.capability, name="capability"),
    path("api/charges", api.charges, name="charges"),
    re_path(rf"^api/charges/{CHARGE}$", api.charge_detail, name="charge"),
    re_path(rf"^api/charges/{CHARGE}/capture$", api.charge_capture, name="charge_capture"),
    re_path(rf"^api/charges/{CHARGE}/reverse$", api.charge_reverse, name="charge_reverse"),
    re_path(rf"^api/charges/{CHARGE}/expire$", api.charge_expire, name="charge_expire"),
    re_path(
        rf"^api/charges/{CHARGE}/mark_as_paid$", api.charge_mark_as_paid, name="charge_mark_as_paid"
    ),
    re_path(
        rf"^api/charges/{CHARGE}/mark_as_failed$",
        api.charge_mark_as_failed,
        name="charge_mark_as_failed",
    ),
    re_path(rf"^api/charges/{CHARGE}/refunds$", api.charge_refunds, name="charge_refunds"),
    re_path(rf"^api/charges/{CHARGE}/disputes$", api.charge_dispute, name="charge_disputes"),
    path("api/disputes", api.disputes, name="disputes"),
    re_path(r"^api/disputes/(?P<status>open|pending|closed)$", api.disputes, name="disputes_by"),
    re_path(rf"^api/disputes/{DISPUTE}$", api.dispute_detail, name="dispute"),
    re_path(rf"^api/disputes/{DISPUTE}/accept$", api.dispute_accept, name="dispute_accept"),
    path("api/events", api.events, name="events"),
    re_path(rf"^api/events/{EVENT}$", api.event_detail, name="event"),
    re_path(r"^api/", api.not_found),  # Omise's JSON 404, not an HTML page
    # cdn.omise.co and the card form frame
    path("omise.js", views.omise_js, name="omise_js"),
    path("card-frame/", views.card_frame, name="card_frame"),
    path("assets/<str:name>", views.asset, name="asset"),
    # the issuer's 3-D Secure page, and a shop-origin page to try the card form
    re_path(rf"^3ds/{CHARGE}/$", views.three_d_secure, name="three_d_secure"),
    path("try/", views.try_page, name="try"),
    # PromptPay: the QR image a shop shows, the "banking app" the QR leads to, and the
    # dashboard's settle buttons
    re_path(rf"^qr/{CHARGE}\.svg$", views.qr_code, name="qr_code"),
    re_path(rf"^promptpay/{CHARGE}/$", views.promptpay_app, name="promptpay_app"),
    # mobile banking, wallets, installments: the bank's app or the wallet's page (pay, cancel,
    # let it time out), then back to the shop's return_uri
    re_path(rf"^app/{CHARGE}/$", views.app_handoff, name="app_handoff"),
    re_path(rf"^charges/{CHARGE}/settle$", views.settle, name="settle"),
    # disputes opened and decided, and the switch that drops webhooks
    re_path(rf"^charges/{CHARGE}/dispute$", views.dispute_open, name="dispute_open"),
    re_path(rf"^disputes/{DISPUTE}/close$", views.dispute_close, name="dispute_close"),
    path("switches", views.switches, name="switches"),
    # test hooks (secret key)
    path("test/webhooks/deliver", api.test_deliver_webhooks, name="test_deliver_webhooks"),
    path("test/faults", api.test_faults, name="test_faults"),
]
