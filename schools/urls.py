from django.urls import path

from . import views

app_name = "schools"

urlpatterns = [
    path("sign-in/", views.school_sign_in, name="sign_in"),
    path("join/", views.teacher_join, name="join"),
    path("<int:school_id>/join-requests/<int:request_id>/", views.teacher_join_answer, name="join_answer"),
    path("<int:school_id>/domains/", views.domains, name="domains"),
    path("<int:school_id>/roster/import/", views.roster_upload, name="roster_upload"),
    path("<int:school_id>/roster/import/<int:import_id>/", views.roster_import, name="roster_import"),
    path("<int:school_id>/roster/import/<int:import_id>/cancel/", views.roster_import_cancel, name="roster_cancel"),
    path("<int:school_id>/roster/import/<int:import_id>/retry/", views.roster_import_retry, name="roster_retry"),
]
