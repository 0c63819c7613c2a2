"""A query compiled once per process and run again with new values.

Django compiles a queryset to SQL on every evaluation. For the client check that misses
worker memory, that is most of the work: its query joins eight tables, and compiling it
costs milliseconds, several times what PostgreSQL needs to run it. The SQL text does not
depend on the values looked up, so `CompiledQuery` compiles it
once with stand-in values and afterwards only swaps the values in. Rows become model
instances as the ORM makes them: converted by the compiler's own converters, built with
`Model.from_db`, related rows attached as select_related attaches them.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections, router
from django.db.models import Field, Model, QuerySet


@dataclass(frozen=True)
class _Plan:
    sql: str
    params: tuple[Any, ...]  # constants, and the names of stand-ins where values go
    compiler: Any
    converters: dict
    slices: tuple[tuple[str, type[Model], int, tuple[str, ...]], ...]  # path, model, start, attnames
    extra: tuple[str, ...]  # annotation names, after the model columns


class CompiledQuery:
    """`build(**values)` must return `model.objects...select_related(*relations)` with
    `extra` annotations, filtered by `values` (text, or ids: see `ids`). `prepare` maps
    a value's name to what the lookup does to it before it reaches the database
    (`iexact` escapes it for LIKE on some backends): (connection, value) -> value.
    `lock` names rows to lock FOR NO KEY UPDATE, in that order ("" for the model's own,
    else a relation), where the database locks rows (run it inside a transaction).
    `ids` names the values that are ids, with the field they are ids of: those are
    compiled with a stand-in id of that type, since the field would refuse free text."""

    def __init__(
        self,
        model: type[Model],
        relations: tuple[str, ...],
        extra: tuple[str, ...],
        build: Callable,
        prepare: dict[str, Callable] | None = None,
        lock: tuple[str, ...] = (),
        ids: dict[str, Field] | None = None,
    ):
        self.model, self.relations, self.extra, self.build = model, relations, extra, build
        self.prepare = dict(prepare or {})
        self.lock = lock
        self.samples = {}
        for name, field in (ids or {}).items():
            field = field.target_field if field.is_relation else field
            self.samples[name] = _id_sample(field, name)
            self.prepare[name] = lambda connection, value, field=field: field.get_db_prep_value(value, connection)
        self._plans: dict[str, _Plan] = {}

    def __call__(self, **values: Any) -> list[Model]:
        # A locking query goes where writes go, as Django sends select_for_update().
        using = (router.db_for_write if self.lock else router.db_for_read)(self.model)
        plan = self._plans.get(using) or self._plans.setdefault(using, self._compile(using, list(values)))
        for name, prepare in self.prepare.items():
            values[name] = prepare(connections[using], values[name])
        params = [values[p.name] if isinstance(p, _StandIn) else p for p in plan.params]
        with connections[using].cursor() as cursor:
            cursor.execute(plan.sql, params)
            rows = cursor.fetchall()
        if plan.converters:
            rows = list(plan.compiler.apply_converters(rows, plan.converters))
        return [self._instance(plan, using, row) for row in rows]

    def _compile(self, using: str, names: list[str]) -> _Plan:
        stand_ins = {name: _StandIn(name, self.samples.get(name)) for name in names}
        slices, columns, start = [], [], 0
        for path, model in self._models():
            attnames = tuple(field.attname for field in model._meta.concrete_fields)
            columns += [f"{path}__{a}" if path else a for a in attnames]
            slices.append((path, model, start, attnames))
            start += len(attnames)
        queryset: QuerySet = self.build(**{n: s.text for n, s in stand_ins.items()})
        compiler = queryset.values_list(*columns, *self.extra).query.get_compiler(using)
        sql, raw_params = compiler.as_sql()
        # The stand-ins reach the SQL through the same preparation as real values.
        prepared = {
            name: self.prepare.get(name, lambda _, v: v)(connections[using], s.text) for name, s in stand_ins.items()
        }
        by_text = {prepared[s.name]: s for s in stand_ins.values()}
        params = tuple(_swapped(p, by_text) for p in raw_params)
        missing = [s.name for s in stand_ins.values() if s not in params]
        if missing:
            raise ValueError(f"values not found in the compiled query: {missing}")
        converters = compiler.get_converters([col for col, _, _ in compiler.select])
        if self.lock and connections[using].features.has_select_for_update_of:
            sql = f"{sql} {self._for_update(compiler, using)}"
        return _Plan(sql, params, compiler, converters, tuple(slices), self.extra)

    def _for_update(self, compiler, using: str) -> str:
        """FOR NO KEY UPDATE OF the locked rows' tables, as the query names them: Django
        compiles a lock of values_list() rows without OF, which would lock every join."""
        models = dict(self._models())
        tables = [models[path]._meta.db_table for path in self.lock]
        aliases = [join.table_name for join in compiler.query.alias_map.values()]
        if any(aliases.count(table) != 1 for table in tables):
            raise ValueError(f"each locked table must be joined once: {tables}")
        quote = connections[using].ops.quote_name
        return connections[using].ops.for_update_sql(of=[quote(table) for table in tables], no_key=True)

    def _models(self) -> list[tuple[str, type[Model]]]:
        found = [("", self.model)]
        for relation in self.relations:
            model = self.model
            for part in relation.split("__"):
                model = model._meta.get_field(part).related_model
            found.append((relation, model))
        return found

    def _instance(self, plan: _Plan, using: str, row: tuple) -> Model:
        built: dict[str, Model | None] = {}
        for path, model, start, attnames in plan.slices:
            values = row[start : start + len(attnames)]
            built[path] = None if values[0] is None else model.from_db(using, attnames, values)
        for path, instance in built.items():
            if path:
                parent_path, _, name = path.rpartition("__")
                parent = built[parent_path]
                if parent is not None:  # below a relation that is empty on this row
                    parent._meta.get_field(name).set_cached_value(parent, instance)
        root = built[""]
        for name, value in zip(plan.extra, row[-len(plan.extra) :] if plan.extra else (), strict=True):
            setattr(root, name, value)
        return root


def _swapped(param: Any, stand_ins: dict) -> Any:
    """The stand-in a compiled parameter is, or the parameter itself (a constant)."""
    try:
        return stand_ins.get(param, param)
    except TypeError:  # unhashable: a constant
        return param


_SAMPLES = uuid.UUID("5ca1ab1e-0000-4000-8000-00000000c0de")


def _id_sample(field: Field, name: str) -> Any:
    """A stand-in id for `name`, of `field`'s type: one per name, and none a query
    carries as a constant."""
    kind = field.get_internal_type()
    if kind == "UUIDField":
        return uuid.uuid5(_SAMPLES, name)
    if kind in ("BigAutoField", "BigIntegerField"):
        return -(2**62) - zlib.crc32(name.encode())
    raise TypeError(f"CompiledQuery has no stand-in for an id of a {kind}: {name}.")


@dataclass(frozen=True)
class _StandIn:
    name: str
    sample: Any = None

    @property
    def text(self) -> Any:
        # Unlike any constant a query carries.
        return f"\x00stand-in:{self.name}\x00" if self.sample is None else self.sample
