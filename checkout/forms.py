"""The checkout form: who pays and where they live. Never a card field: the card is entered in
Omise's frame, and only the one-time token it returns reaches this form."""

from django import forms
from django.utils.translation import gettext_lazy as _

from checkout.ids import is_omise_id
from checkout.services import Buyer, ShownCart

# Omise's fraud guidance: billing addresses matter most for shoppers in the US and Canada.
ADDRESS_REQUIRED_COUNTRIES = {"US", "CA"}
COUNTRIES = [
    ("TH", _("Thailand")),
    ("AU", _("Australia")),
    ("CA", _("Canada")),
    ("CN", _("China")),
    ("FR", _("France")),
    ("DE", _("Germany")),
    ("HK", _("Hong Kong")),
    ("IN", _("India")),
    ("ID", _("Indonesia")),
    ("JP", _("Japan")),
    ("KR", _("South Korea")),
    ("LA", _("Laos")),
    ("MY", _("Malaysia")),
    ("MM", _("Myanmar")),
    ("NL", _("Netherlands")),
    ("NZ", _("New Zealand")),
    ("PH", _("Philippines")),
    ("SG", _("Singapore")),
    ("TW", _("Taiwan")),
    ("GB", _("United Kingdom")),
    ("US", _("United States")),
    ("VN", _("Vietnam")),
    ("KH", _("Cambodia")),
]


class CheckoutForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    name = forms.CharField(
        label=_("Full name"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "tel"}),
    )
    country = forms.ChoiceField(label=_("Country"), choices=COUNTRIES, initial="TH")
    street1 = forms.CharField(
        label=_("Address"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-line1"}),
    )
    street2 = forms.CharField(
        label=_("Address line 2"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-line2"}),
    )
    city = forms.CharField(
        label=_("City"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-level2"}),
    )
    state = forms.CharField(
        label=_("State / province"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-level1"}),
    )
    postal_code = forms.CharField(
        label=_("Postal code"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "postal-code"}),
    )
    # Filled by Omise.js' form callback: the only payment data this server ever receives. A
    # card gives a one-time token (tokn_…), another method (PromptPay…) a source (src_…).
    omise_token = forms.CharField(max_length=80, required=False, widget=forms.HiddenInput)
    omise_source = forms.CharField(max_length=80, required=False, widget=forms.HiddenInput)
    attempt_key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    # What the page showed the shopper, so the server charges that or nothing (the template
    # writes them from the cart as it is now, never from a submitted form).
    shown_total = forms.IntegerField(min_value=0, max_value=10**12, widget=forms.HiddenInput)
    shown_currency = forms.CharField(max_length=3, widget=forms.HiddenInput)
    cart_fingerprint = forms.CharField(max_length=64, widget=forms.HiddenInput)

    def clean_omise_token(self) -> str:
        token = self.cleaned_data["omise_token"]
        if not is_omise_id("tokn", token) and not self.data.get("omise_source"):
            raise forms.ValidationError(
                _("Your card details were not received. Press Pay and complete the card form.")
            )
        return token

    def clean_omise_source(self) -> str:
        source = self.cleaned_data["omise_source"]
        if source and (not is_omise_id("src", source) or self.data.get("omise_token")):
            raise forms.ValidationError(
                _("Your payment method was not received. Press Pay and choose how to pay again.")
            )
        return source

    def clean(self):
        super().clean()
        data = self.cleaned_data  # what Form.clean returns (django-stubs allows it None)
        if data.get("country") in ADDRESS_REQUIRED_COUNTRIES:
            for field in ("street1", "city", "state", "postal_code"):
                if not data.get(field):
                    self.add_error(field, _("Required for billing addresses in the US and Canada."))
        return data

    def shown(self) -> ShownCart:
        return ShownCart(
            total=self.cleaned_data["shown_total"],
            currency=self.cleaned_data["shown_currency"],
            fingerprint=self.cleaned_data["cart_fingerprint"],
        )

    def buyer(self) -> Buyer:
        fields = Buyer.__dataclass_fields__
        return Buyer(**{name: self.cleaned_data[name] for name in fields})
