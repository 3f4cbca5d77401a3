"""The project's URLs: each app's own ``urls`` module, included by name (the shell imports no app)."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

admin.site.site_header = "Mindomo staff"
admin.site.site_title = "Mindomo staff"

urlpatterns = [
    path("", TemplateView.as_view(template_name="pages/home.html"), name="home"),
    path("privacy/", include("privacy.policy_urls")),
    path("account/", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("_allauth/", include("api.auth_spec")),  # allauth's headless OpenAPI document
    path("_allauth/", include("allauth.headless.urls")),
    path("api/", include("api.urls")),
    path("consent/", include("consent.urls")),
    path("billing/", include("billing.urls")),
    path("grading/", include("grading.urls")),
    path("schools/", include("schools.urls")),
    path("privacy/", include("privacy.urls")),
    path("cookies/", include("analytics.urls")),
    path("files/", include("mindomo.downloads.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("accounts.language_urls")),
]
