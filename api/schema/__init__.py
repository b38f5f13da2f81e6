"""The GraphQL API of CONTRACT.md §4: `build_schema(settings)` and `graphql_routes(settings)`.

`python -m api.schema` prints the SDL; the committed `schema.graphql` at the repository root must
equal it (tests/test_graphql_api.py fails otherwise).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from api.schema.activities import ActivityMutations, ActivityQueries
from api.schema.errors import TongbanSchema
from api.schema.execution import execution_context_for
from api.schema.limits import extensions
from api.schema.mutations import Mutation
from api.schema.partners import PartnerMutation, PartnerQuery
from api.schema.queries import Query
from api.schema.view import TongbanGraphQL
from api.settings import Settings

__all__ = ["build_schema", "graphql_routes"]


def build_schema(settings: Settings | None = None) -> TongbanSchema:
    """The schema with its limits and caches; introspection follows `settings.graphql_introspection`."""
    settings = settings or Settings()
    schema = TongbanSchema(
        query=merge_types("Query", (Query, PartnerQuery, ActivityQueries)),
        mutation=merge_types("Mutation", (Mutation, PartnerMutation, ActivityMutations)),
        extensions=extensions(settings),
        config=StrawberryConfig(batching_config=None),
    )
    schema.execution_context_class = execution_context_for(schema._schema)  # noqa: SLF001 - strawberry's graphql-core schema; docs/UPGRADING.md
    return schema


_schemas: dict[bool, TongbanSchema] = {}


def _shared_schema(settings: Settings) -> TongbanSchema:
    """The schema for an app: built once per process for each `graphql_introspection` value (the
    only setting it reads). Building one walks every type (~10 ms); it holds no request state,
    only caches of answers that depend on the query text alone (parsed and validated documents),
    so apps made in one process (the tests make one per test) share it."""
    introspection = settings.graphql_introspection
    schema = _schemas.get(introspection)
    if schema is None:
        schema = _schemas[introspection] = build_schema(settings)
    return schema


def graphql_routes(settings: Settings) -> list[BaseRoute]:
    """`/graphql`: GET (queries only) and POST; no WebSocket route. A browser's GET (Accept: text/html,
    no query) gets the API docs with GraphiQL (web/api_docs.py); `/graphql/schema.graphql` the SDL."""
    from web.api_docs import schema_sdl

    view = TongbanGraphQL(
        _shared_schema(settings),
        graphql_ide="graphiql",  # rendered by TongbanGraphQL.render_graphql_ide, not strawberry's page
        allow_queries_via_get=True,
        multipart_uploads_enabled=False,
        subscription_protocols=(),
    )
    # Every method reaches the view, so a PUT gets the same JSON 405 (Allow: GET, POST) as the rest.
    return [
        Route("/graphql", view, name="graphql"),
        Route("/graphql/schema.graphql", schema_sdl, methods=["GET", "HEAD"]),
    ]
