"""Querysets compiled once per process, for the statements every request runs.

Building and compiling a queryset costs far more than a simple indexed
SELECT takes to run: looking a user up by primary key spends about 140 of
its 160 µs in the ORM on SQLite, and the recipients' unread total of a send
300 of 320 µs (docs/benchmarks.md). `PreparedQuery` builds the queryset
once per database and shape, with stand-in values for its parameters, keeps
the SQL the ORM compiled and the converters it would apply, and then runs
that SQL with the real values: the same statement, the same rows, the same
Python values as the queryset; only the compiling is done once.

Parameters are integers (ids): each stand-in is an integer no row holds,
found again by value in the compiled parameters. A list parameter (for
`__in`) is compiled once per length.

The database has the same problem one level down: PostgreSQL plans every
statement it is sent, and for the send's INSERT ... SELECT planning took
five times as long as running it. `prepared_cursor` runs statements as
server-side prepared statements, planned once per connection; the
statements of this module, and the hot raw SQL of the services, go through it.
"""

import re
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Model, QuerySet

# Negative, so no id, and no constant of our queries, equals one; within a
# 32-bit integer column's range, where Django compiles a lookup normally.
_STAND_IN_BASE = -1_000_000_007


def prepared_cursor(connection: BaseDatabaseWrapper) -> CursorWrapper:
    """`connection.cursor()`, but on PostgreSQL with server-side binding
    (`%s` parameters sent as `$n`), so that psycopg prepares each statement
    it runs on the server after its fifth run on a connection
    (`prepare_threshold`, settings.py), to be planned once for the
    connection's life (the planner keeps a generic plan when it costs no
    more than the custom ones). Logged and counted as any query. Django's
    own cursors bind on the client and are never prepared. SQLite's module
    keeps its statements compiled already (a cache per connection).

    For fixed statements whose parameters are values, not SQL: their types
    come from the Python values (psycopg's dumpers), so a parameter whose
    type the statement does not fix (a bare `%s` in a SELECT list) needs a
    CAST. A PgBouncer in front must be 1.21 or newer in transaction mode
    (it then keeps prepared statements per server connection)."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    # Imported here: psycopg is there only for PostgreSQL.
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        cursor = ServerBindingCursor(connection.connection)
    # What connection.cursor() does, with this cursor class: the
    # query-logging wrapper when queries are logged (DEBUG, tests).
    return _LoggedWithValues(cursor, connection) if connection.queries_logged else connection.make_cursor(cursor)


class _LoggedWithValues(CursorDebugWrapper):
    """Logs each statement with its values written in, as Django logs the
    statements of its own cursors (for a server-bound one it would log the
    `$1` placeholders, or nothing once the statement is prepared)."""

    def execute(self, sql, params=None):
        with self.debug_sql(self.db.ops.compose_sql(sql, params), params):
            return CursorWrapper.execute(self, sql, params)


def _constants_inlined(sql: str, sources: list[tuple]) -> tuple[str, list[tuple]]:
    """The statement with its constant integers and booleans (the query's
    own `unread_count > 0`, not the caller's values) written into the SQL
    instead of passed as parameters. A prepared statement's generic plan
    knows only what the SQL says: with `unread_count > $2` PostgreSQL may
    not use the partial index `WHERE unread_count > 0`, which it can with
    `unread_count > 0` (SQLite plans a statement before its values are
    bound, likewise)."""
    sources = iter(sources)
    kept = []

    def inline(match: re.Match) -> str:
        if match.group() == "%%":
            return "%%"
        source = next(sources)
        name, value = source
        if not name and isinstance(value, int):  # bool too; on PostgreSQL Django gives psycopg's Int4 and the like
            return _literal(value)
        kept.append(source)
        return "%s"

    return _PLACEHOLDER.sub(inline, sql), kept


def _literal(value: int | bool) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"  # both databases' keywords (SQLite since 3.23)
    return str(int(value)) if value >= 0 else f"({int(value)})"  # "x -%s" must not become the comment "x --1"


# A parameter (%s), or an escaped percent sign (%%), which stays as it is.
_PLACEHOLDER = re.compile(r"(%%|%s)")


class PreparedQuery:
    """`build(**values)` -> a queryset, compiled once per database and
    shape; `rows`, `dicts` and `instances` (`**values`) run it, `where`
    gives its WHERE clause."""

    def __init__(self, model: type[Model], build: Callable[..., QuerySet], *, for_write: bool = False):
        """`for_write`: run on the database the router gives for writes (a
        select_for_update(), as the queryset itself would)."""
        self.model = model
        self.build = build
        self.for_write = for_write
        # (alias, vendor, shape, where only) -> (sql, parameter sources, values() names, converters, instance layout)
        self._compiled: dict[tuple, tuple] = {}

    def _compile(self, alias: str, values: dict[str, Any], *, where_only: bool = False) -> tuple:
        stand_ins: dict[int, tuple[str, int | None]] = {}
        arguments: dict[str, Any] = {}
        for name, value in values.items():
            if isinstance(value, list | tuple):
                arguments[name] = []
                for index in range(len(value)):
                    stand_in = _STAND_IN_BASE - len(stand_ins)
                    stand_ins[stand_in] = (name, index)
                    arguments[name].append(stand_in)
            else:
                stand_in = _STAND_IN_BASE - len(stand_ins)
                stand_ins[stand_in] = (name, None)
                arguments[name] = stand_in
        query = self.build(**arguments).using(alias).query
        compiler = query.get_compiler(alias)
        if where_only:
            sql, params = compiler.compile(query.where)
        else:
            sql, params = compiler.as_sql()
        # The keys of a values() queryset's dicts, in the order of its columns (as ValuesIterable).
        names = [*query.extra_select, *query.values_select, *query.annotation_select]
        # Per parameter: (value name, list index or None), or ("", the constant).
        sources = [stand_ins.get(param, ("", param)) if isinstance(param, int) else ("", param) for param in params]
        found = [source for source in sources if source[0]]
        if len(found) != len(stand_ins) or set(found) != set(stand_ins.values()):
            raise ValueError(f"every value must be a parameter of the statement once: {sql} {params}")
        sql, sources = _constants_inlined(sql, sources)
        if where_only:
            return sql, sources, [], [], None
        columns = [column for column, _, _ in compiler.select]
        converters = [
            (position, functions, expression)
            for position, (functions, expression) in compiler.get_converters(columns).items()
        ]
        # For instances(), as ModelIterable reads a row (no select_related):
        # the model's own columns (a run of them) with their attnames, and
        # each annotation's position.
        layout = None
        if compiler.klass_info is not None and not compiler.klass_info.get("related_klass_infos"):
            fields = compiler.klass_info["select_fields"]
            start, end = fields[0], fields[-1] + 1
            attnames = [column.target.attname for column in columns[start:end]]
            layout = (start, end, attnames, list(compiler.annotation_col_map.items()))
        return sql, sources, names, converters, layout

    def _prepared(self, values: dict[str, Any], *, where_only: bool = False) -> tuple[str, tuple, list]:
        """(alias, compiled, parameters): the statement for these values' shape, compiled on first use."""
        alias = (router.db_for_write if self.for_write else router.db_for_read)(self.model)
        shape = tuple((name, len(value) if isinstance(value, list | tuple) else None) for name, value in values.items())
        key = (alias, connections[alias].vendor, shape, where_only)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(alias, values, where_only=where_only)
        params = []
        for name, index_or_constant in compiled[1]:
            if not name:
                params.append(index_or_constant)
            elif index_or_constant is None:
                params.append(values[name])
            else:
                params.append(values[name][index_or_constant])
        return alias, compiled, params

    def _run(self, values: dict[str, Any]) -> tuple[str, list[list], list, tuple | None]:
        alias, (sql, _, names, converters, layout), params = self._prepared(values)
        connection = connections[alias]
        with prepared_cursor(connection) as cursor:
            cursor.execute(sql, params)
            rows = [list(row) for row in cursor.fetchall()]
        for row in rows:
            for position, functions, expression in converters:
                value = row[position]
                for convert in functions:
                    value = convert(value, expression, connection)
                row[position] = value
        return alias, rows, names, layout

    def where(self, **values) -> tuple[str, list]:
        """The WHERE clause of the queryset built from `values` and its
        parameters, for a statement the ORM cannot write (UPDATE ... RETURNING)."""
        _, (sql, *_), params = self._prepared(values, where_only=True)
        return sql, params

    def rows(self, **values) -> list[tuple]:
        """The rows of the queryset built from `values`, as values_list() gives them."""
        _, rows, *_ = self._run(values)
        return [tuple(row) for row in rows]

    def dicts(self, **values) -> list[dict]:
        """The rows of the values() queryset built from `values`, as dicts."""
        _, rows, names, _ = self._run(values)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def instances(self, **values) -> Sequence[Model]:
        """The model instances of the queryset built from `values`, with its
        annotations, as iterating it gives them (a queryset without
        select_related: ValueError)."""
        alias, rows, _, layout = self._run(values)
        if layout is None:
            raise ValueError("instances() needs a queryset of model instances without select_related")
        start, end, attnames, annotations = layout
        instances = []
        for row in rows:
            instance = self.model.from_db(alias, attnames, row[start:end])
            for name, position in annotations:
                setattr(instance, name, row[position])
            instances.append(instance)
        return instances
