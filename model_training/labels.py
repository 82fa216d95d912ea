"""Label sets of the project's codebook (see model_training/CODEBOOK.md)."""

STANCES = ("pro_beijing", "critical", "neutral")
TOPICS = (
    "diplomacy",
    "military",
    "economy",
    "finance",
    "energy",
    "technology",
    "politics",
    "society",
    "other",
)
MAIN_TOPICS = TOPICS[:-1]
SENTIMENTS = ("positive", "negative", "neutral")
SCRIPTS = ("hant", "hans")
GENRES = (
    "state_media",
    "official_statement",
    "commentary",
    "wire",
    "analysis",
    "opinion",
    "social_media",
    "caption",
)
HARD_CASES = (
    "attributed_neutral",
    "dry_critical",
    "hk_overseas_pro",
    "topic_stance_mismatch",
    "latin_mixed",
)

LABELS = {"stance": STANCES, "topic": TOPICS, "sentiment": SENTIMENTS}
