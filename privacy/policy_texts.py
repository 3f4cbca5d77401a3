"""What each shipped version of the privacy policy says changed, stored in English by its data migration and
shown translated while the stored text is still this one (``PolicyVersion.summary_display``); a summary staff
write in the admin is shown as written."""

from django.utils.translation import gettext_noop

SUMMARY_2026 = gettext_noop(
    "Rewritten to say exactly what the service does: what we collect from adults, children and schools and why; "
    "how long each kind of data is kept; who receives it and whether each provider is integral; that a parent's "
    "consent to disclosure to any other provider is separate and optional; the parent portal; the ages of digital "
    "consent per country; our own cookies and cookieless first-party analytics (no cookie or script of another "
    "company); security; and how changes are notified."
)
