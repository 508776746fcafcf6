"""Dates as a shopper reads them: `{{ moment|when }}` → "6 December 2026, 11:00" in English,
"6 ธันวาคม 2569 เวลา 11:00 น." in Thai (Thai month names, the Buddhist Era year Thai shops
print: Gregorian + 543), in the shop's time zone."""

from datetime import date, datetime

from django import template
from django.utils import formats, timezone
from django.utils.translation import get_language

register = template.Library()

BUDDHIST_ERA_OFFSET = 543


@register.filter(name="when")
def when(value: datetime | date | None) -> str:
    if not value:
        return ""
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    day = formats.date_format(value, "j F")
    if (get_language() or "").startswith("th"):
        text = f"{day} {value.year + BUDDHIST_ERA_OFFSET}"
        if isinstance(value, datetime):
            text += f" เวลา {value:%H:%M} น."
        return text
    text = f"{day} {value.year}"
    return f"{text}, {value:%H:%M}" if isinstance(value, datetime) else text
