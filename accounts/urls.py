from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    # data subject rights
    path("data/", views.data_export, name="data_export"),
    path("data/exports/<uuid:public_id>/status/", views.data_export_status, name="data_export_status"),
    path("data/exports/<uuid:public_id>/download/", views.data_export_download, name="data_export_download"),
    path("delete/", views.account_delete, name="account_delete"),
    path("delete/scheduled/", views.account_delete_done, name="account_delete_done"),
    path("support/", views.support, name="support"),
]
