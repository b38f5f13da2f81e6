"""A shorter path through graphql-core for the most common kind of field: a plain attribute holding a
scalar or enum value (`shown(...)` fields and strawberry's other resolver-less fields).

graphql-core runs every field the same way: a resolve-info object, the resolver, then
`complete_value` twice (non-null, then the leaf) with awaitable checks in between, about 2 µs a
field. A whereToHandle answer has over a hundred leaf fields. For a field whose resolver is
strawberry's default one (it reads the attribute and uses nothing else) and whose type is a scalar or
an enum, `execute_field` here reads the value and serialises it directly.

Anything out of the ordinary goes the standard way, so results and errors are graphql-core's own:
a None in a non-null field, an exception as a value, a value the type cannot serialise (the standard
path then runs the same pure read again and reports the error at the field's path), middleware, or a
field that is not a plain attribute.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLNonNull, GraphQLObjectType, GraphQLSchema, is_leaf_type
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

Leaf = tuple[Any, str, Any, bool]  # (how strawberry reads it, the attribute, the leaf type, non-null)
DEFINITION = "strawberry-definition"  # where strawberry keeps its field on graphql-core's


def leaf_fields(schema: GraphQLSchema) -> dict[str, dict[str, Leaf]]:
    """Per object type name, its fields that take the short path."""
    table: dict[str, dict[str, Leaf]] = {}
    for name, graphql_type in schema.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType) or name.startswith("__"):
            continue
        fields: dict[str, Leaf] = {}
        for field_name, field in graphql_type.fields.items():
            resolve = field.resolve
            definition = (field.extensions or {}).get(DEFINITION)
            if resolve is None or not getattr(resolve, "_is_default", False) or field.args or definition is None:
                continue
            field_type = field.type
            non_null = isinstance(field_type, GraphQLNonNull)
            inner = field_type.of_type if non_null else field_type
            if is_leaf_type(inner):
                # what strawberry's resolver for such a field does: default_resolver(source, name)
                fields[field_name] = (definition.default_resolver, definition.python_name, inner, non_null)
        if fields:
            table[name] = fields
    return table


def execution_context_for(schema: GraphQLSchema) -> type[StrawberryGraphQLCoreExecutionContext]:
    """strawberry's execution context, with the short path for this schema's plain leaf fields."""
    table = leaf_fields(schema)

    class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
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
                leaf = fields.get(node.name.value)
                if leaf is not None and not node.arguments:
                    read, attribute, leaf_type, non_null = leaf
                    value = read(source, attribute)
                    if value is None:
                        if not non_null:
                            return None
                    elif not isinstance(value, Exception):
                        try:
                            coerced = leaf_type.coerce_output_value(value)
                        except Exception:  # noqa: BLE001 - the standard path reports it
                            coerced = None
                        if coerced is not None and coerced is not Undefined:
                            return coerced
            return super().execute_field(parent_type, source, field_details_list, path, position_context)

    return ExecutionContext
