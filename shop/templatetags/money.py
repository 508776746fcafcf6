from django import template

from shop.money import format_money

register = template.Library()


@register.filter(name="money")
def money(amount: int, currency: str) -> str:
    """`{{ product.price|money:product.currency }}` → ฿1,290.00"""
    return format_money(int(amount), currency)
