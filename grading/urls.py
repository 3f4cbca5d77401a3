from django.urls import path

from . import retention_views, views

app_name = "grading"

urlpatterns = [
    path("", views.index, name="index"),
    path("sign-in/", views.student_sign_in, name="student_sign_in"),
    path("my-grades/", views.my_grades, name="my_grades"),
    path("schools/<int:school_id>/", views.school_roster, name="school_roster"),
    path("schools/<int:school_id>/students/add/", views.student_add, name="student_add"),
    path("schools/<int:school_id>/students/import/", views.student_import, name="student_import"),
    path("schools/<int:school_id>/students/<int:user_id>/parents/", views.student_parents, name="student_parents"),
    path("schools/<int:school_id>/login-cards/", views.login_cards, name="login_cards"),
    path("schools/<int:school_id>/students/remove/", views.student_remove, name="student_remove"),
    path("schools/<int:school_id>/teachers/invite/", views.teacher_invite, name="teacher_invite"),
    path("schools/<int:school_id>/teachers/<int:user_id>/remove/", views.teacher_remove, name="teacher_remove"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("classes/", views.class_list, name="class_list"),
    path("classes/<int:class_id>/", views.gradebook, name="gradebook"),
    path("classes/<int:class_id>/students/", views.class_students, name="class_students"),
    path("classes/<int:class_id>/assignments/", views.assignment_create, name="assignment_create"),
    path("assignments/<int:assignment_id>/report/", views.assignment_report, name="assignment_report"),
    path("assignments/<int:assignment_id>/report.<str:fmt>", views.assignment_download, name="assignment_download"),
    path("assignments/<int:assignment_id>/report/prepare/", views.assignment_report_prepare, name="assignment_prepare"),
    path("exports/", views.export_history, name="export_history"),
    path("join/", views.class_join, name="class_join"),
    path("join/answer/<str:token>/", views.class_join_answer, name="class_join_answer"),
    path("classes/<int:class_id>/code/", views.class_join_code_renew, name="class_join_code_renew"),
    path("classes/<int:class_id>/end/", retention_views.class_end, name="class_end"),
    path(
        "schools/<int:school_id>/grade-retention/",
        retention_views.school_grade_retention,
        name="school_grade_retention",
    ),
]
