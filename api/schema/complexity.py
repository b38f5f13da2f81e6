"""What a GraphQL document costs, measured in one pass before anything else looks at it.

A document is small text, but fragments multiply it: `fragment F1 on Query { ...F0 ...F0 }`, each
level spreading the one below twice, makes a 1 KB document of 22 fragments stand for 4 million
fields. Rules that walk the document with every spread expanded (strawberry's depth and alias
limiters did) then take time exponential in its length; the probe of issue 14 held the event loop
for 25 s with such a document, and `/healthz` did not answer meanwhile.

`measure` therefore computes, for every fragment once (memoised by name, so linear in the document),
how many fields it stands for when expanded, how many of them carry an alias, and how deep it
nests; an operation's figures follow from its own fields and its spreads' memoised figures. `check`
turns them into QUERY_TOO_COMPLEX errors:

- more than `MAX_SELECTIONS` expanded fields (2,000: the token limit already caps a document
  without fragments at about that many fields, so only fragment multiplication reaches past it);
- deeper than `MAX_DEPTH` (introspection fields do not count, as before);
- more than `MAX_ALIASES` aliases, counted through fragments (each spread counts again).

A spread of a fragment that is being measured (a cycle) or of an unknown fragment counts nothing
here: graphql-core's own rules report both (NoFragmentCycles, KnownFragmentNames), and an operation
that passes this check has no larger expansion than measured.

This is also the one module that reaches into graphql-core's internals: `validate` runs its
specified rules with a smaller work budget for OverlappingFieldsCanBeMerged (the only rule whose
work grows faster than the document: it compares same-named fields pairwise; graphql-core meters
it and aborts past the budget) and reports that abort as QUERY_TOO_COMPLEX too. With the
expanded size bounded the other rules are linear in it.

Execution is bounded too: lists multiply a small document again at run time (`children { parent {
children { … } } }` nine levels deep answered 183 MB in 200 s). `WorkBudget`, mixed into the
execution context (`execution.py`), counts every field value the execution completes and stops past
`MAX_RESULT_FIELDS`: the whole answer becomes one QUERY_TOO_COMPLEX error and no data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql import (
    validate as graphql_validate,
)
from graphql.validation import ASTValidationRule
from graphql.validation.rules import overlapping_fields_can_be_merged
from graphql.validation.validate import ValidationAbortedError

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_SELECTIONS = 2000
#: graphql-core's default is 500,000 units (about 2 s of field comparisons on this machine); a
#: 2,000-field document with every field named alike needs ~20,000; the introspection query needs 0
#: and a query spreading four 20-field fragments side by side a few hundred.
OVERLAP_BUDGET = 2_000
#: field values one execution may complete (a whereToHandle page of 10 answers is ~1,500, the full
#: introspection query ~4,000; 20,000 of the slowest kind, nested region lists, take ~1 s here)
MAX_RESULT_FIELDS = 20_000

TOO_COMPLEX = "QUERY_TOO_COMPLEX"


@dataclass(frozen=True, slots=True)
class Cost:
    """What a selection set stands for once its fragments are expanded."""

    selections: int = 0  # fields, every spread counted as often as it is spread
    aliases: int = 0
    depth: int = 0  # nested fields with sub-selections; introspection fields do not count


_NOTHING = Cost()


class _Measure:
    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.memo: dict[str, Cost] = {}
        self.open: set[str] = set()

    def fragment(self, name: str) -> Cost:
        found = self.memo.get(name)
        if found is not None:
            return found
        definition = self.fragments.get(name)
        if definition is None or name in self.open:
            return _NOTHING  # unknown or a cycle: graphql-core's rules report it
        self.open.add(name)
        cost = self.selection_set(definition.selection_set)
        self.open.discard(name)
        self.memo[name] = cost
        return cost

    def selection_set(self, selection_set: SelectionSetNode | None) -> Cost:
        selections = aliases = depth = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                inner = self.selection_set(selection.selection_set)
                selections += 1 + inner.selections
                aliases += (1 if selection.alias else 0) + inner.aliases
                if selection.selection_set and not selection.name.value.startswith("__"):
                    depth = max(depth, 1 + inner.depth)
            else:
                if isinstance(selection, FragmentSpreadNode):
                    inner = self.fragment(selection.name.value)
                elif isinstance(selection, InlineFragmentNode):
                    inner = self.selection_set(selection.selection_set)
                else:  # pragma: no cover - graphql-core knows no other selection
                    continue
                selections += inner.selections
                aliases += inner.aliases
                depth = max(depth, inner.depth)
        return Cost(selections, aliases, depth)


def measure(document: DocumentNode) -> dict[str, Cost]:
    """Each operation's expanded cost, by name ("anonymous" for an unnamed one); linear in the
    document's size, whatever its fragments multiply to."""
    walk = _Measure(document)
    return {
        (d.name.value if d.name else "anonymous"): walk.selection_set(d.selection_set)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    }


def too_complex(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": TOO_COMPLEX})


def check(document: DocumentNode) -> list[GraphQLError]:
    """QUERY_TOO_COMPLEX errors for a document past the limits, before any other rule runs."""
    costs = measure(document)
    errors = []
    for name, cost in costs.items():
        if cost.selections > MAX_SELECTIONS:
            errors.append(
                too_complex(
                    f"'{name}' expands to {cost.selections} fields; at most {MAX_SELECTIONS} are allowed"
                )
            )
        if cost.depth > MAX_DEPTH:
            errors.append(too_complex(f"'{name}' exceeds maximum operation depth of {MAX_DEPTH}"))
    total_aliases = sum(cost.aliases for cost in costs.values())
    if total_aliases > MAX_ALIASES:
        errors.append(too_complex(f"{total_aliases} aliases found. Allowed: {MAX_ALIASES}"))
    return errors


def validate(
    schema: GraphQLSchema, document: DocumentNode, rules: Iterable[type[ASTValidationRule]]
) -> list[GraphQLError]:
    """The limits above, then graphql-core's validation with the smaller overlap budget; an aborted
    validation (budget spent, recursion too deep) is QUERY_TOO_COMPLEX."""
    errors = check(document)
    if errors:
        return errors
    errors = graphql_validate(schema, document, tuple(rules))
    return [
        too_complex(error.message)
        if type(error) is ValidationAbortedError and "error limit" not in error.message
        else error
        for error in errors
    ]


# graphql-core reads the budget when the rule starts validating a document; it is meant to be set.
overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = OVERLAP_BUDGET


class WorkExhausted(GraphQLError):
    """Raised where a field would be completed past the budget; `WorkBudget.build_response` turns
    the whole answer into this one error."""

    def __init__(self) -> None:
        super().__init__(
            f"the answer would have more than {MAX_RESULT_FIELDS} fields; ask for less (smaller `first`)",
            extensions={"code": TOO_COMPLEX},
        )


class WorkBudget:
    """Mixed into graphql-core's execution context: at most `MAX_RESULT_FIELDS` field completions."""

    fields_left: int = MAX_RESULT_FIELDS

    def spend(self, fields: int) -> None:
        self.fields_left -= fields
        if self.fields_left < 0:
            raise WorkExhausted

    def execute_field(self, *args: Any, **kwargs: Any) -> Any:
        self.spend(1)
        return super().execute_field(*args, **kwargs)  # type: ignore[misc]

    def build_response(self, data: Any) -> Any:
        if self.fields_left < 0:
            super().build_response(None)  # type: ignore[misc]  # its end-of-work hook runs as before
            return ExecutionResult(None, [WorkExhausted()])
        return super().build_response(data)  # type: ignore[misc]
