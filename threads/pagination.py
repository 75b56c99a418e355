from django.db.models.sql.where import WhereNode
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.utils.urls import remove_query_param, replace_query_param

from .selectors import MAX_ID, parse_id


class StrictLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset pagination (default 20, at most 100 a page), except:

    - a malformed `limit` or `offset` is a 400 instead of being silently
      replaced by the default, and an offset too large for SQL is refused;
    - past the first page, the page is fetched by id ("deferred join"): the
      offset skips over index entries of ids alone, and only the page's rows
      are read in full and get their per-row annotations computed;
    - a view can supply the total (`get_paginated_count`) when it keeps an
      exact counter, instead of a COUNT over every row.
    """

    default_limit = 20
    max_limit = 100
    # Whether the first page may skip the deferred join: only where the
    # queryset's order is an index's order (a thread's messages, a user's
    # threads by their membership), so that the database reads just the page.
    direct_first_page = False

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

    def get_paginated_response_schema(self, schema):
        # DRF writes OpenAPI 3.0's `nullable`; the schema is 3.1 (JSON Schema).
        link = {"type": ["string", "null"], "format": "uri"}
        return {
            "type": "object",
            "required": ["count", "next", "previous", "results"],
            "properties": {
                "count": {"type": "integer", "minimum": 0},
                "next": {**link, "description": "The next page, or null."},
                "previous": {**link, "description": "The previous page, or null."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        bounds = {"limit": {"minimum": 1, "maximum": MAX_ID}, "offset": {"minimum": 0, "maximum": MAX_ID}}
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        counter = getattr(view, "get_paginated_count", None)
        self.count = counter() if counter is not None else self.get_count(queryset)
        # No shortcut on `offset >= count`: the page query is the truth even if
        # a counter were ever short.
        if self.offset == 0 and self.direct_first_page:
            return list(queryset[: self.limit])  # nothing to skip: one query
        page_ids = queryset.values("pk")[self.offset : self.offset + self.limit]
        return list(_without_filters(queryset).filter(pk__in=page_ids))


class ThreadPagination(StrictLimitOffsetPagination):
    """A user's threads: their memberships' index (user, -thread_updated,
    -thread) is the list's order, so the first page is read straight from it."""

    direct_first_page = True


class MessagePagination(StrictLimitOffsetPagination):
    """A thread's messages: limit/offset as everywhere, or an id cursor.

    - `?after=<message id>`: the messages newer than that one, oldest first:
      how a client that was offline fills the gap (no message missed, none
      twice, because a thread's ids grow in the order its messages commit:
      sends to one thread hold its row lock).
    - `?before=<message id>`: the messages older than that one, newest first:
      scrolling back through history.
    - Both: the messages between the two, oldest first. `offset` skips that
      many messages of the window.

    With a cursor, `next` continues from the last message of the page (null
    when nothing follows it), `previous` is null, and `count` is the
    thread's total. Cursors walk the index (thread, id), so a page deep in a
    long history costs what the first page costs, unlike a large `offset`.
    """

    direct_first_page = True

    def paginate_queryset(self, queryset, request, view=None):
        after = self._parse(request, "after", minimum=0)
        before = self._parse(request, "before", minimum=1)
        self.cursor = None
        if after is None and before is None:
            return super().paginate_queryset(queryset, request, view)
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        self.count = view.get_paginated_count()
        if after is not None:
            self.cursor, window = "after", queryset.filter(pk__gt=after).order_by("pk")
            if before is not None:
                window = window.filter(pk__lt=before)
        else:
            self.cursor, window = "before", queryset.filter(pk__lt=before).order_by("-pk")
        # One row more than the page tells whether anything follows, so that
        # `next` is null exactly when the client has everything.
        rows = list(window[self.offset : self.offset + self.limit + 1])
        self.has_more = len(rows) > self.limit
        self.page = rows[: self.limit]
        return self.page

    def get_next_link(self):
        if self.cursor is None:
            return super().get_next_link()
        if not self.has_more:
            return None
        url = remove_query_param(self.request.build_absolute_uri(), self.offset_query_param)
        return replace_query_param(url, self.cursor, self.page[-1].pk)

    def get_previous_link(self):
        return super().get_previous_link() if self.cursor is None else None

    def get_schema_operation_parameters(self, view):
        cursor = {"required": False, "in": "query", "schema": {"type": "integer", "maximum": MAX_ID}}
        return [
            *super().get_schema_operation_parameters(view),
            {
                **cursor, "name": "after", "schema": {**cursor["schema"], "minimum": 0},
                "description": "Only messages with a larger id, oldest first (catch-up).",
            },
            {
                **cursor, "name": "before", "schema": {**cursor["schema"], "minimum": 1},
                "description": "Only messages with a smaller id, newest first (history); with after, a window.",
            },
        ]


def _without_filters(queryset):
    """`queryset` (its joins, columns, annotations and order) minus its WHERE.

    For the outer query of a deferred join: its rows are exactly the page's
    ids, which the scoped subquery chose, so the filters are already applied;
    left in, the database may walk every row they match (e.g. all of a user's
    threads, through two OR-ed indexes) just to keep the page's.
    """
    outer = queryset.all()
    outer.query.where = WhereNode()
    return outer
