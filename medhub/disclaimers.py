"""The medical disclaimer, one text per domain, in English and Korean: the only place it is written.

A card names its domain (`medhub.disclaimer: radiology`); the app's result panel, the API summary,
the CLI and the card writers' Disclaimer section all take the text from here.
"""

from __future__ import annotations

_COMMON_EN = (
    "Research and education only. This is not a diagnosis and not a medical device, and it can be wrong."
)
_COMMON_KO = "연구 및 교육용으로만 사용하세요. 이 결과는 진단이 아니며 의료기기가 아니고, 틀릴 수 있습니다."

DOMAINS: dict[str, dict[str, str]] = {
    "general": {
        "en": f"{_COMMON_EN} If you are worried about your health, see a doctor.",
        "ko": f"{_COMMON_KO} 건강이 걱정되면 의사와 상담하세요.",
    },
    "radiology": {
        "en": f"{_COMMON_EN} A head CT is read by a radiologist; anyone with a head injury, a sudden severe "
        "headache, weakness or confusion needs emergency care now.",
        "ko": f"{_COMMON_KO} 두부 CT는 영상의학과 전문의가 판독합니다. 머리 외상, 갑작스러운 심한 두통, 마비나 "
        "의식 저하가 있으면 즉시 응급 진료를 받으세요.",
    },
    "dermatology": {
        "en": f"{_COMMON_EN} Anyone worried about a skin change or a mole should see a doctor (a dermatologist).",
        "ko": f"{_COMMON_KO} 피부 변화나 점이 걱정되면 의사(피부과 전문의)의 진료를 받으세요.",
    },
    "scalp": {
        "en": f"{_COMMON_EN} Anyone worried about hair loss or their scalp should see a doctor "
        "(a dermatologist).",
        "ko": f"{_COMMON_KO} 탈모나 두피가 걱정되면 의사(피부과 전문의)의 진료를 받으세요.",
    },
}


def disclaimer(domain: str, lang: str = "en") -> str:
    texts = DOMAINS.get(domain) or DOMAINS["general"]
    return texts["ko" if lang == "ko" else "en"]


def card_section(domain: str) -> str:
    """The Markdown body of a card's Disclaimer section (both languages)."""
    return f"{disclaimer(domain, 'en')}\n\n{disclaimer(domain, 'ko')}"
