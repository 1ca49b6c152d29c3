"""The default checklists (排查表) a new installation starts with; admins edit them later in the admin.

Labels are Chinese: a checklist is a form an office prints and fills, data rather than interface text.
Each problem item names the 5-digit minor case category (from `gridgov.cases.defaults`) a problem
answer opens and the rectification deadline in days. Items whose code is the name of a field in that
category's `form_schema` (04004's `floors` and `grade`, 07001's `temperature`) carry the value the
case's extra fields need.

`install_checklists()` is idempotent: templates are updated from this table by code (their `active`
flag stays as an admin set it); a template's items are written only when the template is first
installed, so items admins changed, added or deleted stay as they left them.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("gridgov.fieldwork")

YES, NO = [True], [False]
GRADES = ["A", "B", "C", "D"]  # 危险房屋鉴定标准 (JGJ 125); the choices of category 04004's `grade` field


def item(
    code: str,
    label: str,
    type: str = "yes_no",  # noqa: A002 — the model's field name
    *,
    choices: list[str] | None = None,
    problem: list[Any] | None = None,
    below: float | None = None,
    above: float | None = None,
    category: str | None = None,
    days: int | None = None,
    required: bool = True,
    hint: str = "",
) -> dict[str, Any]:
    """One item of the table below, in the model's field names."""
    return {
        "code": code,
        "label": label,
        "type": type,
        "choices": choices or [],
        "required": required,
        "problem_values": problem or [],
        "problem_below": below,
        "problem_above": above,
        "category": category,
        "rectify_days": days,
        "help_text": hint,
    }


# (code, name, business line code, target kind, description, items in order)
CHECKLISTS: list[tuple[str, str, str, str, str, list[dict[str, Any]]]] = [
    (
        "house-safety",
        "房屋安全排查",
        "work_safety",
        "building",
        "对辖区房屋逐栋排查裂缝、倾斜、渗漏、擅自改变结构和违法搭建等安全隐患，初判安全等级。",
        [
            # Required: a problem here opens 04004, whose form requires the floors and the grade.
            item("floors", "房屋层数", "number", hint="地上层数"),
            item(
                "cracks",
                "墙体、梁柱、楼板是否有明显裂缝",
                problem=YES,
                category="04004",
                days=15,
                hint="承重构件裂缝、门窗角斜裂缝",
            ),
            item("tilt", "房屋是否有倾斜、沉降", problem=YES, category="04004", days=7),
            item("roof_leak", "屋面、外墙是否渗漏", problem=YES, category="09003", days=15),
            item(
                "alteration",
                "是否擅自改变房屋主体结构",
                problem=YES,
                category="04004",
                days=30,
                hint="拆改承重墙、梁柱，开挖地下空间等",
            ),
            item("illegal_addition", "是否有违法加层、搭建", problem=YES, category="04004", days=30),
            item(
                "grade",
                "房屋安全初判等级",
                "choice",
                choices=GRADES,
                problem=["C", "D"],
                category="04004",
                days=7,
                hint="A 安全；B 基本安全；C 局部危险；D 整体危险",
            ),
            item("facade_photo", "房屋外立面照片", "photo"),
            item("note", "其他情况说明", "text", required=False),
        ],
    ),
    (
        "fire-hazard-shop",
        "消防安全隐患排查（门店）",
        "work_safety",
        "shop",
        "沿街门店、小经营场所消防安全检查：灭火器、疏散通道、电动车充电、电气线路、燃气钢瓶、“三合一”场所。",
        [
            item(
                "extinguishers",
                "灭火器数量（具）",
                "number",
                below=1,
                category="04001",
                days=3,
                hint="经营面积每50平方米不少于1具",
            ),
            item("extinguisher_in_date", "灭火器是否在有效期内、压力正常", problem=NO, category="04001", days=3),
            item("exit_clear", "疏散通道、安全出口是否畅通", problem=NO, category="04001", days=1),
            item("ebike_indoor", "是否有电动车进店停放、充电", problem=YES, category="04002", days=1),
            item(
                "wiring",
                "电气线路是否规范（无私拉乱接、老化破损）",
                problem=NO,
                category="04001",
                days=7,
            ),
            item(
                "gas_cylinder",
                "燃气钢瓶使用是否规范（无超量存放，连接软管、减压阀完好）",
                problem=NO,
                category="04003",
                days=3,
            ),
            item(
                "three_in_one",
                "是否存在“三合一”场所（住宿与经营、仓储合用）",
                problem=YES,
                category="04001",
                days=7,
            ),
            item("photo", "现场照片", "photo", required=False),
            item("note", "其他情况说明", "text", required=False),
        ],
    ),
    (
        "fire-hazard-home",
        "消防安全隐患排查（居民户）",
        "work_safety",
        "household",
        "入户消防安全宣传与检查：电动车入户充电、楼道堵塞、电气线路、燃气使用。",
        [
            item("extinguishers", "家庭灭火器数量（具）", "number", required=False, hint="提倡家庭配备灭火器"),
            item("ebike_indoor", "是否有电动车入户（进楼道）充电", problem=YES, category="04002", days=1),
            item("exit_clear", "楼道、疏散通道是否畅通（无堆放杂物）", problem=NO, category="04001", days=3),
            item("wiring", "家中电气线路是否规范（无私拉乱接、老化破损）", problem=NO, category="04001", days=7),
            item(
                "gas_cylinder",
                "燃气（液化气钢瓶）使用是否规范",
                problem=NO,
                category="04003",
                days=3,
                hint="软管老化、无熄火保护、钢瓶放在卧室等为不规范",
            ),
            item(
                "three_in_one",
                "是否存在“三合一”场所（住宿与生产、经营、仓储合用）",
                problem=YES,
                category="04001",
                days=7,
            ),
            item("publicity", "是否已开展消防安全宣传", problem=None),
            item("note", "其他情况说明", "text", required=False),
        ],
    ),
    (
        "self-built-house",
        "自建房安全专项排查",
        "work_safety",
        "building",
        "按全国自建房安全专项整治要求逐户排查：用途、层数、结构改动、裂缝、审批手续、居住人数，初判安全隐患。",
        [
            item("for_business", "是否用作经营", hint="餐饮、民宿、学校培训、医疗、商超、生产加工等"),
            item(
                "floors",
                "房屋层数",
                "number",
                above=3,
                category="04004",
                days=30,
                hint="3层以上且无审批手续的为隐患",
            ),
            item(
                "structure_changed",
                "是否改变主体结构（拆改承重墙、加层、扩建）",
                problem=YES,
                category="04004",
                days=30,
            ),
            item("cracks", "是否有明显裂缝、倾斜、沉降", problem=YES, category="04004", days=7),
            item(
                "approved",
                "规划、用地、建设等审批手续是否齐全",
                problem=NO,
                category="04004",
                days=30,
            ),
            item("occupants", "居住、使用人数", "number"),
            item(
                "grade",
                "安全隐患初判等级",
                "choice",
                choices=GRADES,
                problem=["C", "D"],
                category="04004",
                days=7,
                hint="A 安全；B 基本安全；C 局部危险；D 整体危险",
            ),
            item("photo", "房屋照片", "photo"),
            item("note", "其他情况说明", "text", required=False),
        ],
    ),
    (
        "epidemic-check",
        "疫情防控排查",
        "epidemic",
        "household",
        "入户摸排家庭成员在家、发热、疫苗接种、重点地区来返和居家隔离需求情况。",
        [
            item("members_present", "在家人数", "number"),
            item("fever", "是否有人发热（体温≥37.3℃）", problem=YES, category="07001", days=1),
            item("temperature", "最高体温（℃）", "number", required=False),
            item(
                "vaccination",
                "家庭成员疫苗接种情况",
                "choice",
                choices=["均已全程接种", "部分成员未完成接种", "均未接种", "有禁忌症不宜接种"],
            ),
            item("risk_travel", "是否有人14天内从中高风险地区来返", problem=YES, category="07002", days=1),
            item("isolation_needs", "居家隔离是否需要生活物资、就医等帮助", problem=YES, category="07003", days=1),
            item("note", "其他情况说明", "text", required=False),
        ],
    ),
    (
        "anti-fraud",
        "防范电信诈骗宣传",
        "safety",
        "household",
        "入户开展防范电信网络诈骗宣传，指导安装国家反诈中心APP，重点提醒老年人。",
        [
            item("publicity", "是否已入户宣传"),
            item("app_installed", "是否已安装“国家反诈中心”APP"),
            item("elderly_briefed", "家中老年人是否已单独提醒", required=False, hint="家中无老年人可不填"),
            item("suspicious_calls", "近期是否接到可疑电话、短信", problem=YES, category="03003", days=1),
            item("suspicious_detail", "可疑来电、短信情况", "text", required=False, hint="号码、内容、是否转账"),
            item("leaflet", "是否发放宣传资料"),
        ],
    ),
    (
        "living-alone-check",
        "独居老人走访",
        "livelihood",
        "household",
        "定期走访独居老人：见面了解身体、生活情况和居家安全，确认紧急联系人，登记服务需求。",
        [
            item("seen", "是否见到本人", problem=NO, category="09002", days=1, hint="未见到本人请立即联系家属"),
            item(
                "health",
                "身体状况",
                "choice",
                choices=["良好", "一般", "较差", "卧床"],
                problem=["较差", "卧床"],
                category="09002",
                days=3,
            ),
            item("needs_care", "日常生活是否需要照料", problem=YES, category="09002", days=7),
            item("gas_safe", "燃气使用是否安全", problem=NO, category="04003", days=3),
            item("power_safe", "家中用电是否安全（线路、插座、电器完好）", problem=NO, category="09003", days=7),
            item("emergency_contact", "是否有紧急联系人且联系方式有效"),
            item("needs_service", "是否需要代办、代购、代送等上门服务", problem=YES, category="09001", days=3),
            item("service_detail", "服务需求说明", "text", required=False),
        ],
    ),
]


def install_checklists(apps: Any = None) -> int:
    """Install the default checklists: templates updated by code, items written on first install only.

    Returns the number of rows created. Call `gridgov.cases.defaults.install` first: items point at
    its categories (an item whose category is missing is installed without one and logged).
    """
    if apps is None:
        from gridgov.cases.models import BusinessLine, Category
        from gridgov.fieldwork.models import ChecklistItem, ChecklistTemplate
    else:
        BusinessLine = apps.get_model("cases", "BusinessLine")
        Category = apps.get_model("cases", "Category")
        ChecklistItem = apps.get_model("fieldwork", "ChecklistItem")
        ChecklistTemplate = apps.get_model("fieldwork", "ChecklistTemplate")
    lines = dict(BusinessLine.objects.values_list("code", "pk"))
    categories = {c.code: c for c in Category.objects.filter(parent__isnull=False)}
    created = 0
    for code, name, line, kind, description, items in CHECKLISTS:
        template, made = ChecklistTemplate.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "business_line_id": lines.get(line),
                "target_kind": kind,
                "description": description,
            },
        )
        created += made
        if not made:
            continue
        rows = []
        for order, spec in enumerate(items, start=1):
            fields = dict(spec)
            category_code = fields.pop("category")
            category = categories.get(category_code) if category_code else None
            if category_code and category is None:
                logger.warning("checklist %s item %s: no minor category %s", code, fields["code"], category_code)
            rows.append(ChecklistItem(template=template, order=order * 10, category=category, **fields))
        ChecklistItem.objects.bulk_create(rows)
        created += len(rows)
    return created
