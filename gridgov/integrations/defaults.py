"""The mapping rules a new installation starts with (admins edit them later in the admin).

Camera types are the event names common video-analysis platforms (雪亮工程, 城市管理 AI) send;
12345 types are the 诉求类型 texts of hotline work orders. Each points at a category code of
`gridgov.cases.defaults`; a rule whose category is missing or inactive is not installed.
"""

from __future__ import annotations

import unicodedata

# (event type, category code, priority)
CAMERA_RULES = [
    ("占道经营", "01003", "normal"),
    ("出店经营", "01003", "normal"),
    ("流动摊贩", "01003", "normal"),
    ("乱堆物料", "01002", "normal"),
    ("乱堆物堆料", "01002", "normal"),
    ("暴露垃圾", "01001", "normal"),
    ("垃圾满溢", "01001", "normal"),
    ("违规张贴", "01004", "normal"),
    ("消防通道堵塞", "04001", "urgent"),
    ("消防通道占用", "04001", "urgent"),
    ("电动车进楼", "04002", "urgent"),
    ("电动车进电梯", "04002", "urgent"),
    # No fire category in the default catalogue: smoke and flame go to the work-safety hazard handled fastest.
    ("烟火", "04003", "critical"),
    ("烟雾", "04003", "critical"),
    ("明火", "04003", "critical"),
    ("人员聚集", "03001", "urgent"),
    ("打架斗殴", "03001", "critical"),
    ("可疑车辆", "03001", "normal"),
    ("道路积水", "02004", "urgent"),
    ("井盖缺失", "02002", "urgent"),
    ("路面破损", "02001", "normal"),
    ("毁绿种菜", "08003", "normal"),
]

HOTLINE_RULES = [
    ("占道经营", "01003", "normal"),
    ("乱堆乱放", "01002", "normal"),
    ("垃圾清运", "01001", "normal"),
    ("小广告", "01004", "normal"),
    ("道路破损", "02001", "normal"),
    ("井盖问题", "02002", "urgent"),
    ("路灯故障", "02003", "normal"),
    ("道路积水", "02004", "urgent"),
    ("治安问题", "03002", "normal"),
    ("电信诈骗", "03003", "urgent"),
    ("消防安全", "04001", "urgent"),
    ("飞线充电", "04002", "urgent"),
    ("燃气安全", "04003", "urgent"),
    ("邻里纠纷", "05001", "normal"),
    ("婚姻家庭", "05002", "normal"),
    ("物业管理", "05003", "normal"),
    ("劳资纠纷", "05004", "normal"),
    ("房屋土地", "05005", "normal"),
    ("信访事项", "06002", "normal"),
    ("不文明行为", "08001", "normal"),
    ("环境卫生", "08002", "normal"),
    ("毁绿种菜", "08003", "normal"),
    ("代办服务", "09001", "normal"),
    ("困难求助", "09002", "normal"),
    ("房屋报修", "09003", "normal"),
    ("政策咨询", "09004", "normal"),
]

RULES = {"camera": CAMERA_RULES, "hotline_12345": HOTLINE_RULES}
CHANNELS = ("camera", "hotline_12345", "generic")


def normalize_type(value: str) -> str:
    """The form a type is matched in: full-width letters as half-width (NFKC), case-folded, trimmed."""
    return unicodedata.normalize("NFKC", value or "").strip().casefold()


def install(apps=None) -> int:
    """Create the three intake channels and the default rules that are missing; returns rules created."""
    if apps is None:
        from gridgov.cases.models import Category
        from gridgov.integrations.models import IntakeChannel, MappingRule
    else:
        Category = apps.get_model("cases", "Category")
        IntakeChannel = apps.get_model("integrations", "IntakeChannel")
        MappingRule = apps.get_model("integrations", "MappingRule")
    for channel in CHANNELS:
        IntakeChannel.objects.get_or_create(channel=channel)
    categories = {c.code: c for c in Category.objects.filter(active=True)}
    created = 0
    for channel, rules in RULES.items():
        for order, (event_type, code, priority) in enumerate(rules, start=1):
            category = categories.get(code)
            if category is None or len(code) != 5:
                continue
            _rule, made = MappingRule.objects.get_or_create(
                channel=channel,
                type_key=normalize_type(event_type),
                defaults={"event_type": event_type, "category": category, "priority": priority, "order": order * 10},
            )
            created += made
    return created
