from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("", views.plan_list, name="plan_list"),
    path("plans/<int:plan_id>/buy/", views.checkout, name="checkout"),
    path("orders/<uuid:reference>/pay/", views.order_pay, name="order_pay"),
    path("orders/<uuid:reference>/2checkout/", views.order_twocheckout, name="order_twocheckout"),
    path("orders/<uuid:reference>/", views.order_status, name="order_status"),
    path("invoices/", views.invoice_list, name="invoice_list"),
    path("invoices/zip/", views.invoice_zip, name="invoice_zip"),
    path("invoices/<str:number>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<str:number>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("staff/invoices/period/", views.invoice_period, name="invoice_period"),
    path("staff/invoices/<int:pk>/pdf/", views.invoice_pdf_staff, name="invoice_pdf_staff"),
    path("2checkout/ipn/", views.twocheckout_ipn, name="twocheckout_ipn"),
    path("braintree/webhook/", views.braintree_webhook, name="braintree_webhook"),
]
