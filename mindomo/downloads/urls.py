from django.urls import path

from . import views

app_name = "downloads"

urlpatterns = [
    path("<uuid:public_id>/", views.progress, name="progress"),
    path("<uuid:public_id>/status/", views.status, name="status"),
    path("<uuid:public_id>/download/", views.download, name="download"),
]
