"""The language switcher's URL, outside the ``accounts`` namespace so templates name it ``set_language``."""

from django.urls import path

from . import views

urlpatterns = [
    # templates/_language_switcher.html: Django's set_language, and the choice stored on the account
    path("setlang/", views.language_set, name="set_language"),
]
