"""The privacy policy page, at /privacy/ under its historic un-namespaced name ``privacy_policy``."""

from django.urls import path

from . import views

urlpatterns = [path("", views.privacy_policy, name="privacy_policy")]
