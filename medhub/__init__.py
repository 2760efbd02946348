"""medhub: the core of the medical image classifier demo hub (everything that is not UI)."""

__version__ = "0.1.0"

DISCLAIMER = {
    "en": (
        "Research and education only. This is not a diagnosis and not a medical device. "
        "If you are worried about your health, see a doctor."
    ),
    "ko": (
        "연구 및 교육용으로만 사용하세요. 이 결과는 진단이 아니며 의료기기가 아닙니다. "
        "건강이 걱정되면 의사와 상담하세요."
    ),
}
