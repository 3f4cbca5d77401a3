from django.urls import path

from . import views

app_name = "privacy"

urlpatterns = [
    path("accept/", views.policy_accept, name="policy_accept"),
    path("retention/", views.retention_policy, name="retention"),
    path("ages/", views.age_table, name="ages"),
    path("policy-consent/<str:token>/", views.policy_reconsent, name="policy_reconsent"),
    path("requests/verify/<str:token>/", views.case_verify, name="case_verify"),
]
