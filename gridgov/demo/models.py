"""The demo's mark on a database it built, so it never touches one it did not."""

from django.db import models


class DemoMarker(models.Model):
    """One row, written last by `gridgov demo`; its presence says the data is disposable."""

    built_at = models.DateTimeField(auto_now_add=True)
    seed = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"demo built {self.built_at:%Y-%m-%d %H:%M}"
