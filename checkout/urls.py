"""Checkout, shopper order pages and the Omise webhook, namespaced "checkout"."""

from django.urls import path

from checkout import views

app_name = "checkout"
urlpatterns = [
    path("checkout/", views.checkout, name="checkout"),
    path("orders/<str:reference>/<str:token>/", views.order_detail, name="order_detail"),
    path("orders/<str:reference>/<str:token>/status.json", views.order_status, name="order_status"),
    path("orders/<str:reference>/return/<str:token>/", views.payment_return, name="return"),
    path("webhooks/omise/", views.omise_webhook, name="webhook"),
]
