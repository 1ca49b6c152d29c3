"""Data every installation starts with; `gridgov demo` restores it after flushing."""

DEFAULT_TAGS = [
    # code, name, kind, order
    ("dibao", "低保", "care", 10),
    ("wubao", "五保", "care", 20),
    ("kunnan", "困难户", "care", 30),
    ("dujulaoren", "独居老人", "care", 40),
    ("kongchao", "空巢老人", "care", 50),
    ("canji", "残疾", "care", 60),
    ("liushou", "留守儿童", "care", 70),
    ("dabing", "大病患者", "care", 80),
    ("tuiyi", "退役军人", "service", 110),
    ("gaoling", "高龄老人", "service", 120),
    ("yufu", "育龄妇女", "service", 130),
    ("dangyuan", "党员", "party", 210),
    ("zhiyuanzhe", "志愿者", "party", 220),
    ("louzhang", "楼栋长", "party", 230),
    ("shequjiaozheng", "社区矫正对象", "key", 310),
    ("xingman", "刑满释放人员", "key", 320),
    ("jingshen", "严重精神障碍患者", "key", 330),
    ("xinfang", "重点信访人员", "key", 340),
    ("xidu", "吸毒人员", "key", 350),
]


def ensure_default_tags() -> int:
    """Create the default tags that are missing; returns how many were created."""
    from gridgov.registry.models import Tag

    created = 0
    for code, name, kind, order in DEFAULT_TAGS:
        created += Tag.objects.get_or_create(code=code, defaults={"name": name, "kind": kind, "order": order})[1]
    return created
