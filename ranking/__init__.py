"""Fair, exact and fast ranking: pure numpy/scipy, arrays in and arrays out, no I/O.

Definitions of every number: design/RANKING.md. Nothing here imports the rest of the project.
"""

from ranking.campaigns import (
    BALLOT_KINDS,
    FRESH_MODES,
    approvals,
    ballot_support,
    campaign_order,
    fresh_split,
    fund,
    outcome,
    top,
)
from ranking.duplicates import (
    DUPLICATE_MUTUAL,
    DUPLICATE_THRESHOLD,
    SENSITIVITY_MUTUAL,
    SENSITIVITY_THRESHOLDS,
    cluster_duplicates,
    cluster_index,
)
from ranking.index import INDEX_FORMAT, SUGGESTION_FLOOR, TextIndex
from ranking.pairwise import (
    BT_ALPHA,
    EXACT_STDERR_MAX_ITEMS,
    BradleyTerryResult,
    bradley_terry,
    next_pair,
)
from ranking.scores import (
    ELO_INITIAL,
    ELO_K,
    TRENDING_HALF_LIFE_HOURS,
    Z95,
    decayed_votes,
    elo_ratings,
    wilson_lower_bound,
)
from ranking.text import normalise_text

__all__ = [
    "BALLOT_KINDS",
    "BT_ALPHA",
    "DUPLICATE_MUTUAL",
    "DUPLICATE_THRESHOLD",
    "ELO_INITIAL",
    "ELO_K",
    "EXACT_STDERR_MAX_ITEMS",
    "FRESH_MODES",
    "INDEX_FORMAT",
    "SENSITIVITY_MUTUAL",
    "SENSITIVITY_THRESHOLDS",
    "SUGGESTION_FLOOR",
    "TRENDING_HALF_LIFE_HOURS",
    "Z95",
    "BradleyTerryResult",
    "TextIndex",
    "approvals",
    "ballot_support",
    "bradley_terry",
    "campaign_order",
    "cluster_duplicates",
    "cluster_index",
    "decayed_votes",
    "elo_ratings",
    "fresh_split",
    "fund",
    "next_pair",
    "normalise_text",
    "outcome",
    "top",
    "wilson_lower_bound",
]
