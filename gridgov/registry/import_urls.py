"""Excel in and out of the registry: the import pages, the templates and the exports.

Included by `registry/urls.py` inside its `registry` namespace (so no app_name here).
"""

from django.urls import path

from gridgov.registry import import_views

urlpatterns = [
    path("import/", import_views.import_start, name="import_start"),
    path("import/<int:pk>/", import_views.import_job, name="import_job"),
    path("import/<int:pk>/status/", import_views.import_job_status, name="import_job_status"),
    path("import/<int:pk>/report.xlsx", import_views.import_report_xlsx, name="import_report_xlsx"),
    path("templates/<str:kind>.xlsx", import_views.template_download, name="template_download"),
    path("export/<str:kind>.xlsx", import_views.export, name="export"),
]
