"""Ledger and notice downloads: being written."""

from django.http import HttpResponse


def ledger_export(request):
    return HttpResponse("")


def rectification_notice(request, pk):
    return HttpResponse("")
