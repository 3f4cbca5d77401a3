from django.urls import path, re_path

from . import views

app_name = "consent"

urlpatterns = [
    path("age/", views.age_gate_view, name="age_gate"),
    path("child/", views.child_signup, name="child_signup"),
    path("child/sent/", views.child_sent, name="child_sent"),
    re_path(r"^parent/(?P<public_id>[A-Za-z0-9_-]{1,32})/(?P<key>[A-Za-z0-9_=-]{1,64})/$", views.parent, name="parent"),
]
