"""Language codes of survey tools -> the BCP 47 tags cem stores (`cem.surveys.definition.LanguageCode`).

Each tool has its own spellings: LimeSurvey adds a register to a tag (`de-informal`, `es-AR-informal`, `it-formal`,
`de-easy`) and uses some three-letter codes where BCP 47 takes the two-letter one (`kal`, `xho`); SurveyJS names a
few locales by country (`zh-cn`, `zh-tw`, `rs`, `ua`, `gr`). `bcp47()` maps a code through the tool's table and drops
a register (a way of addressing the reader, not a language). The converter writes the result in canonical case
(`pt-br` -> `pt-BR`).
"""

from __future__ import annotations

LIMESURVEY: dict[str, str] = {
    "kal": "kl",  # Greenlandic
    "xho": "xh",  # Xhosa
}
SURVEYJS: dict[str, str] = {
    "zh-cn": "zh-Hans",  # SurveyJS "simplified-chinese"
    "zh-tw": "zh-Hant",  # SurveyJS "traditional-chinese"
    "rs": "sr",  # Serbian
    "ua": "uk",  # Ukrainian
    "gr": "el",  # Greek
}
# LimeSurvey's forms of address: the language stays the same, so the tag does.
REGISTERS = frozenset({"informal", "formal", "easy"})


def bcp47(raw: str, table: dict[str, str]) -> str:
    """A tool's language code -> BCP 47 language tag. `cem.interchange.importers.convert.language_code` then writes
    it in canonical case and rejects what is no tag at all (with a warning)."""
    code = raw.strip().replace("_", "-")
    parts = code.split("-")
    if len(parts) > 1 and parts[-1].lower() in REGISTERS:
        code = "-".join(parts[:-1])
    return table.get(code.lower(), code)
