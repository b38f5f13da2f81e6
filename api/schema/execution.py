"""A shorter path through graphql-core for plain fields: attributes holding a scalar or enum value, an
object made of plain fields, or a list of either (`shown(...)` fields and strawberry's other
resolver-less fields).

graphql-core runs every field the same way: a path entry, a resolve-info object, the resolver, then
`complete_value` (non-null, list, object or leaf) with awaitable checks in between, about 2 µs a
field. A whereToHandle answer has over a hundred fields, nearly all plain: a hall option's hall, its
region, its agreements and their partners are attributes set when the snapshot's view was built. For
such a field `execute_field` here reads the values and serialises them directly, the whole subtree at
once; the sub-selections come from graphql-core's own (memoised) `collect_subfields`, so fragments,
aliases, `@skip`/`@include` and field order are its own.

Anything out of the ordinary anywhere in that subtree sends the field back the standard way, so
results and errors are graphql-core's own: a None in a non-null place, an exception as a value, a
value its type cannot serialise, an object type with `is_type_of`, `@defer`, middleware, arguments,
or a field that is not plain. The reads are pure attribute reads, so doing them again costs nothing
but time.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, is_leaf_type
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.schema.complexity import WorkBudget

DEFINITION = "strawberry-definition"  # where strawberry keeps its field on graphql-core's

# What a plain field's value is made of (`Shape`): LEAF (a scalar or enum), OBJECT (an object type
# whose selected fields are plain again) or LIST (of one of those).
LEAF, OBJECT, LIST = "leaf", "object", "list"
Shape = tuple[str, Any, bool]  # (kind, the leaf or object type or the item's shape, non-null)
Plain = tuple[Any, str, Shape]  # (how strawberry reads it, the attribute, its shape)
Leaf = tuple[Any, str, Any, bool]  # (how strawberry reads it, the attribute, the leaf type, non-null)


class _Bail(Exception):
    """Something the short path does not decide: the field goes the standard way."""


def _shape(graphql_type: Any) -> Shape | None:
    non_null = isinstance(graphql_type, GraphQLNonNull)
    inner = graphql_type.of_type if non_null else graphql_type
    if is_leaf_type(inner):
        return (LEAF, inner, non_null)
    if isinstance(inner, GraphQLObjectType):
        return (OBJECT, inner, non_null)
    if isinstance(inner, GraphQLList):
        item = _shape(inner.of_type)
        if item is not None and item[0] != LIST:
            return (LIST, item, non_null)
    return None


def plain_fields(schema: GraphQLSchema) -> dict[str, dict[str, Plain]]:
    """Per object type name, its fields that are plain attributes (strawberry's default resolver, no
    arguments) of a leaf, object or list type."""
    table: dict[str, dict[str, Plain]] = {}
    for name, graphql_type in schema.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType) or name.startswith("__"):
            continue
        fields: dict[str, Plain] = {}
        for field_name, field in graphql_type.fields.items():
            resolve = field.resolve
            definition = (field.extensions or {}).get(DEFINITION)
            if (
                resolve is None
                or not getattr(resolve, "_is_default", False)
                or field.args
                or definition is None
            ):
                continue
            shape = _shape(field.type)
            if shape is not None:
                # what strawberry's resolver for such a field does: default_resolver(source, name)
                fields[field_name] = (definition.default_resolver, definition.python_name, shape)
        if fields:
            table[name] = fields
    return table


def leaf_fields(schema: GraphQLSchema) -> dict[str, dict[str, Leaf]]:
    """The plain fields of a scalar or enum type, per object type name."""
    table: dict[str, dict[str, Leaf]] = {}
    for name, fields in plain_fields(schema).items():
        leaves = {
            field: (read, attribute, shape[1], shape[2])
            for field, (read, attribute, shape) in fields.items()
            if shape[0] == LEAF
        }
        if leaves:
            table[name] = leaves
    return table


def execution_context_for(schema: GraphQLSchema) -> type[StrawberryGraphQLCoreExecutionContext]:
    """strawberry's execution context, with the short path for this schema's plain fields."""
    table = plain_fields(schema)

    class ExecutionContext(WorkBudget, StrawberryGraphQLCoreExecutionContext):
        def execute_field(
            self,
            parent_type: GraphQLObjectType,
            source: Any,
            field_details_list: Any,
            path: Any,
            position_context: Any,
        ) -> Any:
            fields = table.get(parent_type.name)
            middleware = self.middleware_manager
            if fields is not None and (middleware is None or not middleware.middlewares):
                node = field_details_list[0].node
                plain = fields.get(node.name.value)
                if plain is not None and not node.arguments:
                    self.spend(1)
                    read, attribute, shape = plain
                    try:
                        return self._complete_plain(shape, read(source, attribute), field_details_list)
                    except Exception:  # noqa: BLE001 - _Bail, or a read or serialisation that raised:
                        pass  # the standard path decides, and reports any error at its path
                    self.fields_left += 1  # the standard path counts it again
            return super().execute_field(parent_type, source, field_details_list, path, position_context)

        def _complete_plain(self, shape: Shape, value: Any, field_details_list: Any) -> Any:
            kind, of, non_null = shape
            if value is None:
                if non_null:
                    raise _Bail
                return None
            if isinstance(value, Exception):
                raise _Bail
            if kind == LEAF:
                coerced = of.coerce_output_value(value)
                if coerced is None or coerced is Undefined:
                    raise _Bail
                return coerced
            if kind == OBJECT:
                return self._complete_plain_object(of, value, field_details_list)
            if not isinstance(value, (list, tuple)):
                raise _Bail  # graphql-core takes other iterables too; let it
            return [self._complete_plain(of, item, field_details_list) for item in value]

        def _complete_plain_object(
            self, object_type: GraphQLObjectType, value: Any, field_details_list: Any
        ) -> Any:
            sub_fields = table.get(object_type.name)
            if sub_fields is None or object_type.is_type_of is not None:
                raise _Bail
            grouped, deferred, _forbidden = self.collect_subfields(object_type, field_details_list)
            if deferred:
                raise _Bail
            self.spend(len(grouped))
            result: dict[str, Any] = {}
            for response_name, details in grouped.items():
                node = details[0].node
                name = node.name.value
                if name == "__typename":
                    result[response_name] = object_type.name
                    continue
                plain = sub_fields.get(name)
                if plain is None or node.arguments:
                    raise _Bail
                read, attribute, shape = plain
                result[response_name] = self._complete_plain(shape, read(value, attribute), details)
            return result

    return ExecutionContext
