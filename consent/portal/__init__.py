"""The parent portal: what the policy's PARENT RIGHTS promise, for parents who have no password.

- ``session``: the single-use sign-in link and the parent's session (an address and an expiry, nothing else);
- ``reads``: the one protected read (``records_visible_to_parent``) and what the pages show;
- ``actions``: what a parent may do per child; every write to another app goes through its service
  (``accounts.services``) or a hook the higher app registered (``consent.hooks``: billing's card check);
- ``views``: the pages, thin.
"""
