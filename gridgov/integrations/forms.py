"""The 12345 import form: refuses a file that is too large or not an .xlsx before anything is read."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridgov.core.errors import ApplicationError
from gridgov.integrations import hotline
from gridgov.registry.excel import XLSX_CONTENT_TYPE, check_upload


class HotlineImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("12345 work orders (.xlsx)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx," + XLSX_CONTENT_TYPE}),
    )
    dry_run = forms.BooleanField(label=gettext_lazy("Check only: import nothing"), required=False)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not (upload.name or "").lower().endswith(".xlsx"):
            raise forms.ValidationError(
                _("Choose an Excel workbook (.xlsx): save the file as .xlsx and upload it again.")
            )
        try:
            hotline.check_size(upload.size)
            check_upload(upload, size=upload.size)
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from None
        return upload
