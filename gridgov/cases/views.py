"""Case pages: being written (see the pages brief)."""

from django.http import HttpResponse


def case_list(request):
    return HttpResponse("")


work_queue = case_report = resolution_stats = saved_view_save = case_list


def case_detail(request, pk):
    return HttpResponse("")


def saved_view_delete(request, pk):
    return HttpResponse("")


def case_action(request, pk, action):
    return HttpResponse("")


def attachment(request, pk, attachment):
    return HttpResponse("")


attachment_thumbnail = attachment
