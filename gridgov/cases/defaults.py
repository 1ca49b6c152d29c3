"""The default business lines and category tree a new installation starts with (admins edit them later).

Codes follow GB/T 30428.2: a 2-digit major class and a 3-digit minor class under it. Deadlines:
accept within (minutes) and handle within (hours), per priority normal / urgent / critical.
"""

from __future__ import annotations

BUSINESS_LINES = [
    ("safety", "平安建设", 10),
    ("epidemic", "疫情防控", 20),
    ("civility", "文明创建", 30),
    ("work_safety", "安全生产", 40),
    ("petition", "综治信访", 50),
    ("dispute", "矛盾纠纷", 60),
    ("city", "城市管理", 70),
    ("livelihood", "民生服务", 80),
]

# Deadline profiles: (accept minutes normal, urgent, critical), (handle hours normal, urgent, critical).
QUICK = ((60, 30, 10), (24, 8, 2))
STANDARD = ((240, 60, 15), (72, 24, 4))
SLOW = ((480, 120, 30), (168, 72, 24))

# (code, name, business line, kind, level, unit kind, residents may report, profile, extra fields)
CATEGORIES = [
    ("01", "市容环境", "city", "incident", "grid", "", False, STANDARD, []),
    ("01001", "暴露垃圾", "city", "incident", "grid", "property", True, QUICK, []),
    ("01002", "乱堆物堆料", "city", "incident", "grid", "property", True, STANDARD, []),
    ("01003", "占道经营", "city", "incident", "community", "enforcement", True, STANDARD, []),
    ("01004", "违规张贴小广告", "city", "incident", "grid", "property", True, STANDARD, []),
    ("02", "公共设施", "city", "incident", "community", "", False, STANDARD, []),
    (
        "02001",
        "道路塌陷与破损",
        "city",
        "hazard",
        "community",
        "property",
        True,
        QUICK,
        [
            {"name": "area_m2", "label": "面积(平方米)", "type": "number"},
            {"name": "blocks_traffic", "label": "是否影响通行", "type": "boolean"},
        ],
    ),
    ("02002", "井盖缺失破损", "city", "hazard", "community", "property", True, QUICK, []),
    ("02003", "路灯损坏", "city", "incident", "community", "department", True, STANDARD, []),
    ("02004", "道路积水", "city", "incident", "community", "department", True, QUICK, []),
    ("03", "治安隐患", "safety", "incident", "community", "", False, STANDARD, []),
    ("03001", "可疑人员车辆", "safety", "incident", "community", "police", False, QUICK, []),
    ("03002", "治安防范漏洞", "safety", "hazard", "community", "police", True, STANDARD, []),
    ("03003", "电信诈骗线索", "safety", "incident", "subdistrict", "police", True, QUICK, []),
    ("04", "安全生产", "work_safety", "hazard", "grid", "", False, STANDARD, []),
    ("04001", "消防通道堵塞", "work_safety", "hazard", "grid", "property", True, QUICK, []),
    ("04002", "电动车违规充电", "work_safety", "hazard", "grid", "property", True, QUICK, []),
    ("04003", "燃气安全隐患", "work_safety", "hazard", "community", "department", True, QUICK, []),
    (
        "04004",
        "自建房安全隐患",
        "work_safety",
        "hazard",
        "subdistrict",
        "department",
        False,
        SLOW,
        [
            {"name": "floors", "label": "层数", "type": "integer", "required": True},
            {"name": "grade", "label": "初判等级", "type": "choice", "choices": ["A", "B", "C", "D"], "required": True},
        ],
    ),
    ("05", "矛盾纠纷", "dispute", "dispute", "grid", "", False, STANDARD, []),
    (
        "05001",
        "邻里纠纷",
        "dispute",
        "dispute",
        "grid",
        "community",
        False,
        STANDARD,
        [{"name": "parties", "label": "当事人数", "type": "integer"}],
    ),
    ("05002", "婚姻家庭纠纷", "dispute", "dispute", "grid", "judicial", False, STANDARD, []),
    ("05003", "物业纠纷", "dispute", "dispute", "community", "property", True, STANDARD, []),
    ("05004", "劳资纠纷", "dispute", "dispute", "subdistrict", "judicial", False, SLOW, []),
    ("05005", "房屋土地纠纷", "dispute", "dispute", "subdistrict", "court", False, SLOW, []),
    ("06", "信访诉求", "petition", "petition", "subdistrict", "", False, SLOW, []),
    ("06001", "群众来访", "petition", "petition", "subdistrict", "department", False, SLOW, []),
    ("06002", "网上信访", "petition", "petition", "subdistrict", "department", False, SLOW, []),
    ("07", "疫情防控", "epidemic", "incident", "community", "", False, QUICK, []),
    (
        "07001",
        "发热人员报告",
        "epidemic",
        "incident",
        "community",
        "department",
        True,
        QUICK,
        [{"name": "temperature", "label": "体温(℃)", "type": "number"}],
    ),
    ("07002", "重点地区来返人员", "epidemic", "incident", "community", "department", False, QUICK, []),
    ("07003", "防疫物资需求", "epidemic", "service", "community", "community", True, STANDARD, []),
    ("08", "文明创建", "civility", "incident", "grid", "", False, STANDARD, []),
    ("08001", "不文明行为", "civility", "incident", "grid", "community", True, STANDARD, []),
    ("08002", "环境卫生死角", "civility", "incident", "grid", "property", True, STANDARD, []),
    ("08003", "毁绿种菜", "civility", "incident", "grid", "enforcement", True, STANDARD, []),
    ("09", "民生服务", "livelihood", "service", "grid", "", False, STANDARD, []),
    ("09001", "代办服务", "livelihood", "service", "grid", "community", True, STANDARD, []),
    ("09002", "困难帮扶", "livelihood", "service", "community", "community", True, STANDARD, []),
    ("09003", "房屋设施报修", "livelihood", "service", "community", "property", True, STANDARD, []),
    ("09004", "政策咨询", "livelihood", "service", "community", "community", True, SLOW, []),
]


def install(apps=None) -> int:
    """Create the default lines and categories that are missing; existing rows are left as admins edited them."""
    if apps is None:
        from gridgov.cases.models import BusinessLine, Category
    else:
        BusinessLine = apps.get_model("cases", "BusinessLine")
        Category = apps.get_model("cases", "Category")
    lines = {}
    for code, name, order in BUSINESS_LINES:
        lines[code], _created = BusinessLine.objects.get_or_create(code=code, defaults={"name": name, "order": order})
    created = 0
    by_code = {}
    for code, name, line, kind, level, unit_kind, public, profile, schema in CATEGORIES:
        (accept, handle) = profile
        category, made = Category.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "business_line": lines[line],
                "parent": by_code.get(code[:2]) if len(code) == 5 else None,
                "kind": kind,
                "level": level,
                "unit_kind": unit_kind,
                "resident_reportable": public,
                "accept_minutes_normal": accept[0],
                "accept_minutes_urgent": accept[1],
                "accept_minutes_critical": accept[2],
                "handle_hours_normal": handle[0],
                "handle_hours_urgent": handle[1],
                "handle_hours_critical": handle[2],
                "form_schema": schema,
            },
        )
        by_code[code] = category
        created += made
    return created
