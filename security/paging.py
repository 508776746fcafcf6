"""A paginator for the admin lists of tables that grow with the shop (security events first).

Django's admin counts the rows of every list it shows (`SELECT COUNT(*)`): on a year of security
events (a million rows) that count alone costs more than the page, and grows with the table.
`LargeTablePaginator` counts exactly up to `exact_up_to` rows (a count over a LIMIT: it stops
there), so every list a merchant narrows down shows its true size; past that it shows
PostgreSQL's estimate of the query's rows, close enough for "about how many pages". On other
databases (SQLite in development) it counts exactly, as Django does.
"""

import json

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property


class LargeTablePaginator(Paginator):
    exact_up_to = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):  # a list: Django's own count
            return super().count
        if connections[queryset.db].vendor != "postgresql":
            return queryset.count()
        bounded = queryset[: self.exact_up_to + 1].count()
        if bounded <= self.exact_up_to:
            return bounded
        return max(self._estimate(queryset), bounded)

    @staticmethod
    def _estimate(queryset) -> int:
        """The planner's row estimate for the query (no rows are read)."""
        plan = json.loads(queryset.order_by().explain(format="json"))
        if isinstance(plan, list):  # EXPLAIN's own shape; Django hands over its one element
            plan = plan[0]
        return int(plan["Plan"]["Plan Rows"])
