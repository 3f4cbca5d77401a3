"""consent's public constants (other apps may import this module): the cookies consent sets."""

# The signed cookie binding the age gate's decision to the browser.
AGE_DECISION_COOKIE = "mindomo_age"
# The encrypted cookie holding a child's pending request (to resend the parent's email).
REQUEST_COOKIE = "mindomo_consent_request"
