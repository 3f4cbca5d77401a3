from django.urls import path

from . import views

app_name = "analytics"

urlpatterns = [
    path("", views.cookie_settings, name="settings"),
    path("pageview/", views.page_view, name="pageview"),
]
