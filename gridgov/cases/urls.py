from django.urls import path

from gridgov.cases import export_views, views

app_name = "cases"

urlpatterns = [
    path("", views.case_list, name="list"),
    path("queue/", views.work_queue, name="queue"),
    path("report/", views.case_report, name="report"),
    path("stats/", views.resolution_stats, name="stats"),
    path("views/save/", views.saved_view_save, name="saved_view_save"),
    path("views/<int:pk>/delete/", views.saved_view_delete, name="saved_view_delete"),
    path("export.xlsx", export_views.ledger_export, name="export"),
    path("<int:pk>/", views.case_detail, name="detail"),
    path("<int:pk>/act/<str:action>/", views.case_action, name="action"),
    path("<int:pk>/files/<int:attachment>/", views.attachment, name="attachment"),
    path("<int:pk>/files/<int:attachment>/thumbnail/", views.attachment_thumbnail, name="attachment_thumbnail"),
    path("<int:pk>/notice.docx", export_views.rectification_notice, name="notice"),
]
