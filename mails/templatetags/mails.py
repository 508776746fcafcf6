from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter(name="isodate")
def isodate(value: str) -> datetime | None:
    """An ISO 8601 string from a mail's JSON context, as a datetime for `|date`."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return timezone.localtime(moment) if timezone.is_aware(moment) else moment
