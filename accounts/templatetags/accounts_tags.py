from typing import Any

from django import template

from accounts import selectors

register = template.Library()


@register.filter
def may_link_services(user: Any) -> bool:
    return selectors.user_may_link_services(user)
