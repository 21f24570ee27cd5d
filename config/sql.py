"""Reads, inserts and updates for the hot paths' statements, without the ORM's query building.

Profiling (bench/profile.py) showed the ORM spending several times more CPU compiling each
statement and building its objects than sending it through the cursor (README, Performance).
These helpers send plain, portable SQL (PostgreSQL and SQLite) whose column lists come from the
models' metadata, so a new field needs no change here, and return ordinary model instances,
with the converters the ORM applies.

They apply django-scopes as the models' ScopedManager does: on a scoped model, a read or an
UPDATE outside an active scope covering its dimensions raises `ScopeError` (the manager's own
message), and inside one the scope's tenant columns join the WHERE, so a caller's forgotten
condition cannot leak another tenant's rows. An INSERT of scoped rows needs that scope too, and
each row must name a tenant it covers. Parameters go to the database as they are, but for
datetimes, adapted as a DateTimeField's (SQLite stores naive UTC text). This is the one module
that may open a raw cursor (ruff TID251 bans it elsewhere).
"""

from __future__ import annotations

import datetime as dt
import functools
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, TypeVar, Unpack, cast

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django_scopes import ScopedManager, ScopeError, get_scope

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class _Shape:
    """A SELECT over one model (alias t0) and some of its foreign keys (t1, t2 …): the SQL up to
    WHERE, the model of each alias with the field that leads to it and its width in the row,
    and the converters of the columns that have any (as the ORM's compiler finds them)."""

    head: str
    parts: list[tuple[type[models.Model], Any, int]]
    converters: list[tuple[int, Any, list]]


def _quoter(connection: BaseDatabaseWrapper) -> Callable[[str | None], str]:
    """The connection's quote_name, for table and column names. A concrete field always has a
    column; django-stubs type `Field.column` as optional, hence the wider parameter."""
    return cast(Callable[[str | None], str], connection.ops.quote_name)


# Per connection (each thread has its own), forgotten with it.
_shapes: weakref.WeakKeyDictionary[BaseDatabaseWrapper, dict] = weakref.WeakKeyDictionary()


def _shape(
    model: type[models.Model], related: tuple[str, ...], connection: BaseDatabaseWrapper
) -> _Shape:
    known = _shapes.setdefault(connection, {})
    if (model, related) not in known:
        known[model, related] = _build_shape(model, related, connection)
    return known[model, related]


def _build_shape(
    model: type[models.Model], related: tuple[str, ...], connection: BaseDatabaseWrapper
) -> _Shape:
    qn = _quoter(connection)
    joined: list[tuple[type[models.Model], Any]] = [(model, None)]
    for name in related:
        field = cast("models.ForeignKey[Any, Any]", model._meta.get_field(name))  # `related`: FKs
        joined.append((field.related_model, field))
    columns: list[str] = []
    parts, converters = [], []
    for i, (part_model, field) in enumerate(joined):
        fields = part_model._meta.concrete_fields
        for f in fields:
            col = f.get_col(f"t{i}")
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if found:
                converters.append((len(columns), col, found))
            columns.append(f"t{i}.{qn(f.column)}")
        parts.append((part_model, field, len(fields)))
    head = f"SELECT {', '.join(columns)} FROM {_joins(model, related, connection)}"  # noqa: S608 - names
    return _Shape(head, parts, converters)


def _joins(
    model: type[models.Model], related: tuple[str, ...], connection: BaseDatabaseWrapper
) -> str:
    """The FROM clause: the model's table as t0, and the table of each foreign key in `related`
    as t1, t2 … (a LEFT JOIN where the key may be NULL)."""
    qn = _quoter(connection)
    parts = [f"{qn(model._meta.db_table)} t0"]
    for i, name in enumerate(related, start=1):
        field = cast("models.ForeignKey[Any, Any]", model._meta.get_field(name))  # `related`: FKs
        parts.append(
            f"{'LEFT JOIN' if field.null else 'JOIN'} {qn(field.related_model._meta.db_table)}"
            f" t{i} ON t{i}.{qn(field.target_field.column)} = t0.{qn(field.column)}"
        )
    return " ".join(parts)


@functools.cache
def _scope_columns(model: type[models.Model]) -> dict[str, Any] | None:
    """A scoped model's dimensions and the field of its own table each one filters (None when
    the manager reaches it through a relation), read from what its ScopedManager filters; None
    for a model without scopes."""
    if not hasattr(model._default_manager, "with_scopes_disabled"):  # not a ScopedManager
        return None
    # django-scopes builds its manager class in a function: the stub's class stands for it.
    manager = cast("ScopedManager[models.Model]", model._default_manager)
    # A ScopedQuerySet knows the dimensions it still lacks: with no scope, all of them.
    unscoped: Any = manager.with_scope().get_queryset()
    dimensions: list[str] = unscoped.missing_scopes
    marks = {dimension: -1 - i for i, dimension in enumerate(sorted(dimensions))}
    columns: dict[str, Any] = dict.fromkeys(dimensions)
    query: Any = manager.with_scope(**marks).get_queryset().query
    lookups: list[Any] = query.where.children
    for lookup in lookups:  # one exact lookup per dimension, on the marks just given
        dimension = next(d for d, mark in marks.items() if lookup.rhs == mark)
        if lookup.lhs.alias == model._meta.db_table:
            columns[dimension] = lookup.lhs.target
        else:  # through a relation (`parcel__station`): one join from the model's own table
            join = query.alias_map[lookup.lhs.alias]
            if join.parent_alias == model._meta.db_table and len(join.join_cols) == 1:
                [(own, theirs)] = join.join_cols
                columns[dimension] = _Via(own, join.table_name, theirs, lookup.lhs.target.column)
    return columns


@dataclass(frozen=True)
class _Via:
    """A scope dimension reached through a foreign key: the row's `own` column names a row of
    `table` (by its column `theirs`) whose `column` holds the tenant."""

    own: str
    table: str
    theirs: str
    column: str


def _in_scope(model: type[models.Model]) -> dict[str, Any] | None:
    """The active scope's value for each of the model's dimensions (None: all of them), as the
    ScopedManager reads it; None when the model has no scopes or they are disabled. Raises
    ScopeError as the manager's queryset does when a dimension has no scope."""
    columns = _scope_columns(model)
    if columns is None:
        return None
    current = get_scope()
    if not current.get("_enabled", True):
        return None
    missing = set(columns) - set(current)
    if missing:
        raise ScopeError(
            f"A scope on dimension(s) {', '.join(missing)} needs to be active for this query."
        )
    return {dimension: current[dimension] for dimension in columns}


def _scope_where(
    model: type[models.Model], connection: BaseDatabaseWrapper, prefix: str
) -> tuple[list[str], list[Any]]:
    """The conditions (and their parameters) that keep a statement on `model` in the active
    scope, as the ScopedManager's filter would."""
    scoped = _in_scope(model)
    if not scoped:
        return [], []
    conditions, params = [], []
    for dimension, value in scoped.items():
        if value is None:  # the scope covers every tenant of this dimension
            continue
        field = _scope_columns(model)[dimension]  # type: ignore[index]
        if field is None:
            raise TypeError(f"{model._meta.label}: its {dimension} scope needs the ORM (a join)")
        qn = connection.ops.quote_name
        values = list(value) if isinstance(value, list | tuple) else [value]
        # An empty list matches nothing, as the ORM's `__in=[]` does.
        test = f"IN ({placeholders(len(values))})" if values else "IN (NULL)"
        if isinstance(field, _Via):  # the related row holds the tenant
            conditions.append(
                f"{prefix}{qn(field.own)} IN (SELECT {qn(field.theirs)} FROM {qn(field.table)}"  # noqa: S608 - names
                f" WHERE {qn(field.column)} {test})"
            )
        else:
            conditions.append(f"{prefix}{qn(field.column)} {test}")
        params += values
    return conditions, params


def _check_rows_in_scope(objs: Sequence[models.Model]) -> None:
    """Rows about to be inserted name a tenant the active scope covers (raises ScopeError)."""
    model = type(objs[0])
    scoped = _in_scope(model)
    if not scoped:
        return
    columns = _scope_columns(model)
    for dimension, value in scoped.items():
        field = columns[dimension]  # type: ignore[index]
        if value is None or not isinstance(field, models.Field):
            continue  # every tenant, or one checked through the row's relation (not here)
        allowed = set(value) if isinstance(value, list | tuple) else {value}
        for obj in objs:
            if getattr(obj, field.attname) not in allowed:
                raise ScopeError(f"{model._meta.label}: a row outside the active {dimension} scope")


class Clauses(TypedDict, total=False):
    """What a read may add: `related`, foreign keys joined as t1, t2 … (and brought along, as
    select_related does); `order_by`, `limit`; `lock`, "update" or "no key update", locking t0's
    rows for the caller's transaction (ignored on SQLite, whose transactions hold the whole
    database); the database alias `using`."""

    related: Sequence[str]
    order_by: str
    limit: int | None
    lock: str
    using: str


def select(
    model: type[M], where: str, params: Sequence[Any], **clauses: Unpack[Clauses]
) -> list[M]:
    """Instances of `model` matching `where` (SQL over alias t0 for the model and t1, t2 … for
    the foreign keys named in `related`, which come with each instance as select_related would
    bring them), within the active scope of a scoped model (ScopeError outside one)."""
    using = clauses.get("using", "default")
    connection = connections[using]
    shape = _shape(model, tuple(clauses.get("related", ())), connection)
    rows = _fetch(model, shape.head, where, params, clauses, connection)
    found = []
    for row in rows:
        cells = list(row)
        for index, col, funcs in shape.converters:
            for convert in funcs:
                cells[index] = convert(cells[index], col, connection)
        main, start = None, 0
        for part_model, field, width in shape.parts:
            chunk = cells[start : start + width]
            start += width
            if field is None:
                # None: the row holds every concrete field, in order (the stubs want names).
                main = part_model.from_db(using, None, chunk)  # type: ignore[arg-type]
            else:  # a LEFT JOIN that matched nothing (a NULL key) leaves the relation None
                field.set_cached_value(
                    main,
                    None if chunk[0] is None else part_model.from_db(using, None, chunk),  # type: ignore[arg-type]
                )
        found.append(main)
    return cast("list[M]", found)  # each row's first part is `model` itself


def first(
    model: type[M], where: str, params: Sequence[Any], **clauses: Unpack[Clauses]
) -> M | None:
    """The first instance `select` finds, or None."""
    one: Clauses = {**clauses, "limit": 1}
    return next(iter(select(model, where, params, **one)), None)


def values(
    model: type[models.Model],
    columns: Sequence[str],
    where: str,
    params: Sequence[Any],
    **clauses: Unpack[Clauses],
) -> list[tuple]:
    """Rows of the plain `columns` (SQL over the aliases `select` uses: t0.shelf_slot, t1.name)
    of `model` matching `where`, as tuples of what the database driver returns, in the same
    scope as `select`: for a list that shows a few columns of many rows, without building an
    instance (and parsing every field) per row."""
    connection = connections[clauses.get("using", "default")]
    related = tuple(clauses.get("related", ()))
    # The columns are the caller's SQL, like `where`; the values are parameters.
    head = f"SELECT {', '.join(columns)} FROM {_joins(model, related, connection)}"  # noqa: S608
    return _fetch(model, head, where, params, clauses, connection)


_LOCKS = {"": "", "update": " FOR UPDATE OF t0", "no key update": " FOR NO KEY UPDATE OF t0"}


def _fetch(
    model: type[models.Model],
    head: str,
    where: str,
    params: Sequence[Any],
    clauses: Clauses,
    connection: BaseDatabaseWrapper,
) -> list[tuple]:
    """Run `head` WHERE `where` within the model's active scope, and fetch every row."""
    conditions, scope_params = _scope_where(model, connection, "t0.")
    sql = " AND ".join([f"{head} WHERE ({where})", *conditions])
    if clauses.get("order_by"):
        sql += f" ORDER BY {clauses['order_by']}"
    if clauses.get("limit") is not None:
        sql += f" LIMIT {int(clauses['limit'])}"  # type: ignore[arg-type]  # not None: just checked
    if connection.features.has_select_for_update:
        sql += _LOCKS[clauses.get("lock", "")]
    with connection.cursor() as cursor:
        cursor.execute(sql, _adapted([*params, *scope_params], connection))
        return cursor.fetchall()


def _adapted(params: Sequence[Any], connection: BaseDatabaseWrapper) -> list[Any]:
    """Each datetime as a DateTimeField stores it (on SQLite, naive UTC text, compared as text)."""
    adapt = connection.ops.adapt_datetimefield_value
    return [adapt(p) if isinstance(p, dt.datetime) else p for p in params]


def placeholders(count: int) -> str:
    """`%s, %s, …` for an IN list of `count` parameters."""
    return ", ".join(["%s"] * count)


def insert(objs: Sequence[models.Model], *, using: str = "default") -> None:
    """INSERT new instances of one model and set their primary keys, as bulk_create does (no
    save(), no signals): one statement, or as few as the database's parameter limit allows.
    For models whose key the database generates."""
    if not objs:
        return
    connection = connections[using]
    fields, into, row, returning = _insert_shape(type(objs[0]), connection)
    for obj in objs:  # as bulk_create: an unsaved related object is an error, not a NULL
        obj._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]  # Django's own, not in the stubs
    _check_rows_in_scope(objs)
    batch = max(connection.ops.bulk_batch_size(fields, objs), 1)
    for start in range(0, len(objs), batch):
        chunk = objs[start : start + batch]
        # Table and column names come from the model; the values are parameters.
        sql = f"{into} VALUES {', '.join([row] * len(chunk))} {returning}"
        params = [
            f.get_db_prep_save(f.pre_save(o, add=True), connection) for o in chunk for f in fields
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            ids = [r[0] for r in cursor.fetchall()]
        for obj, pk_value in zip(chunk, ids, strict=True):
            obj.pk = pk_value
            obj._state.adding = False
            obj._state.db = using


def _insert_shape(model: type[models.Model], connection: BaseDatabaseWrapper) -> tuple:
    """An INSERT's fields, and its statement's parts, built once per connection (as reads')."""
    known, pk, qn = _shapes.setdefault(connection, {}), model._meta.pk, _quoter(connection)
    if ("insert", model) not in known:
        if pk is None or not pk.db_returning:
            raise TypeError(f"{model._meta.label}: sql.insert needs a key the database generates")
        fields = [f for f in model._meta.concrete_fields if f is not pk and not f.generated]
        into = f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)})"
        row = f"({', '.join(['%s'] * len(fields))})"
        known["insert", model] = (fields, into, row, f"RETURNING {qn(pk.column)}")
    return known["insert", model]


def update(
    model: type[models.Model],
    values: dict[str, Any],
    where: str,
    params: Sequence[Any],
    *,
    using: str = "default",
) -> int:
    """UPDATE the rows of `model` matching `where` (plain column names, no alias) to the plain
    `values` (field names, as QuerySet.update takes them, without expressions) within the
    active scope of a scoped model (ScopeError outside one); returns how many rows it matched,
    all of which it updated."""
    connection = connections[using]
    qn = _quoter(connection)
    meta = model._meta
    sets, prepared = [], []
    for name, value in values.items():
        field = cast("models.Field[Any, Any]", meta.get_field(name))  # as QuerySet.update: columns
        if hasattr(value, "prepare_database_save"):  # a model instance for a foreign key
            value = value.prepare_database_save(field)
        sets.append(f"{qn(field.column)} = %s")
        prepared.append(field.get_db_prep_save(value, connection))
    conditions, scope_params = _scope_where(model, connection, "")
    # Table and column names come from the model; the values are parameters.
    statement = " AND ".join(
        [f"UPDATE {qn(meta.db_table)} SET {', '.join(sets)} WHERE ({where})", *conditions]  # noqa: S608
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*prepared, *_adapted([*params, *scope_params], connection)])
        return cursor.rowcount


def advisory_lock_try(space: int, key: int, *, using: str = "default") -> bool:
    """Take PostgreSQL's session-level advisory lock (space, key) for this connection; False if
    another session holds it. True where there are no advisory locks (SQLite)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [space, key])
        return bool(cursor.fetchone()[0])


def advisory_unlock(space: int, key: int, *, using: str = "default") -> None:
    """Give back the advisory lock `advisory_lock_try` took."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [space, key])
