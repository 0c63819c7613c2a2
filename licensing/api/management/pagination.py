from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from ...pages import COUNT_LIMIT, LimitedCountPaginator

COUNT_DESCRIPTION = (
    f"How many rows match, when at most {COUNT_LIMIT:,}; null when more do (counting them all would cost "
    "more than the page): follow `next` to the end, or filter to narrow the list."
)


class Pages(PageNumberPagination):
    """Pages of 50, or `page_size` rows, at most 100 (a larger size gives 100). A page
    size that is not a whole number from 1 up is refused (400), not silently replaced.
    Rows are counted up to a limit (licensing/pages.py), so that a list of a million
    licenses answers as fast as one of a thousand."""

    django_paginator_class = LimitedCountPaginator
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        sent = request.query_params.get(self.page_size_query_param, "")
        if sent == "":
            return self.page_size
        digits = sent.lstrip("0")  # significant digits; none for "0" or "000"
        if not (sent.isascii() and sent.isdigit()) or not digits:
            raise serializers.ValidationError({self.page_size_query_param: ["A whole number from 1 up."]})
        # Never int() of thousands of digits (Python refuses past 4,300): four say enough.
        return self.max_page_size if len(digits) > 3 else min(int(digits), self.max_page_size)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Rows per page: {self.page_size} unless given, at most {self.max_page_size}."
                )
        return parameters

    def get_page_number(self, request: Request, paginator) -> str:
        if request.query_params.get(self.page_query_param) in self.last_page_strings and paginator.more:
            return "0"  # no last page is known past the count: refused as not found
        return super().get_page_number(request, paginator)

    def get_paginated_response(self, data) -> Response:
        response = super().get_paginated_response(data)
        if self.page.paginator.more:
            response.data["count"] = None
        return response

    def get_paginated_response_schema(self, schema: dict) -> dict:
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["count"] = {"type": "integer", "nullable": True, "description": COUNT_DESCRIPTION}
        return paginated
