"""Public resident pages: being written."""

from django.http import HttpResponse


def report(request):
    return HttpResponse("")


def track(request):
    return HttpResponse("")


def case(request, code):
    return HttpResponse("")


def rate(request, code):
    return HttpResponse("")


def attachment(request, code, attachment):
    return HttpResponse("")
