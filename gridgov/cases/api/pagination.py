"""Pagination of the case list: a page costs about the same at a thousand cases and at a million.

Page-number pagination counts every matching row for each page. Over a city's million cases a
superuser's unfiltered list spends most of its time in that count (`make bench`,
cases.case_list_all_api). Past COUNT_CAP matching cases the count stops: the body says
`count_capped: true` and `count` is the cap, and the pages go as far as the cap. Nobody pages
through ten thousand cases; they narrow the filters.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework.response import Response

from gridgov.core.api.pagination import PageNumberPagination

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """A paginator that counts at most COUNT_CAP + 1 rows (`SELECT count(*) FROM (SELECT … LIMIT cap + 1)`)."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        """The number of matching rows, or cap + 1 when there are more than the cap."""
        object_list = self.object_list
        if hasattr(object_list, "query"):
            # Unordered: any cap + 1 matching rows will do, so the database reads them off the cheapest index.
            return object_list.order_by()[: self.cap + 1].count()
        return min(len(object_list), self.cap + 1)

    @property
    def capped(self) -> bool:
        return self.count > self.cap


class CasePagination(PageNumberPagination):
    """Page-number pagination whose count stops at COUNT_CAP (`count_capped` says when it did)."""

    django_paginator_class = CappedCountPaginator

    def get_paginated_response(self, data) -> Response:
        paginator = self.page.paginator
        return Response(
            {
                "count": min(paginator.count, paginator.cap),
                "count_capped": paginator.capped,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count_capped"] = {
            "type": "boolean",
            "description": f"true when more than {COUNT_CAP:,} cases match: count is then {COUNT_CAP:,}.",
        }
        return response
