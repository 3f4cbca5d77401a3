"""consent's public constants (other apps may import this module): the cookies consent sets, the kinds of
request a parent sends a school."""

from django.utils.translation import gettext_lazy as _

# The signed cookie binding the age gate's decision to the browser.
AGE_DECISION_COOKIE = "mindomo_age"
# The encrypted cookie holding a child's pending request (to resend the parent's email).
REQUEST_COOKIE = "mindomo_consent_request"


class SchoolRequest:
    OVERVIEW = "overview"
    DELETION = "deletion"
    STOP = "stop"
    CHOICES = (
        (OVERVIEW, _("an overview of the information collected from my child")),
        (DELETION, _("the deletion of my child's account and data")),
        (STOP, _("stopping the further collection and use of my child's information")),
    )
