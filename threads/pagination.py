from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

from .selectors import parse_id


class StrictLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset pagination (default 20, at most 100 a page), except:

    - a malformed `limit` or `offset` is a 400 instead of being silently
      replaced by the default, and an offset too large for SQL is refused;
    - the page is fetched by id ("deferred join"): the offset skips over index
      entries of ids alone, and only the page's rows are read in full and get
      their per-row annotations computed;
    - a view can supply the total (`get_paginated_count`) when it keeps an
      exact counter, instead of a COUNT over every row.
    """

    default_limit = 20
    max_limit = 100

    def _parse(self, request, name: str, *, minimum: int) -> int | None:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        value = parse_id(raw, minimum=minimum)
        if value is None:
            raise ValidationError({name: [f"Must be a whole number of at least {minimum}."]})
        return value

    def get_limit(self, request):
        limit = self._parse(request, self.limit_query_param, minimum=1)
        return self.default_limit if limit is None else min(limit, self.max_limit)

    def get_offset(self, request):
        offset = self._parse(request, self.offset_query_param, minimum=0)
        return 0 if offset is None else offset

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        counter = getattr(view, "get_paginated_count", None)
        self.count = counter() if counter is not None else self.get_count(queryset)
        # No shortcut on `offset >= count`: the page query is the truth even if
        # a counter were ever short.
        page_ids = queryset.values("pk")[self.offset : self.offset + self.limit]
        return list(queryset.filter(pk__in=page_ids))
