from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def checkout(request: HttpRequest) -> HttpResponse:
    """Placeholder until the payment flow lands: shows the order summary."""
    return render(request, "checkout/checkout.html")
