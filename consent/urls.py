from django.urls import path, re_path

from . import views
from .portal import views as portal_views

app_name = "consent"

urlpatterns = [
    path("age/", views.age_gate_view, name="age_gate"),
    path("child/", views.child_signup, name="child_signup"),
    path("child/sent/", views.child_sent, name="child_sent"),
    re_path(r"^parent/(?P<public_id>[A-Za-z0-9_-]{1,32})/(?P<key>[A-Za-z0-9_=-]{1,64})/$", views.parent, name="parent"),
    # the parent portal
    path("parents/", portal_views.portal_home, name="portal"),
    re_path(r"^parents/link/(?P<token>[A-Za-z0-9_=-]{1,400})/$", portal_views.portal_link, name="portal_link"),
    path("parents/school/", portal_views.portal_school_request, name="portal_school"),
    path("parents/sign-out/", portal_views.portal_sign_out, name="portal_sign_out"),
    path("parents/children/", portal_views.portal_children, name="portal_children"),
    path("parents/children/<int:child_id>/", portal_views.portal_child, name="portal_child"),
    path("parents/children/<int:child_id>/password/", portal_views.portal_child_password, name="portal_password"),
    path("parents/children/<int:child_id>/collection/", portal_views.portal_child_suspend, name="portal_suspend"),
    path("parents/children/<int:child_id>/delete/", portal_views.portal_child_delete, name="portal_delete"),
    path("parents/children/<int:child_id>/download/", portal_views.portal_child_download, name="portal_download"),
    path("parents/children/<int:child_id>/receipt/", portal_views.portal_child_receipt, name="portal_receipt"),
    path("parents/children/<int:child_id>/guardian/", portal_views.portal_child_guardian, name="portal_guardian"),
    path(
        "parents/children/<int:child_id>/school-request/",
        portal_views.portal_child_school_request,
        name="portal_school_request",
    ),
    path(
        "parents/children/<int:child_id>/disclosures/<int:third_party_id>/",
        portal_views.portal_child_disclosure,
        name="portal_disclosure",
    ),
    path(
        "parents/children/<int:child_id>/disclosures/<int:third_party_id>/form/",
        portal_views.portal_child_disclosure_form,
        name="portal_disclosure_form",
    ),
    path("age-up/", portal_views.age_up, name="age_up"),
]
