from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views

admin.site.site_header = "Mindomo staff"
admin.site.site_title = "Mindomo staff"

urlpatterns = [
    path("", account_views.home, name="home"),
    path("privacy/", account_views.privacy_policy, name="privacy_policy"),
    path("account/", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("consent/", include("consent.urls")),
    path("billing/", include("billing.urls")),
    path("grading/", include("grading.urls")),
    path("privacy/", include("privacy.urls")),
    path("cookies/", include("analytics.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]
