"""Store-neutral membership predicates: what `core.segments` compiles a segment definition
into, and what each store compiles to one SQL condition with bound parameters.

Every atom is true or false for an endpoint document, never unknown, so `Not` is plain
complement. Text is compared as stored up to its first NUL character (SQLite's JSON
functions end strings there; the PostgreSQL store does the same), which is why criteria
holding NUL are refused at write time. "Case-insensitive" means ASCII letters only, the one
folding both databases' `lower()` share under the byte-wise collation the stores use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AttributeMap = Literal["Attributes", "UserAttributes"]
AttributeOp = Literal["INCLUSIVE", "CONTAINS", "BEFORE", "AFTER", "ON", "BETWEEN"]
MetricOp = Literal[
    "GREATER_THAN", "LESS_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN_OR_EQUAL", "EQUAL"
]
Field = Literal["ChannelType", "AppVersion", "Make", "Model", "Platform", "Country"]


@dataclass(frozen=True)
class Everything:
    pass


@dataclass(frozen=True)
class And:
    parts: tuple[Predicate, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Predicate, ...]


@dataclass(frozen=True)
class Not:
    part: Predicate


@dataclass(frozen=True)
class AttributeTest:
    """Some value of the named attribute satisfies `op` against some criterion. Date
    operators hold criteria as `instant_key` strings (BETWEEN: low, high)."""

    map: AttributeMap
    name: str
    op: AttributeOp
    values: tuple[str, ...]


@dataclass(frozen=True)
class MetricTest:
    name: str
    op: MetricOp
    value: float


@dataclass(frozen=True)
class FieldIn:
    """The endpoint's one stored `field`, ASCII-lowercased, is one of `values` (lowercased)."""

    field: Field
    values: tuple[str, ...]


@dataclass(frozen=True)
class Within:
    """Great-circle distance from the endpoint's coordinates ≤ `km` (S4)."""

    latitude: float
    longitude: float
    km: float


@dataclass(frozen=True)
class EffectiveSince:
    """The endpoint's EffectiveDate (canonical, `values.format_date`) ≥ `moment`."""

    moment: str


@dataclass(frozen=True)
class Members:
    """An imported segment: endpoints by case-folded id, and every endpoint of these users."""

    endpoint_keys: tuple[str, ...]
    user_ids: tuple[str, ...]


Predicate = (
    Everything
    | And
    | Or
    | Not
    | AttributeTest
    | MetricTest
    | FieldIn
    | Within
    | EffectiveSince
    | Members
)

NOTHING: Predicate = Or(())
EARTH_RADIUS_KM = 6371.0088
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

FIELD_PATHS: dict[Field, tuple[str, ...]] = {
    "ChannelType": ("ChannelType",),
    "AppVersion": ("Demographic", "AppVersion"),
    "Make": ("Demographic", "Make"),
    "Model": ("Demographic", "Model"),
    "Platform": ("Demographic", "Platform"),
    "Country": ("Location", "Country"),
}
