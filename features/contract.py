"""Every column of CONTRACT.md, declared once.

Readers, validators, the synthetic generator and the README's column tables
all take their facts from here, so a column's type, range, allowed codes and
default live in exactly one place.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

NEEDS: tuple[str, ...] = (
    "physical",
    "learning",
    "health",
    "developmental_uncertainty",
    "emotional",
    "prenatal_exposure",
)
"""The six need dimensions, in the order every array in the project uses."""

NEED_LABELS: dict[str, str] = {
    "physical": "physical needs",
    "learning": "learning needs",
    "health": "health needs",
    "developmental_uncertainty": "developmental uncertainty",
    "emotional": "emotional and behavioural needs",
    "prenatal_exposure": "prenatal alcohol or drug exposure",
}

LEVEL_LABELS: tuple[str, ...] = ("none", "mild", "moderate", "severe or complex")

ETHNICITIES: dict[str, str] = {
    "WBRI": "White British",
    "WIRI": "White Irish",
    "WIRT": "Traveller of Irish heritage",
    "WOTH": "any other White background",
    "WROM": "Gypsy/Roma",
    "MWBC": "White and Black Caribbean",
    "MWBA": "White and Black African",
    "MWAS": "White and Asian",
    "MOTH": "any other mixed background",
    "AIND": "Indian",
    "APKN": "Pakistani",
    "ABAN": "Bangladeshi",
    "AOTH": "any other Asian background",
    "BCRB": "Black Caribbean",
    "BAFR": "Black African",
    "BOTH": "any other Black background",
    "CHNE": "Chinese",
    "OOTH": "any other ethnic group",
    "REFU": "refused",
    "NOBT": "information not yet obtained",
}
ETHNICITY_CODES: tuple[str, ...] = tuple(ETHNICITIES)

CHILD_STATUSES = ("waiting", "linked", "matched", "placed")
HOUSEHOLD_STATUSES = ("approved", "linked", "matched", "on_hold")
SEXES = ("F", "M")
SIBLING_PLANS = ("together", "apart")
CONTACT_PLANS = ("none", "letterbox", "direct")
AGENCY_TYPES = ("la", "vaa")

# Ids (CONTRACT.md, "Ids, explanations, near misses and manifests").
ID_MAX_CHARS = 64
ID_FORMULA_STARTS = ("=", "+", "-", "@")
"""A spreadsheet runs a cell beginning with one of these as a formula."""
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_NO_ZERO_WIDTH = str.maketrans("", "", ZERO_WIDTH)


def id_key(value: str) -> str:
    """The form in which two ids are compared: Unicode NFKC, case folded,
    zero-width characters removed and trimmed. Ids with the same key are
    the same id written twice.

    >>> id_key(" C\u200b001 ") == id_key("c001") == id_key("\uff23\uff10\uff10\uff11")
    True
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    return folded.translate(_NO_ZERO_WIDTH).strip()


# Plausibility: values the types allow but no real case has.
EARLIEST_DATE = dt.date(1900, 1, 1)
"""No date in the files (or --as-of) is earlier."""
ADULT_MONTHS = 18 * 12
"""A waiting child is younger than this at --as-of."""
MAX_SAFETY_KM = 1000.0
"""The largest plausible birth-family safety distance."""
BRITISH_ISLES = (49.0, 61.0, -11.0, 2.0)
"""(south, north, west, east) in degrees: a location outside is warned about."""

# Column kinds. "codes" is a `;`-separated list of codes inside one cell.
STR, INT, FLOAT, DATE, BOOL, CODE, CODES = "str", "int", "float", "date", "bool", "code", "codes"


@dataclass(frozen=True)
class Column:
    """One column of an input file: its type, whether it is required, its
    allowed range or codes, and the default used when a cell is empty."""

    name: str
    kind: str
    required: bool
    meaning: str = ""
    lo: float | None = None
    hi: float | None = None
    codes: tuple[str, ...] | None = None
    default: object = None
    unique: bool = False
    is_id: bool = False
    """An id (a code): the id rules apply (ID_MAX_CHARS, ID_FORMULA_STARTS,
    no control characters, ids equal by :func:`id_key` are the same)."""

    def expected(self) -> str:
        """What a valid cell looks like, in words, for error messages."""
        if self.kind == INT:
            return f"a whole number from {self.lo:g} to {self.hi:g}" if self.lo is not None and self.hi is not None \
                else "a whole number" + (f" >= {self.lo:g}" if self.lo is not None else "")
        if self.kind == FLOAT:
            if self.lo is not None and self.hi is not None:
                return f"a number from {self.lo:g} to {self.hi:g}"
            return "a number" + (f" >= {self.lo:g}" if self.lo is not None else "")
        if self.kind == DATE:
            return "a date YYYY-MM-DD"
        if self.kind == BOOL:
            return "true or false"
        if self.kind == CODE:
            return "one of " + " ".join(self.codes or ())
        if self.kind == CODES:
            shown = " ".join(self.codes or ())
            return f"a ;-separated list of: {shown}"
        return "a non-empty text value"


@dataclass(frozen=True)
class Table:
    """An input file's declared columns, keyed by its id column."""

    name: str
    id_column: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


def _need_columns(prefix: str, required: bool, meaning: str) -> tuple[Column, ...]:
    return tuple(
        Column(f"{prefix}{need}", INT, required, meaning.format(need=NEED_LABELS[need]), lo=0, hi=3)
        for need in NEEDS
    )


CHILDREN = Table(
    name="children",
    id_column="child_id",
    columns=(
        Column("child_id", STR, True, "opaque child code", unique=True, is_id=True),
        Column("agency_id", STR, True, "the responsible local authority", is_id=True),
        Column("region", STR, True, "regional adoption agency / exchange area"),
        Column("date_of_birth", DATE, True, "age is whole calendar months completed at --as-of"),
        Column("sex", CODE, True, "F or M", codes=SEXES),
        Column("ethnicity", CODE, True, "heritage (DfE/ONS code)", codes=ETHNICITY_CODES),
        Column("sibling_group_id", STR, False, "shared by siblings; empty for a single child", is_id=True),
        Column("sibling_plan", CODE, False, "together or apart (default together in a group)",
               codes=SIBLING_PLANS),
        *_need_columns("need_", True, "{need}: 0 none, 1 mild, 2 moderate, 3 severe/complex"),
        Column("entered_care_date", DATE, True, "scorecard A1/A10 start"),
        Column("placement_order_date", DATE, False, "scorecard A2 start; empty = not yet granted"),
        Column("early_permanence", BOOL, False, "fostering for adoption plan", default=False),
        Column("contact_plan", CODE, False, "none, letterbox or direct", codes=CONTACT_PLANS, default="none"),
        Column("lat", FLOAT, True, "approximate latitude of the current placement", lo=-90, hi=90),
        Column("lon", FLOAT, True, "approximate longitude of the current placement", lo=-180, hi=180),
        Column("birth_family_lat", FLOAT, False, "approximate latitude of the birth family", lo=-90, hi=90),
        Column("birth_family_lon", FLOAT, False, "approximate longitude of the birth family", lo=-180, hi=180),
        Column("min_distance_km", FLOAT, False, "safety distance from the birth family", lo=0, hi=MAX_SAFETY_KM),
        Column("status", CODE, True, "only waiting children are proposed", codes=CHILD_STATUSES),
    ),
)

HOUSEHOLDS = Table(
    name="households",
    id_column="household_id",
    columns=(
        Column("household_id", STR, True, "opaque household code", unique=True, is_id=True),
        Column("agency_id", STR, True, "approving agency (LA or VAA)", is_id=True),
        Column("agency_type", CODE, True, "la or vaa", codes=AGENCY_TYPES),
        Column("region", STR, True, "regional adoption agency / exchange area"),
        Column("approval_date", DATE, True, "adopters' wait is measured from here"),
        Column("adults", INT, True, "one or two adopters", lo=1, hi=2),
        Column("ethnicities", CODES, True, "adopters' own heritage", codes=ETHNICITY_CODES),
        Column("can_promote", CODES, False, "heritages the household can promote", codes=ETHNICITY_CODES),
        Column("min_children", INT, True, "smallest unit approved for", lo=1, hi=4),
        Column("max_children", INT, True, "largest unit approved for", lo=1, hi=4),
        Column("min_age_months", INT, True, "youngest age approved for", lo=0, hi=216),
        Column("max_age_months", INT, True, "oldest age approved for", lo=0, hi=216),
        Column("sexes", CODES, True, "sexes approved for", codes=SEXES),
        *_need_columns("accept_", True, "highest level of {need} accepted"),
        *_need_columns("consider_", False, "highest level of {need} they would discuss (default = accept)"),
        Column("dual_approved", BOOL, False, "approved for fostering for adoption", default=False),
        Column("accepts_direct_contact", BOOL, False, "accepts direct contact", default=False),
        Column("youngest_child_months", INT, False, "age of the youngest child already at home", lo=0, hi=360),
        Column("lat", FLOAT, True, "latitude", lo=-90, hi=90),
        Column("lon", FLOAT, True, "longitude", lo=-180, hi=180),
        Column("max_travel_km", FLOAT, False, "furthest they will travel for introductions", lo=0),
        Column("status", CODE, True, "only approved households are proposed", codes=HOUSEHOLD_STATUSES),
    ),
)

TABLES = {"children": CHILDREN, "households": HOUSEHOLDS}
ID_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(c.name for t in TABLES.values() for c in t.columns if c.is_id))


def markdown_table(table: Table) -> str:
    """The column table for the README, made from the declarations above."""
    lines = ["| column | type | required | allowed | meaning |", "|---|---|---|---|---|"]
    for col in table.columns:
        allowed = ""
        if col.codes is not None:
            allowed = " ".join(f"`{c}`" for c in col.codes)
        elif col.lo is not None or col.hi is not None:
            allowed = f"{'' if col.lo is None else f'{col.lo:g}'}..{'' if col.hi is None else f'{col.hi:g}'}"
        if col.default is not None:
            allowed += f" (default `{str(col.default).lower()}`)"
        lines.append(f"| {col.name} | {col.kind} | {'yes' if col.required else 'no'} | {allowed} | {col.meaning} |")
    return "\n".join(lines)


def readme_tables() -> str:
    """Both column tables, as they appear in the README."""
    return "\n\n".join(f"### {t.name}\n\n{markdown_table(t)}" for t in TABLES.values()) + "\n"


if __name__ == "__main__":  # python -m features.contract
    print(readme_tables(), end="")
