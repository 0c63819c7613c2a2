"""Pages of a list that may hold millions of rows, for the admin and the management API.

Django's paginator counts every matching row before it shows a page, and on a table of a
million licenses that count costs many times the page itself. This paginator counts at most
COUNT_LIMIT rows: below it, the count is exact, as always; past it, `more` is true, the
count stops at the limit, and pages are still served in order to the end, each telling
whether another follows by reading one row more.
"""

from __future__ import annotations

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.utils.functional import cached_property

COUNT_LIMIT = 1_000
# Past the count, pages are read with OFFSET: this far and no further (a page number
# beyond is refused like one past the end), so no request can make the database skip
# millions of rows, or pass an offset it cannot hold.
MAX_OFFSET = 100_000


class LimitedCountPaginator(Paginator):
    limit_shown = f"{COUNT_LIMIT:,}"
    page_read: Page | None = None  # the last page read past the count, if any
    _past_limit = False

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        # A queryset counts ids in any order, not the rows as shown; a list, its length.
        ids = rows.order_by().values("pk")[: COUNT_LIMIT + 1] if hasattr(rows, "values") else rows
        counted = ids.count() if hasattr(ids, "values") else len(ids)
        self._past_limit = counted > COUNT_LIMIT
        return min(counted, COUNT_LIMIT)

    @property
    def more(self) -> bool:
        """Whether more rows match than the count says (it stopped at COUNT_LIMIT)."""
        return self.count == COUNT_LIMIT and self._past_limit

    def validate_number(self, number) -> int:
        if not self.more:
            return super().validate_number(number)
        # No last page is known: any whole number from 1.
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger("That page number is not an integer") from None
        if number < 1:
            raise EmptyPage("That page number is less than 1")
        if (number - 1) * self.per_page > MAX_OFFSET:
            raise EmptyPage("That page is further than pages are served; filter to narrow the list")
        return number

    def page(self, number) -> Page:
        number = self.validate_number(number)
        if not self.more:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom : bottom + self.per_page + 1])  # one more: does a page follow?
        if not rows:
            raise EmptyPage("That page contains no results")
        self.page_read = OpenEndedPage(rows[: self.per_page], number, self, followed=len(rows) > self.per_page)
        return self.page_read


class OpenEndedPage(Page):
    """A page of a list counted only up to the limit: whether another page follows is
    known from the rows read, not from the count."""

    def __init__(self, object_list, number, paginator, *, followed: bool) -> None:
        super().__init__(object_list, number, paginator)
        self.followed = followed

    def has_next(self) -> bool:
        return self.followed

    def end_index(self) -> int:
        return (self.number - 1) * self.paginator.per_page + len(self.object_list)
