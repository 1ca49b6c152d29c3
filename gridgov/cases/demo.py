"""The case part of `gridgov demo`: a year of 毕家岗街道's cases, ending today.

About 3,000 cases of every business line, reported mostly by grid workers on their rounds
(also by residents, the 12345 hotline, the 雪亮工程 cameras, superior departments, the 红色议事会
and a few through Open311), most of them closed in the grid: 矛盾纠纷不出网，复杂问题不出社区，
疑难杂症不出街道. Among them the article's 道路下沉 beside the park of 新建社区A区.

Each case is simulated step by step with the rules of the services — the same deadline helpers
(`_start_clock`, `accept_minutes`, `handle_minutes`, `deadline_factor`, `_escalate`), the same
changes per action as `services._STEPS`, and what the minute-by-minute deadline sweep would have
done meanwhile (warnings, overdue entries, automatic escalation of unaccepted cases). The rows are
then bulk-inserted: going through `case_transition` some 20,000 times would make `make demo` slow.
tests/cases/test_demo_cases.py replays demo cases through the real services and compares.
"""

from __future__ import annotations

import io
import random
from bisect import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import accumulate
from typing import TYPE_CHECKING, Any

import shapely
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from shapely.geometry import shape

from gridgov.accounts.models import User
from gridgov.areas.choices import Mode, Role, UnitKind
from gridgov.areas.models import Area, Post, Unit
from gridgov.cases import defaults
from gridgov.cases.choices import (
    NEXT_LEVEL,
    OPEN_STATES,
    TIMED_STATES,
    Action,
    CaseKind,
    CaseLevel,
    Priority,
    Source,
    State,
)
from gridgov.cases.models import BusinessLine, Case, CaseCoUnit, CaseEvent, CaseSequence, Category
from gridgov.cases.schema import clean_extra
from gridgov.cases.services import (
    TRACKING_ALPHABET,
    _escalate,
    _start_clock,
    _stop_clock,
    accept_minutes,
    deadline_factor,
    handle_minutes,
)
from gridgov.core import audit
from gridgov.registry.choices import BuildingUse, LivingStatus, PlaceKind
from gridgov.registry.models import Building, Place, Resident, Shop

if TYPE_CHECKING:
    from gridgov.demo.builder import DemoSummary

CASES = 3000
DAYS = 365
BATCH = 1000
LEVELS = (CaseLevel.GRID, CaseLevel.COMMUNITY, CaseLevel.SUBDISTRICT, CaseLevel.SUPERIOR)
RANK = {level: n for n, level in enumerate(LEVELS)}
FINAL_STATES = frozenset({State.CLOSED, State.REJECTED, State.MERGED})

# --- what the cases say ----------------------------------------------------------------------

# Monthly weights, January first.
FLAT = (1,) * 12
SUMMER = (0.7, 0.7, 0.8, 0.9, 1.1, 1.3, 1.4, 1.4, 1.2, 1.0, 0.8, 0.7)
RAINY = (0.3, 0.4, 0.6, 0.8, 1.0, 2.2, 2.6, 1.8, 0.9, 0.5, 0.4, 0.3)  # 淮河 plum rains, June–July
WINTER = (1.8, 1.5, 1.0, 0.7, 0.5, 0.4, 0.4, 0.4, 0.6, 0.9, 1.3, 1.7)
NEW_YEAR = (2.0, 1.6, 0.8, 0.7, 0.7, 0.7, 0.8, 0.8, 0.8, 0.9, 1.0, 1.8)  # wages and families before 春节
SPRING = (0.3, 0.8, 2.0, 2.2, 1.6, 1.0, 0.7, 0.6, 0.8, 0.7, 0.4, 0.3)
CAMPAIGN = (0.8, 0.7, 1.2, 1.3, 1.2, 1.0, 0.9, 0.9, 1.2, 1.3, 1.0, 0.8)  # 文明创建 inspections
PETITION = (0.9, 0.8, 1.4, 1.0, 0.9, 0.9, 0.9, 0.9, 1.1, 1.3, 1.0, 0.9)

SOURCE_WEIGHTS = {
    Source.GRID_WORKER: 60.0,
    Source.RESIDENT: 15.0,
    Source.HOTLINE: 10.0,
    Source.CAMERA: 0.0,
    Source.SUPERIOR: 0.5,
    Source.COUNCIL: 0.0,
    Source.OPEN311: 1.2,
}


def _hourly(weights: str) -> tuple[float, ...]:
    """24 weights, midnight first, from one line of numbers."""
    values = tuple(float(w) for w in weights.split())
    assert len(values) == 24
    return values


# When each source reports, by local hour.
WORK_HOURS = _hourly("0 0 0 0 0 0 0 0.3 3 4 4 3 0.8 0.8 3 4 4 3 0.8 0.2 0 0 0 0")
EVENINGS = _hourly("0.1 0 0 0 0 0.1 0.5 1.5 2.5 3 3 2.5 2 2 2.5 2.5 2.5 2.5 3 3.5 3.5 2.5 1 0.3")
HOUR_WEIGHTS = {
    Source.GRID_WORKER: WORK_HOURS,
    Source.RESIDENT: EVENINGS,
    Source.HOTLINE: _hourly("0.3 0.2 0.1 0.1 0.1 0.2 0.5 1.5 3 3.5 3.5 3 2 2 3 3 3 2.5 2 2 1.5 1 0.6 0.4"),
    Source.CAMERA: _hourly("1.5 1.2 1 1 1 1 1.2 1.5 2 2 2 2 2 2 2 2 2 2 2.5 2.5 2.5 2 2 1.8"),
    Source.SUPERIOR: _hourly("0 0 0 0 0 0 0 0 2 4 4 2 0 0 2 4 4 2 0 0 0 0 0 0"),
    Source.COUNCIL: _hourly("0 0 0 0 0 0 0 0 1 4 4 2 0 0 2 4 3 1 0 0 0 0 0 0"),
    Source.OPEN311: EVENINGS,
}
WEEKEND = {Source.GRID_WORKER: 0.45, Source.SUPERIOR: 0.03, Source.COUNCIL: 0.05, Source.RESIDENT: 1.2}
SUPERIORS = {
    "city": "谢家集区城市管理局",
    "safety": "谢家集区公安分局",
    "work_safety": "谢家集区住房和城乡建设局",
    "epidemic": "谢家集区疾病预防控制中心",
    "petition": "谢家集区信访局",
    "dispute": "谢家集区人力资源和社会保障局",
    "civility": "谢家集区文明办",
    "livelihood": "谢家集区民政局",
}


@dataclass(frozen=True)
class Pattern:
    """How cases of one category read and run: share, season, stories, words, and how far up they go.

    A story is (anchor kinds, title, description[, result]): what a case is about, where (the kinds of
    thing in the grid it may be about: home, self_built, commercial, shop, road, fire_lane, park,
    gate, site) and, when only one outcome fits it, how it ended.
    """

    weight: float
    season: Sequence[float]
    stories: tuple[tuple[str, ...], ...]
    on_site: tuple[str, ...] = ()  # how a grid closes it itself
    results: tuple[str, ...] = ()  # how a unit or a higher level closes it
    measures: tuple[str, ...] = ()
    escalate: tuple[float, float, float] = (0.1, 0.1, 0.0)  # grid → community → subdistrict → superior
    reasons: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] = ((), (), ())
    sources: dict[str, float] = field(default_factory=dict)
    priority: tuple[float, float, float] = (0.88, 0.11, 0.01)
    on_site_share: float = 0.6  # of cases a grid closes itself: handled on the spot rather than claimed
    co_units: tuple[str, ...] = ()  # unit keys that may join a dispatch (联合处置)
    needs_property: bool = False  # only where a property company serves the community


VISIBLE = {Source.CAMERA: 6.0}
COUNCIL = {Source.COUNCIL: 8.0}

PATTERNS: dict[str, Pattern] = {
    "01001": Pattern(
        10,
        SUMMER,
        stories=(
            ("home shop", "{a}附近暴露垃圾未及时清运", "{a}附近堆放生活垃圾约{n}袋，气味较大，影响周边环境卫生。"),
            ("home park", "{a}垃圾桶满溢", "{a}旁垃圾桶已满溢，垃圾散落地面，天热易滋生蚊蝇。"),
            ("road park", "{a}沿线散落垃圾", "{a}沿线散落生活垃圾和包装袋，无人清扫。"),
        ),
        on_site=(
            "已联系保洁员现场清运，周边地面已清扫干净。",
            "网格员协同保洁员清理垃圾，并提醒周边居民定时定点投放。",
        ),
        results=("物业已安排保洁人员清运垃圾并冲洗地面。", "已清运完毕，并增加该点位每日清运频次。"),
        measures=("立即清运暴露垃圾，增加该点位每日清运频次。",),
        escalate=(0.03, 0.1, 0),
        reasons=(("垃圾量较大，需协调环卫车辆清运。",), ("涉及多个小区垃圾清运，需街道协调环卫作业单位。",), ()),
        sources={**VISIBLE, **COUNCIL},
        on_site_share=0.85,
    ),
    "01002": Pattern(
        8,
        FLAT,
        stories=(
            ("home", "{a}楼道内堆放杂物", "{a}楼道内堆放纸箱、旧家具等杂物，占用公共通道，存在消防隐患。"),
            ("home commercial", "{a}门前乱堆建筑垃圾", "{a}门前堆放装修产生的建筑垃圾，影响居民通行。"),
            ("home", "{a}单元口堆放废旧家具", "{a}单元口堆放废旧沙发、床垫，已有{n}天无人处理。"),
        ),
        on_site=("已劝导住户自行清理，通道恢复畅通。", "网格员联系当事住户，堆放物已清运。"),
        results=("物业已组织人员清理堆放物，并张贴禁止堆放提示。", "已督促当事人清运，现场已清理干净。"),
        measures=("限期清理堆放物，建立楼道日常巡查制度。",),
        escalate=(0.05, 0.1, 0),
        sources=VISIBLE,
        on_site_share=0.8,
    ),
    "01003": Pattern(
        4,
        SUMMER,
        stories=(
            ("shop", "{a}门前占道经营", "{a}门前摆放货架和桌椅，占用人行道经营，行人只能绕行机动车道。"),
            ("road site", "{a}流动摊贩占道摆摊", "{a}有流动摊贩占道摆摊，傍晚时段较为集中，影响交通。"),
            ("road", "{a}夜市摊点占用人行道", "{a}夜市烧烤摊点占用人行道，油烟和噪音扰民。"),
        ),
        on_site=("已劝导商户将货物收回店内经营。", "经劝导，摊贩已自行撤离。"),
        results=("综合执法中队已现场劝离占道摊贩，并对商户进行教育。", "商户已退店经营，该点位纳入日常巡查。"),
        measures=("责令商户立即退店经营，加强该路段巡查。",),
        escalate=(0.3, 0.2, 0),
        reasons=(("商户多次劝导拒不整改，需执法部门介入。",), ("占道问题反复出现，需街道综合执法中队集中整治。",), ()),
        sources=VISIBLE,
        on_site_share=0.7,
        co_units=("police",),
    ),
    "01004": Pattern(
        5,
        FLAT,
        stories=(
            ("home", "{a}单元门口张贴小广告", "{a}单元门口及楼道墙面张贴开锁、办证等小广告十余处，影响小区环境。"),
            ("road", "{a}电线杆张贴办证小广告", "{a}沿线电线杆上张贴办证、贷款小广告{n}处。"),
            ("home commercial", "{a}墙面喷涂小广告", "{a}外墙被喷涂联系电话{n}处。"),
        ),
        on_site=("已组织志愿者清除小广告，墙面已清理干净。", "网格员现场铲除小广告，并登记广告电话。"),
        results=("物业已清除小广告并对墙面进行粉刷。",),
        measures=("清除小广告，粉刷覆盖喷涂痕迹。",),
        escalate=(0.02, 0.05, 0),
        sources=VISIBLE,
        on_site_share=0.85,
    ),
    "02001": Pattern(
        2.5,
        RAINY,
        stories=(
            ("road", "{a}路面坑洼破损", "{a}路面出现坑洼，面积约{m}平方米，雨天积水，车辆和行人通行不便。"),
            ("road park", "{a}路面局部下沉", "{a}路面局部下沉，深约{d}厘米，边缘出现裂缝。"),
            ("home park", "{a}门前人行道砖松动破损", "{a}门前人行道砖松动翘起{n}处，老人行走容易绊倒。"),
        ),
        on_site=("已联系物业对破损处进行修补，路面恢复平整。",),
        results=("已对破损路面进行修补，路面恢复平整。", "施工人员已对破损路面开挖回填并重新铺设。"),
        measures=("设置安全警示，对破损路面进行修补，修复后报告。",),
        escalate=(0.55, 0.35, 0),
        reasons=(("路面破损面积较大，需专业施工修复。",), ("涉及道路结构修复，需街道协调施工单位。",), ()),
        sources={**VISIBLE, **COUNCIL},
        priority=(0.7, 0.27, 0.03),
        on_site_share=0.5,
    ),
    "02002": Pattern(
        1.5,
        RAINY,
        stories=(
            ("road", "{a}井盖破损", "{a}一处井盖破损下陷，存在行人踩空、车辆颠簸等安全隐患。"),
            ("road home", "{a}旁雨水井盖缺失", "{a}旁雨水井盖缺失，井口仅用树枝遮挡。"),
            ("road", "{a}窨井盖松动异响", "{a}窨井盖松动，车辆经过时发出巨大声响，影响居民休息。"),
        ),
        on_site=("已联系物业更换井盖，并对井口周边进行加固。",),
        results=("已更换新井盖，并对井口周边进行加固。",),
        measures=("立即设置警示标志，24小时内更换破损井盖。",),
        escalate=(0.6, 0.3, 0),
        reasons=(("需专业人员更换井盖。",), ("井盖产权单位不明，需街道协调。",), ()),
        sources=VISIBLE,
        priority=(0.6, 0.3, 0.1),
        on_site_share=0.5,
    ),
    "02003": Pattern(
        3,
        WINTER,
        stories=(
            ("road park", "{a}路灯不亮", "{a}有{n}盏路灯夜间不亮，居民夜间出行存在安全隐患。"),
            ("road", "{a}路灯杆倾斜", "{a}一根路灯杆被车辆撞歪，有倾倒风险。", "已扶正加固路灯杆，并恢复照明。"),
            (
                "home",
                "{a}周边背街小巷无照明",
                "{a}周边背街小巷没有路灯，夜间漆黑，老人出行不便。",
                "已在背街小巷加装路灯，夜间照明恢复。",
            ),
        ),
        on_site=("已联系物业电工更换灯泡，路灯恢复照明。",),
        results=("已更换损坏灯具，路灯恢复照明。", "已修复供电线路，路灯恢复正常。"),
        measures=("排查线路故障，更换损坏灯具。",),
        escalate=(0.65, 0.3, 0),
        reasons=(("需专业电工及设备维修。",), ("路灯属市政设施，需街道城管办协调维修。",), ()),
        sources=COUNCIL,
        on_site_share=0.4,
    ),
    "02004": Pattern(
        2,
        RAINY,
        stories=(
            ("road home", "{a}雨后积水严重", "连续降雨后{a}积水深约{d}厘米，居民出行困难，部分积水已漫至单元门口。"),
            ("road site", "{a}排水不畅路面积水", "{a}雨水篦子被落叶和泥沙堵塞，路面积水长时间不退。"),
            ("home", "{a}污水井堵塞返水", "{a}旁污水井堵塞，污水漫溢至路面，气味刺鼻。", "已疏通污水管道并冲洗路面。"),
        ),
        on_site=("已清理雨水篦子杂物，积水已排出。",),
        results=("已疏通排水管道，积水已排除。", "已组织抽水并清理雨水篦子，路面积水已消退。"),
        measures=("疏通排水管网，清理雨水篦子，必要时调派抽水设备。",),
        escalate=(0.5, 0.4, 0.12),
        reasons=(
            ("积水范围大，需调派抽水设备。",),
            ("排水管网堵塞，需街道协调疏通。",),
            ("排水管网属市政管网，需区城管局排水部门处理。",),
        ),
        sources={**VISIBLE, **COUNCIL},
        priority=(0.7, 0.27, 0.03),
        on_site_share=0.5,
    ),
    "03001": Pattern(
        1.2,
        FLAT,
        stories=(
            ("home site", "{a}附近有可疑人员徘徊", "{a}附近连续几天有陌生人员徘徊，观察楼栋出入情况，居民感到不安。"),
            (
                "road gate",
                "{a}可疑车辆长期停放",
                "{a}一辆无牌面包车停放{n}天以上，无人挪动。",
                "经派出所核查，车辆已由车主挪走。",
            ),
            (
                "home",
                "{a}有陌生人挨户推销",
                "{a}有陌生人以推销保健品为名挨户敲门。",
                "已核查推销人员身份，对其进行教育并劝离。",
            ),
        ),
        on_site=("网格员核实为外来务工人员，已登记并告知。",),
        results=("民警已到场核查，系外来务工人员，已登记并告知。",),
        measures=("派出所民警到场核查身份，加强该区域巡逻。",),
        escalate=(0.5, 0.3, 0),
        reasons=(("需公安机关核查身份。",), ("需派出所介入调查。",), ()),
        sources={Source.CAMERA: 15.0, Source.HOTLINE: 8.0},
        priority=(0.75, 0.22, 0.03),
        on_site_share=0.6,
    ),
    "03002": Pattern(
        2,
        FLAT,
        stories=(
            ("home", "{a}单元门禁损坏", "{a}单元门禁损坏已有{n}天，外来人员可随意进出。", "已修复单元门禁系统。"),
            (
                "gate park",
                "{a}监控探头故障",
                "{a}监控探头画面中断，夜间无法查看。",
                "监控探头已维修恢复，接入街道综治中心。",
            ),
            (
                "home",
                "{a}后侧围墙破损",
                "{a}后侧围墙破损形成缺口，外来人员可随意进出。",
                "已封堵围墙缺口，并加强夜间巡逻。",
            ),
        ),
        measures=("修复防范设施，加强夜间巡逻。",),
        escalate=(0.3, 0.2, 0),
        reasons=(("需派出所指导加强技防措施。",), ("需街道统筹雪亮工程点位维修。",), ()),
        sources=VISIBLE,
        on_site_share=0.5,
        co_units=("property",),
    ),
    "03003": Pattern(
        1.2,
        FLAT,
        stories=(
            (
                "home",
                "{a}居民接到冒充公检法诈骗电话",
                "{a}一名{age}岁居民称接到自称公安局的电话，要求其将存款转入“安全账户”，尚未转账。",
            ),
            ("home", "{a}老人疑似遭遇养老诈骗", "{a}一名{age}岁老人被推销“养老项目”，已交定金，家属担心被骗。"),
            ("home", "{a}居民收到刷单返利诈骗信息", "{a}居民反映被拉入刷单返利群，对方诱导其先行垫付。"),
        ),
        on_site=("网格员上门劝阻并宣传反诈知识，居民未转账。",),
        results=("民警已上门核实并开展反诈宣传，居民未造成损失。", "线索已移交派出所，相关号码已上报封停。"),
        measures=("派出所上门核查，开展防范宣传，封堵涉诈号码。",),
        escalate=(0.8, 0.7, 0),
        reasons=(("涉嫌电信诈骗，需公安机关核查。",), ("需派出所立案核查。",), ()),
        sources={Source.SUPERIOR: 6.0, Source.HOTLINE: 8.0},
        priority=(0.6, 0.35, 0.05),
        co_units=("committee",),
    ),
    "04001": Pattern(
        6,
        FLAT,
        stories=(
            ("fire_lane", "{a}被私家车占用", "{a}长期停放车辆{n}辆，消防车无法通行。"),
            ("fire_lane", "{a}堆放杂物", "{a}堆放废旧家具和建材，通道宽度不足三米。"),
            ("home", "{a}旁消防通道被地锁封堵", "{a}旁消防通道被住户安装地锁封堵。", "已拆除地锁，消防通道恢复畅通。"),
        ),
        on_site=("已联系车主挪车并清理杂物，通道恢复畅通。", "已清理通道，并设置禁停标识。"),
        results=("物业已清理占用车辆和杂物，并施划禁停标线。",),
        measures=("清理占用车辆和杂物，施划消防通道标线，设置禁停标识。",),
        escalate=(0.05, 0.1, 0),
        sources=VISIBLE,
        priority=(0.75, 0.23, 0.02),
        on_site_share=0.8,
    ),
    "04002": Pattern(
        6,
        FLAT,
        stories=(
            ("home", "{a}楼道内电动车飞线充电", "{a}{fl}楼楼道内停放电动车并从住户家中私拉电线充电，存在火灾隐患。"),
            ("home", "{a}单元门厅停放电动车充电", "{a}单元门厅停放电动车{n}辆，夜间充电。"),
            ("shop commercial", "{a}门前私拉电线给电动车充电", "{a}门前从店内私拉电线给电动车充电，电线横穿人行道。"),
        ),
        on_site=("已劝导当事人将电动车移至集中充电点充电，私拉电线已拆除。",),
        results=("物业已拆除飞线，并在小区新增集中充电桩。",),
        measures=("拆除飞线，引导至集中充电区充电，开展消防安全宣传。",),
        escalate=(0.05, 0.1, 0),
        priority=(0.8, 0.19, 0.01),
        on_site_share=0.85,
    ),
    "04003": Pattern(
        2.5,
        WINTER,
        stories=(
            (
                "shop",
                "{a}液化气钢瓶存放不规范",
                "{a}后厨液化气钢瓶与灶具距离过近，软管老化开裂。",
                "已督促商户规范存放钢瓶，更换软管并加装燃气报警器。",
            ),
            (
                "home",
                "{a}居民燃气软管老化",
                "{a}一户居民燃气软管使用超过{n}年，已老化发硬。",
                "已督促住户更换合格燃气软管。",
            ),
            ("home", "{a}楼道有燃气异味", "{a}楼道内闻到明显燃气异味。", "燃气公司已上门检修，排除泄漏隐患。"),
        ),
        measures=("立即停用隐患设施，更换合格软管，加装燃气泄漏报警装置。",),
        escalate=(0.5, 0.3, 0),
        reasons=(("需燃气专业人员检测。",), ("涉及燃气安全专项整治，需街道统筹。",), ()),
        priority=(0.6, 0.3, 0.1),
        on_site_share=0.5,
    ),
    "04004": Pattern(
        1.5,
        RAINY,
        stories=(
            (
                "self_built",
                "{a}自建房墙体开裂",
                "{a}为{y}年建{f}层自建房，外墙出现多处裂缝，最宽处约{n}毫米，部分房间出租。",
            ),
            ("self_built", "{a}自建房加层存在安全隐患", "{a}{f}层自建房擅自加层，承重墙有裂缝，住有{n}户租户。"),
            ("self_built", "{a}自建房屋面渗漏梁体锈蚀", "{a}自建房屋面长期渗漏，梁体钢筋外露锈蚀。"),
        ),
        on_site=("已张贴安全提示，督促房主委托鉴定并限期整改。",),
        results=("已委托第三方机构完成房屋安全鉴定，督促产权人加固。", "已组织住户临时搬离，房屋完成加固处理。"),
        measures=("开展房屋安全鉴定，限期加固整治，必要时停止使用。",),
        escalate=(0.9, 0.9, 0.3),
        reasons=(
            ("需专业机构进行房屋安全鉴定。",),
            ("属自建房安全专项整治范围，需街道统筹。",),
            ("经初判存在较大安全隐患，需区住建局组织安全鉴定。",),
        ),
        sources={Source.SUPERIOR: 10.0, Source.HOTLINE: 2.0},
        priority=(0.7, 0.25, 0.05),
        on_site_share=0.3,
    ),
    "05001": Pattern(
        6,
        FLAT,
        stories=(
            ("home", "{a}邻里因装修噪音发生纠纷", "{a}两户居民因装修噪音多次发生争吵，情绪较为激动。"),
            ("home", "{a}楼上漏水引发邻里矛盾", "{a}楼上住户卫生间漏水，楼下天花板受损，双方就赔偿问题争执不下。"),
            ("home", "{a}因宠物扰民引发纠纷", "{a}居民饲养的狗夜间吠叫，邻居多次交涉未果。"),
            ("home", "{a}因占用楼道发生争执", "{a}住户在楼道摆放鞋柜，与对门邻居发生争执。"),
        ),
        on_site=("网格员联合邻里帮帮团现场调解，双方达成谅解。", "经网格长调解，双方握手言和。"),
        results=("社区人民调解委员会组织调解，双方达成一致。", "经邻里帮帮团调解，双方签订调解协议。"),
        measures=("组织双方调解，明确责任及整改时限。",),
        escalate=(0.08, 0.15, 0),
        reasons=(("双方分歧较大，需社区调解委员会介入。",), ("涉及赔偿金额较大，需街道矛调中心调处。",), ()),
        on_site_share=0.35,
    ),
    "05002": Pattern(
        1.5,
        NEW_YEAR,
        stories=(
            ("home", "{a}家庭赡养纠纷", "{a}一名{age}岁老人反映子女不履行赡养义务，生活困难。"),
            ("home", "{a}夫妻因琐事发生争吵", "{a}一对夫妻因家庭琐事多次争吵，邻居担心发生冲突。"),
            ("home", "{a}兄弟姐妹因老人赡养产生矛盾", "{a}兄妹{n}人因老人赡养费分摊问题产生矛盾。"),
        ),
        on_site=("网格员上门劝解，双方情绪平复。",),
        results=("经调解，家庭成员签订赡养协议。", "经调解，双方情绪平复，承诺不再发生冲突。"),
        measures=("组织家庭成员调解，签订书面协议。",),
        escalate=(0.25, 0.3, 0),
        reasons=(("家庭矛盾较深，需社区调解。",), ("需司法所专业调解。",), ()),
        on_site_share=0.3,
    ),
    "05003": Pattern(
        2.5,
        FLAT,
        stories=(
            ("home", "{a}业主与物业因停车收费发生纠纷", "{a}业主认为物业新定的停车收费标准不合理，与物业多次争执。"),
            (
                "home",
                "{a}居民对物业服务不满拒缴物业费",
                "{a}居民反映物业保洁不到位，拒缴物业费，物业上门催缴发生争吵。",
            ),
            ("home", "{a}业主与物业因维修责任产生争议", "{a}顶层住户屋顶漏水，业主与物业就维修责任和费用产生争议。"),
        ),
        on_site=("网格员组织双方沟通，达成初步共识。",),
        results=("社区组织红色议事会协商，业主与物业达成一致。", "物业已落实整改，业主表示认可。"),
        measures=("物业限期落实整改，社区跟踪协调。",),
        escalate=(0.35, 0.2, 0),
        reasons=(("需社区红色议事会协商。",), ("涉及物业企业履约问题，需街道协调。",), ()),
        sources={Source.COUNCIL: 10.0},
        on_site_share=0.3,
        co_units=("judicial",),
        needs_property=True,
    ),
    "05004": Pattern(
        0.8,
        NEW_YEAR,
        stories=(
            ("shop", "{a}员工讨要拖欠工资", "{a}{n}名员工反映被拖欠工资两个多月，情绪激动。"),
            ("home", "{a}装修工人讨薪", "{a}装修工人称完工后工钱迟迟未结清，多次上门讨要。"),
        ),
        on_site=("网格员协调双方，雇主同意近期支付。",),
        results=("经调解，雇主已支付拖欠工资。", "双方达成分期支付协议，已支付首期款项。"),
        measures=("组织劳资双方调解，限期支付拖欠工资。",),
        escalate=(0.8, 0.8, 0.15),
        reasons=(
            ("涉及金额较大，需社区调解。",),
            ("需司法所和劳动保障部门联合调处。",),
            ("涉及劳动仲裁，需区人社局劳动监察大队处理。",),
        ),
        sources={Source.SUPERIOR: 4.0, Source.HOTLINE: 12.0},
        on_site_share=0.3,
        co_units=("social",),
    ),
    "05005": Pattern(
        0.6,
        FLAT,
        stories=(
            ("self_built", "{a}宅基地边界纠纷", "{a}两户因院墙边界多次发生争执。"),
            ("home", "{a}房屋继承纠纷", "{a}兄妹{n}人因老房继承问题产生矛盾。"),
            ("self_built", "{a}加盖房屋遮挡采光引发纠纷", "{a}一户加盖房屋遮挡邻居采光，双方多次争吵。"),
        ),
        on_site=("网格员上门劝解，双方同意协商解决。",),
        results=("经人民法庭巡回调解，双方达成调解协议。", "经街道矛调中心多次调解，双方达成一致。"),
        measures=("组织双方调解，必要时引导通过诉讼解决。",),
        escalate=(0.85, 0.85, 0.25),
        reasons=(
            ("纠纷复杂，需社区调解。",),
            ("需街道矛调中心联合人民法庭调处。",),
            ("需通过诉讼途径解决，已引导当事人起诉。",),
        ),
        sources={Source.HOTLINE: 5.0},
        on_site_share=0.3,
    ),
    "06001": Pattern(
        1.2,
        PETITION,
        stories=(("home", "{a}居民来访反映{issue}", "{a}居民到街道来访，反映{issue}问题，希望尽快答复。"),),
        on_site=("网格员上门了解情况并做好解释，来访人表示理解。",),
        results=("街道已约见来访人，解释相关政策，来访人表示理解。", "已协调相关部门落实，来访人表示满意。"),
        measures=("落实领导包案，限期答复来访人。",),
        escalate=(0.85, 0.85, 0.15),
        reasons=(
            ("需社区了解情况后上报。",),
            ("涉及政策解释，需街道信访办答复。",),
            ("涉及区级政策，已报送区信访局协调。",),
        ),
        sources={Source.SUPERIOR: 35.0, Source.HOTLINE: 5.0},
        on_site_share=0.2,
    ),
    "06002": Pattern(
        1,
        PETITION,
        stories=(("home", "网上信访：{a}{issue}", "信访人通过网上信访平台反映{a}{issue}问题。"),),
        on_site=("网格员上门了解情况并做好解释，信访人表示理解。",),
        results=("已按期书面答复信访人，信访人表示满意。", "已协调相关部门办理，并书面答复信访人。"),
        measures=("核实情况，限期书面答复。",),
        escalate=(0.85, 0.85, 0.15),
        reasons=(("需社区核实情况。",), ("需街道信访办统一答复。",), ("涉及区级职能，已转区信访局。",)),
        sources={Source.SUPERIOR: 60.0, Source.HOTLINE: 10.0, Source.GRID_WORKER: 20.0},
        on_site_share=0.2,
    ),
    "07001": Pattern(
        0.8,
        WINTER,
        stories=(
            ("home", "{a}居民发热需协助就医", "{a}一名{age}岁居民发热，体温{t}℃，家中无人陪同就医。"),
            ("home", "{a}独居老人发热", "{a}一名{age}岁独居老人发热，体温{t}℃，行动不便。"),
        ),
        on_site=("网格员上门送药并跟踪体温变化。",),
        results=("已协助居民前往社区卫生服务中心就诊。", "已联系家属并协助就医，居民已退热。"),
        measures=("协助就医，做好健康监测。",),
        escalate=(0.3, 0.1, 0),
        reasons=(("需社区卫生服务中心上门。",), ("需街道协调医疗资源。",), ()),
        on_site_share=0.5,
    ),
    "07002": Pattern(
        0.5,
        NEW_YEAR,
        stories=(("home", "{a}有外地返淮人员需登记", "{a}有{n}名外地返淮人员，需登记健康信息。"),),
        on_site=("网格员已上门登记并告知健康监测要求。",),
        results=("已完成信息登记并告知健康监测要求。",),
        measures=("登记返淮人员信息，落实健康监测。",),
        escalate=(0.2, 0.1, 0),
        sources={Source.SUPERIOR: 15.0},
        on_site_share=0.7,
    ),
    "07003": Pattern(
        0.4,
        WINTER,
        stories=(("home", "{a}独居老人需要口罩和药品", "{a}一名{age}岁独居老人行动不便，需要口罩、退烧药等物资。"),),
        on_site=("网格员已将物资送上门。",),
        results=("社区已为居民送去口罩、退烧药等物资。",),
        measures=("为居民配送防疫物资。",),
        escalate=(0.3, 0.05, 0),
        reasons=(("需社区调配物资。",), (), ()),
        on_site_share=0.7,
    ),
    "08001": Pattern(
        5,
        CAMPAIGN,
        stories=(
            (
                "home",
                "{a}高空抛物",
                "{a}有居民从楼上向下抛扔垃圾，险些砸到行人。",
                "已约谈当事住户并开展高空抛物危害宣传，当事人表示改正。",
            ),
            (
                "park road",
                "{a}遛狗不牵绳",
                "{a}有居民遛狗不牵绳，狗粪未及时清理。",
                "已对养犬居民进行劝导，并张贴文明养犬提示。",
            ),
            (
                "home",
                "{a}楼道内吸烟",
                "{a}有住户在楼道内吸烟，烟头随地乱扔。",
                "已对当事人进行劝导教育，当事人表示改正。",
            ),
            (
                "park",
                "{a}广场舞音响扰民",
                "{a}晚间广场舞音响声音过大，影响周边居民休息。",
                "已与广场舞队协商调低音量、缩短时间。",
            ),
        ),
        measures=("开展文明劝导，张贴文明提示。",),
        escalate=(0.05, 0.1, 0),
        sources=VISIBLE,
        on_site_share=0.85,
    ),
    "08002": Pattern(
        5,
        CAMPAIGN,
        stories=(
            ("park road", "{a}卫生死角长期未清理", "{a}角落堆积落叶和垃圾，长期无人清理，蚊蝇较多。"),
            ("park road", "{a}绿化带内垃圾堆积", "{a}绿化带内丢弃塑料袋、饮料瓶等垃圾。"),
            ("home", "{a}屋后卫生死角", "{a}屋后夹道堆积垃圾杂物，长期无人清理。"),
        ),
        on_site=("已组织志愿者开展环境整治，卫生死角已清理。",),
        results=("物业已组织保洁人员彻底清理，并纳入日常保洁范围。",),
        measures=("彻底清理卫生死角，纳入日常保洁范围。",),
        escalate=(0.04, 0.1, 0),
        sources=VISIBLE,
        on_site_share=0.85,
    ),
    "08003": Pattern(
        2,
        SPRING,
        stories=(
            ("park", "{a}绿化带被毁种菜", "{a}绿化带被开垦种菜约{m}平方米，并用竹竿围挡。"),
            ("home", "{a}楼下公共绿地被圈占种菜", "{a}楼下公共绿地被居民圈占种菜，并堆放粪肥。"),
        ),
        on_site=("已劝导居民自行清除菜地，恢复绿化。",),
        results=("已清除菜地并补种绿植。",),
        measures=("清除菜地，补植绿化。",),
        escalate=(0.15, 0.1, 0),
        reasons=(("居民拒不清除，需执法部门介入。",), (), ()),
        sources=VISIBLE,
        on_site_share=0.75,
    ),
    "09001": Pattern(
        8,
        FLAT,
        stories=(
            (
                "home",
                "为{a}独居老人代办高龄津贴",
                "{a}一名{age}岁独居老人行动不便，请网格员上门代办高龄津贴申请。",
                "网格员已上门代办，高龄津贴申请已提交。",
            ),
            (
                "home",
                "为{a}残疾居民代办残疾证年审",
                "{a}一名残疾居民行动不便，需代办残疾证年审。",
                "残疾证年审已代办完成，证件已送还居民。",
            ),
            (
                "home",
                "为{a}居民代缴城乡居民医保",
                "{a}一名{age}岁居民不会使用手机缴费，请网格员代缴医保。",
                "已帮助居民完成医保缴费。",
            ),
            (
                "home",
                "为{a}行动不便老人代购药品",
                "{a}一名{age}岁老人行动不便，需要代购降压药。",
                "已代购药品并送到老人家中。",
            ),
        ),
        escalate=(0.02, 0.1, 0),
        sources={Source.GRID_WORKER: 85.0, Source.RESIDENT: 10.0, Source.HOTLINE: 3.0},
        priority=(0.95, 0.05, 0.0),
        on_site_share=0.6,
    ),
    "09002": Pattern(
        3,
        WINTER,
        stories=(
            ("home", "{a}困难家庭申请临时救助", "{a}一户居民因病致贫，家中{n}口人仅靠一人打零工维持。"),
            ("home", "{a}独居老人生活困难需帮扶", "{a}一名{age}岁独居老人生活困难，需要帮扶。"),
        ),
        on_site=("网格员已上门走访并送去慰问品。",),
        results=("社区已为其申请临时救助，并纳入重点关爱对象。", "已协调爱心企业送去米面油等生活物资。"),
        measures=("核实困难情况，按程序申请临时救助。",),
        escalate=(0.45, 0.2, 0),
        reasons=(("需社区按程序申请救助。",), ("需街道社会事务办审批。",), ()),
        on_site_share=0.3,
    ),
    "09003": Pattern(
        5,
        FLAT,
        stories=(
            ("home", "{a}楼道灯不亮", "{a}{fl}楼楼道灯损坏，夜间漆黑。", "已更换楼道声控灯，照明恢复正常。"),
            ("home", "{a}屋顶漏水", "{a}顶层住户屋顶漏水，雨天严重。", "已对屋面防水层进行修补，漏水问题已解决。"),
            ("home", "{a}下水管道堵塞", "{a}下水管道堵塞，一楼住户返水。", "已疏通下水管道，住户排水恢复正常。"),
            ("home", "{a}单元门损坏", "{a}单元门闭门器损坏，门无法关闭。", "已更换单元门闭门器。"),
        ),
        measures=("安排维修人员上门维修。",),
        escalate=(0.25, 0.05, 0),
        reasons=(("需物业或专业维修人员处理。",), (), ()),
        sources=COUNCIL,
        on_site_share=0.4,
    ),
    "09004": Pattern(
        3,
        FLAT,
        stories=(
            (
                "home",
                "{a}居民咨询城乡居民医保缴费",
                "{a}居民咨询城乡居民医保缴费标准和办理渠道。",
                "已向居民解释医保缴费政策并指导线上缴费。",
            ),
            (
                "home",
                "{a}居民咨询养老保险补缴",
                "{a}居民咨询养老保险补缴条件和流程。",
                "已向居民解释补缴政策并提供办理指引。",
            ),
            (
                "home",
                "{a}居民咨询老旧小区改造政策",
                "{a}居民咨询老旧小区改造范围和时间安排。",
                "已向居民介绍改造计划和进度。",
            ),
        ),
        escalate=(0.2, 0.05, 0),
        reasons=(("需社区专干解答。",), (), ()),
        on_site_share=0.6,
    ),
}
# Problems that come back to the same place: a new case is sometimes linked to the last one (关联事件).
RECURRING = frozenset(
    {"01001", "01002", "01003", "02001", "02002", "02004", "03002", "04001", "04002", "05001", "08003"}
)
PETITION_ISSUES = (
    "老旧小区改造进度",
    "采煤沉陷区搬迁安置",
    "低保资格认定",
    "房屋漏水久拖未修",
    "小区停车难",
    "供暖问题",
)
GENERIC_REASONS = {
    CaseLevel.GRID: ("超出网格处置能力，提请社区协调处置。",),
    CaseLevel.COMMUNITY: ("社区协调难度较大，提请街道综治中心统筹处置。",),
    CaseLevel.SUBDISTRICT: ("超出街道职权范围，提请区级主管部门处理。",),
}
REJECT_REASONS = (
    "经现场核实，反映的问题已不存在。",
    "经核实，该问题不在本辖区，已告知反映人向属地反映。",
    "反映内容与现场情况不符，不予立案。",
)
MERGE_NOTES = ("与同一地点已上报事件重复，合并处理。", "重复反映，并入原事件办理。")
ACCEPT_NOTES = ("", "", "", "已受理。")
DISPATCH_NOTES = ("请按整改时限处置并反馈结果。", "请尽快安排人员到场处置。", "")
CLAIM_NOTES = ("", "已安排人员前往现场。", "已接单，正在处置。")
VERIFY_NOTES = ("", "经现场核查，已整改到位。", "核查属实，同意办结。")
VERIFY_SERVICE_NOTES = ("", "已回访居民，问题已解决。", "核查属实，同意办结。")  # disputes, petitions, services
VERIFY_FAILED = ("经现场核查，问题未彻底解决，请继续整改。", "整改不到位，现场仍有遗留问题，退回重办。")
URGE_NOTES = (
    "该事件已超期，请抓紧办理并及时反馈。",
    "请加快处置进度，今日内反馈办理情况。",
    "群众反映强烈，请优先处置。",
)
RATINGS = {
    5: ("处理及时，非常满意。", "网格员很负责，点赞！", "", ""),
    4: ("基本满意。", "处理得还行，希望以后多巡查。", ""),
    3: ("处理时间有点长。", ""),
    2: ("问题解决得不彻底。",),
    1: ("反复出现，不满意。",),
}
SCORES = (5, 4, 3, 2, 1)
SCORE_WEIGHTS = (68, 22, 6, 3, 1)

# --- the road subsidence beside the park of 新建社区A区 (the article, June 2022) --------------

STORY_TITLE = "新建社区A区游园旁道路下沉"
STORY_DESCRIPTION = (
    "网格长走访排查时发现，新建社区A区靠近游园的道路路面出现下沉，面积约12平方米，"
    "最深处约15厘米，边缘开裂，车辆和行人通行存在安全隐患。"
)


# --- the part ----------------------------------------------------------------------------------


@dataclass
class Counts:
    """What the part wrote, for the progress line and the audit event."""

    cases: int = 0
    open: int = 0
    events: int = 0
    closed_by_level: dict[str, int] = field(default_factory=dict)


def build_cases(summary: DemoSummary) -> str:
    """A year of cases up to today, closed mostly in the grid, with the article's road subsidence."""
    counts = build_cases_demo(summary)
    closed = sum(counts.closed_by_level.values()) or 1
    return _(
        "cases… %(cases)d cases in a year (%(open)d open), %(events)d timeline entries, %(grid)d%% closed in the grid"
    ) % {
        "cases": counts.cases,
        "open": counts.open,
        "events": counts.events,
        "grid": round(100 * counts.closed_by_level.get(CaseLevel.GRID, 0) / closed),
    }


def build_cases_demo(summary: DemoSummary, *, now: datetime | None = None) -> Counts:
    """Build the cases; the areas, units, accounts and registry come first. `now` is the end of the history."""
    now = timezone.localtime(now or timezone.now()).replace(second=0, microsecond=0)
    with transaction.atomic():
        defaults.install()  # `flush` empties the category tree the migration wrote
        # The catalogue predates the year of cases. Whole seconds also keep a stamp's fraction from running
        # into a code (".1892" + "01001") as a phone-number-like run of digits in the database file.
        start = datetime.combine(now.date() - timedelta(days=DAYS), time(8, 0), tzinfo=now.tzinfo)
        for model in (BusinessLine, Category):
            model.objects.update(created_at=start, updated_at=start)
        builder = _Builder(summary, summary.rng("cases"), now)
        counts = builder.build()
        audit.record(
            actor=None,
            event="demo.cases",
            data={
                "cases": counts.cases,
                "open": counts.open,
                "events": counts.events,
                "closed_by_level": counts.closed_by_level,
                "as_of": now.isoformat(),
                "story": builder.story.case.code if builder.story else "",
            },
        )
    return counts


# --- the world the cases happen in ------------------------------------------------------------


@dataclass
class Anchor:
    """A thing a case is about: its name in a title, its address and where it is."""

    title: str
    address: str
    lng: float
    lat: float
    facts: dict[str, Any] = field(default_factory=dict)  # a building's row (floors, year, grade)
    geometry: Any = None  # a place's line or polygon


@dataclass
class GridWorld:
    grid: Area
    community: Area
    prefix: str  # 新建社区A区
    polygon: Any  # the grid shrunk 15 m from its edges (prepared)
    worker: User
    leader: User
    anchors: dict[str, list[Anchor]] = field(default_factory=dict)
    people: list[int] = field(default_factory=list)  # resident ids who may report
    property: Unit | None = None  # the property company serving the community, if any


def ceil_minute(value: datetime) -> datetime:
    """The first whole minute at or after `value`: when the minute-by-minute sweep sees it."""
    floor = value.replace(second=0, microsecond=0)
    return floor if floor == value else floor + timedelta(minutes=1)


# --- one case, step by step ------------------------------------------------------------------


@dataclass
class Intent:
    """How a case will go, drawn when it is reported; the run follows it step by step."""

    target: str  # the level that will close it
    on_site: bool = True  # a grid closing it handles it on the spot rather than claiming it
    dispatch: dict[str, Unit] = field(default_factory=dict)  # level → unit it dispatches to (absent: handles it)
    outcome: str = "normal"  # normal | reject | merge
    merge_into: Run | None = None
    verify_fails: int = 0
    hold: str | None = None  # the case stops in this state (it is still open today)
    late_accept: bool = False
    late_handle: bool = False
    link: Run | None = None  # a related earlier case, linked by the level after accepting
    script: list[tuple[datetime, str, User | None, dict[str, Any]]] | None = None


@dataclass
class Run:
    """A case being simulated: the unsaved `Case`, its timeline and what is left to do."""

    case: Case
    world: GridWorld
    pattern: Pattern | None
    intent: Intent
    reported_at: datetime
    start_level: str
    events: list[CaseEvent] = field(default_factory=list)
    updated_at: datetime | None = None
    co_units: list[Unit] = field(default_factory=list)
    handler: User | None = None  # who handles it in the grid
    fails: int = 0
    linked: bool = False
    link_notes: list[tuple[CaseEvent, Run]] = field(default_factory=list)
    merge_event: CaseEvent | None = None
    files: list[tuple[CaseEvent, str, bytes, User | None]] = field(default_factory=list)
    caller: int | None = None  # the resident who reported or called (their name and phone are read in bulk)
    result: str = ""  # the one ending its story allows, if any
    late_used: set[str] = field(default_factory=set)


class _Builder:
    """Plans the year, simulates every case in report order, then writes them all in bulk."""

    def __init__(self, summary: DemoSummary, rng: random.Random, now: datetime) -> None:
        self.summary = summary
        self.rng = rng
        self.now = now
        self.tz = timezone.get_current_timezone()
        self.first_day = now.date() - timedelta(days=DAYS - 1)
        self.runs: list[Run] = []
        self.tracking: set[str] = set()
        self.story: Run | None = None
        self.emergency = list(Area.objects.filter(mode=Mode.EMERGENCY).values_list("code", flat=True))
        self.day_weights: dict[tuple, tuple[list[date], list[float]]] = {}  # (season, source) → days, cumulative

    # -- the whole part ----------------------------------------------------------------------

    def build(self) -> Counts:
        self._load()
        plans = self._plans()
        plans.sort(key=lambda plan: plan[0])
        by_place: dict[tuple[int, str], list[Run]] = defaultdict(list)
        for when, maker in plans:
            run = maker(when)
            if run is None:
                continue
            key = (run.world.grid.pk, run.case.category.code)
            if run.intent.outcome == "normal" and run.intent.script is None:
                earlier = [r for r in by_place[key][-3:] if r.case.state == State.CLOSED and r.case.closed_at]
                recurring = run.case.category.code in RECURRING
                if recurring and earlier and self.rng.random() < 0.06 and (when - earlier[-1].case.closed_at).days < 90:
                    run.intent.link = earlier[-1]
            self._simulate(run)
            by_place[key].append(run)
            self.runs.append(run)
        self._duplicates()
        self.runs.sort(key=lambda r: r.reported_at)
        return self._write()

    # -- what the earlier parts built -------------------------------------------------------------

    def _load(self) -> None:
        summary = self.summary
        self.categories = {c.code: c for c in Category.objects.select_related("business_line").exclude(parent=None)}
        self.subdistrict = summary.subdistrict
        self.parents: dict[int, Area] = {c.pk: summary.subdistrict for c in summary.communities}
        communities = {c.pk: c for c in summary.communities}
        users = {u.username: u for u in User.objects.all()}
        self.center = users["center"]
        self.leader = users["leader"]
        self.community_staff: dict[int, User] = {}
        grid_staff: dict[int, dict[str, User]] = defaultdict(dict)
        self.unit_handlers: dict[int, list[User]] = defaultdict(list)
        for post in Post.objects.filter(active=True).select_related("user").order_by("user__username"):
            if post.role == Role.COMMUNITY:
                self.community_staff.setdefault(post.area_id, post.user)
            elif post.role in (Role.GRID_WORKER, Role.GRID_LEADER):
                grid_staff[post.area_id].setdefault(post.role, post.user)
            elif post.role == Role.UNIT_HANDLER:
                self.unit_handlers[post.unit_id].append(post.user)
        self.units = dict(summary.units)
        self.worlds: dict[int, GridWorld] = {}
        for grid in summary.grids:
            community = communities[grid.parent_id]
            self.parents[grid.pk] = community
            siblings = [g for g in summary.grids if g.parent_id == community.pk]
            polygon = shape(grid.boundary)
            inner = polygon.buffer(-0.00015)
            inner = inner if not inner.is_empty else polygon
            shapely.prepare(inner)
            self.worlds[grid.pk] = GridWorld(
                grid=grid,
                community=community,
                prefix=f"{community.name}{chr(ord('A') + siblings.index(grid))}区",
                polygon=inner,
                worker=grid_staff[grid.pk][Role.GRID_WORKER],
                leader=grid_staff[grid.pk][Role.GRID_LEADER],
            )
        for world in self.worlds.values():
            world.property = self._unit_of(UnitKind.PROPERTY, world)
        self._anchors()
        self._people()

    def _anchors(self) -> None:
        worlds = self.worlds
        for b in Building.objects.values(
            "grid_id", "name", "address", "use", "floors", "year_built", "safety_grade", "lng", "lat"
        ):
            world = worlds.get(b["grid_id"])
            if world is None or b["lng"] is None:
                continue
            kind = {BuildingUse.SELF_BUILT: "self_built", BuildingUse.COMMERCIAL: "commercial"}.get(b["use"], "home")
            world.anchors.setdefault(kind, []).append(Anchor(b["address"], b["address"], b["lng"], b["lat"], facts=b))
        for s in Shop.objects.values("grid_id", "name", "address", "lng", "lat"):
            world = worlds.get(s["grid_id"])
            if world is None or s["lng"] is None:
                continue
            world.anchors.setdefault("shop", []).append(
                Anchor(f"{world.prefix}{s['name']}", f"{s['address']}（{s['name']}）", s["lng"], s["lat"])
            )
        kinds = {
            PlaceKind.ROAD: "road",
            PlaceKind.FIRE_LANE: "fire_lane",
            PlaceKind.PARK: "park",
            PlaceKind.CAMERA: "gate",
            PlaceKind.KEY_SITE: "site",
        }
        for p in Place.objects.values("grid_id", "kind", "name", "geometry"):
            world = worlds.get(p["grid_id"])
            if world is None:
                continue
            name = p["name"].removeprefix("雪亮工程·")
            if not name.startswith(world.prefix):
                name = world.prefix + name
            geometry = shape(p["geometry"])
            point = (
                geometry.representative_point()
                if geometry.geom_type != "LineString"
                else geometry.interpolate(0.5, normalized=True)
            )
            anchor = Anchor(name, name, point.x, point.y, geometry=geometry)
            world.anchors.setdefault(kinds[p["kind"]], []).append(anchor)

    def _people(self) -> None:
        adult = self.now.date() - timedelta(days=18 * 366)
        rows = Resident.objects.filter(
            phone_hash__isnull=False, living_status=LivingStatus.RESIDENT, birth_date__lte=adult
        ).values_list("id", "grid_id")
        for pk, grid_id in rows.order_by("id"):
            if grid_id in self.worlds:
                self.worlds[grid_id].people.append(pk)

    # -- what happens when ------------------------------------------------------------------------

    def _plans(self) -> list[tuple[datetime, Any]]:
        """(report time, maker) of every case but the duplicates, which follow the cases they repeat."""
        rng = self.rng
        plans: list[tuple[datetime, Any]] = []
        codes = list(PATTERNS)
        weights = [PATTERNS[c].weight for c in codes]
        fresh, waiting = 3, ("03002", "03001")
        for _n in range(CASES - DUPLICATES - fresh - len(waiting) - 1):
            code = rng.choices(codes, weights)[0]
            source = self._source(code)
            when = self._when(PATTERNS[code].season, source)
            plans.append((when, lambda at, code=code, source=source: self._new(code, source, at)))
        # A few cases reported in the last minutes, not yet accepted by their grid.
        fresh_codes = [
            c for c in ("01001", "01002", "01004", "08001", "08002") if self.categories[c].resident_reportable
        ]
        for n in range(fresh):
            when = self.now - timedelta(minutes=rng.randint(3, 40), seconds=rng.randint(0, 59))
            source = (Source.RESIDENT, Source.HOTLINE, Source.CAMERA)[n % 3]
            code = fresh_codes[n % len(fresh_codes)]
            plans.append((when, lambda at, code=code, source=source: self._new(code, source, at, hold=State.REPORTED)))
        # Two found on yesterday's or today's rounds, now with the police station, not yet claimed.
        for code in waiting:
            when = self.now - timedelta(hours=rng.uniform(3, 30))
            when = when.replace(hour=rng.randint(8, 17), microsecond=0) if when.hour < 8 or when.hour > 17 else when
            when = when if when < self.now else when - timedelta(days=1)
            plans.append((when, lambda at, code=code: self._new(code, Source.GRID_WORKER, at, hold=State.DISPATCHED)))
        plans.append((self._story_time(), self._story))
        return plans

    def _source(self, code: str) -> str:
        category = self.categories[code]
        weights = {**SOURCE_WEIGHTS, **PATTERNS[code].sources}
        if not category.resident_reportable:
            weights[Source.RESIDENT] = weights[Source.OPEN311] = 0.0
        sources = list(weights)
        return self.rng.choices(sources, [weights[s] for s in sources])[0]

    def _when(self, season: Sequence[float], source: str) -> datetime:
        """A moment of the past year: the day by season and weekday, the hour by who reports."""
        key = (tuple(season), source)
        cache = self.day_weights
        if key not in cache:
            weekend = WEEKEND.get(source, 1.0)
            days = [self.first_day + timedelta(days=n) for n in range(DAYS)]
            weights = [season[d.month - 1] * (weekend if d.weekday() >= 5 else 1.0) for d in days]
            cache[key] = (days, list(accumulate(weights)))
        days, cumulative = cache[key]
        rng = self.rng
        day = days[bisect(cumulative, rng.random() * cumulative[-1])]
        hour = rng.choices(range(24), HOUR_WEIGHTS[source])[0]
        moment = datetime.combine(day, time(hour, rng.randint(0, 59), rng.randint(0, 59)), tzinfo=self.tz)
        while moment > self.now:
            moment -= timedelta(days=1)
        return moment

    # -- a new case ---------------------------------------------------------------------------

    def _world_for(self, pattern: Pattern) -> GridWorld:
        """A grid where the category's stories can happen, busier grids more often."""
        worlds = list(self.worlds.values())
        if pattern.needs_property:
            worlds = [w for w in worlds if w.property is not None] or worlds
        possible = [w for w in worlds if any(self._kinds(story, w) for story in pattern.stories)]
        worlds = possible or worlds
        return self.rng.choices(worlds, [len(w.people) + 50 for w in worlds])[0]

    @staticmethod
    def _kinds(story: tuple[str, ...], world: GridWorld) -> list[str]:
        return [kind for kind in story[0].split() if world.anchors.get(kind)]

    def _anchor(self, world: GridWorld, kinds: Sequence[str]) -> Anchor:
        rng = self.rng
        kind = rng.choice(kinds) if kinds else "home"
        anchors = world.anchors[kind]
        if kind == "self_built":
            # The worse a house's grade, the likelier a case about it.
            grades = {"A": 1, "B": 3, "C": 6, "D": 10}
            return rng.choices(anchors, [grades.get(a.facts.get("safety_grade"), 2) for a in anchors])[0]
        return rng.choice(anchors)

    def _point(self, world: GridWorld, anchor: Anchor) -> tuple[float, float]:
        """A point a few metres from the anchor, inside the grid (never on its edge)."""
        rng = self.rng
        geometry = anchor.geometry
        for _attempt in range(20):
            if geometry is not None and geometry.geom_type == "LineString":
                p = geometry.interpolate(rng.random(), normalized=True)
                x, y = p.x + rng.uniform(-0.00003, 0.00003), p.y + rng.uniform(-0.00003, 0.00003)
            else:
                x, y = anchor.lng + rng.uniform(-0.00012, 0.00012), anchor.lat + rng.uniform(-0.0001, 0.0001)
            x, y = round(x, 7), round(y, 7)
            if shapely.contains_xy(world.polygon, x, y):
                return x, y
        if shapely.contains_xy(world.polygon, anchor.lng, anchor.lat):
            return round(anchor.lng, 7), round(anchor.lat, 7)
        p = world.polygon.representative_point()
        return round(p.x, 7), round(p.y, 7)

    def _texts(self, story: tuple[str, ...], anchor: Anchor, extra: dict[str, Any]) -> tuple[str, str]:
        rng = self.rng
        building = anchor.facts
        fill = {
            "a": anchor.title,
            "n": rng.randint(2, 6),
            "m": extra.get("area_m2", round(rng.uniform(2, 20))),
            "d": rng.randint(5, 30),
            "t": extra.get("temperature", 38.5),
            "f": building.get("floors") or 3,
            "y": building.get("year_built") or 1990,
            "age": rng.randint(62, 88),
            "fl": rng.randint(1, 6),
            "issue": rng.choice(PETITION_ISSUES),
        }
        return story[1].format(**fill)[:100], story[2].format(**fill)

    def _extra(self, category: Category, anchor: Anchor) -> dict[str, Any]:
        rng = self.rng
        building = anchor.facts
        values: dict[str, Any] = {}
        if category.code == "02001":
            values = {"area_m2": round(rng.uniform(0.5, 15), 1), "blocks_traffic": rng.random() < 0.4}
        elif category.code == "04004":
            values = {"floors": building.get("floors") or 3, "grade": building.get("safety_grade") or "C"}
        elif category.code == "05001":
            values = {"parties": rng.choice((2, 2, 2, 2, 3, 4))}
        elif category.code == "07001":
            values = {"temperature": round(rng.uniform(37.3, 39.6), 1)}
        return clean_extra(category.form_schema, values)

    def _tracking_code(self) -> str:
        while True:
            code = "".join(self.rng.choice(TRACKING_ALPHABET) for _n in range(10))
            if code not in self.tracking:
                self.tracking.add(code)
                return code

    def _open_case(
        self,
        *,
        category: Category,
        world: GridWorld,
        source: str,
        when: datetime,
        title: str,
        description: str,
        extra: dict[str, Any],
        point: tuple[float, float],
        address: str,
        priority: str,
        reporter: User | None,
        reporter_name: str,
    ) -> Case:
        """The case as `services._create_case` writes it, with its clock started."""
        reported_by_grid = source == Source.GRID_WORKER and reporter in (world.worker, world.leader)
        level = CaseLevel.GRID if reported_by_grid else category.level
        handling = {CaseLevel.GRID: world.grid, CaseLevel.COMMUNITY: world.community}.get(level, self.subdistrict)
        case = Case(
            title=title,
            description=description,
            category=category,
            business_line_id=category.business_line_id,
            kind=category.kind,
            source=source,
            priority=priority,
            extra=extra,
            lat=point[1],
            lng=point[0],
            address=address,
            grid=world.grid,
            area_code=world.grid.code,
            outside_grids=False,
            level=level,
            handling_area=handling,
            state=State.REPORTED,
            reporter=reporter,
            reporter_name=reporter_name or (reporter.name if reporter is not None else ""),
            tracking_code=self._tracking_code(),
        )
        _start_clock(case, now=when, minutes=accept_minutes(category, priority, self._factor(case)))
        return case

    def _factor(self, case: Case) -> float:
        return deadline_factor(case.area_code, self.emergency)

    def _new(self, code: str, source: str, when: datetime, *, hold: str | None = None) -> Run:
        rng = self.rng
        pattern = PATTERNS[code]
        category = self.categories[code]
        world = self._world_for(pattern)
        story = rng.choice([s for s in pattern.stories if self._kinds(s, world)] or pattern.stories)
        anchor = self._anchor(world, self._kinds(story, world))
        extra = self._extra(category, anchor)
        title, description = self._texts(story, anchor, extra)
        priority = rng.choices(Priority.values, pattern.priority)[0] if hold is None else Priority.NORMAL
        reporter: User | None
        name = ""
        caller = None
        if source == Source.GRID_WORKER:
            reporter = world.worker if rng.random() < 0.7 else world.leader
        elif source in (Source.RESIDENT, Source.OPEN311):
            reporter, caller = None, rng.choice(world.people)
        elif source == Source.HOTLINE:
            reporter, caller = self.center, rng.choice(world.people)
        elif source == Source.CAMERA:
            reporter, name = self.center, "雪亮工程视频巡查"
        elif source == Source.SUPERIOR:
            reporter, name = self.center, SUPERIORS[category.business_line.code]
        else:
            reporter, name = self.community_staff[world.community.pk], f"{world.community.name}红色议事会"
        case = self._open_case(
            category=category,
            world=world,
            source=source,
            when=when,
            title=title,
            description=description,
            extra=extra,
            point=self._point(world, anchor),
            address=anchor.address,
            priority=priority,
            reporter=reporter,
            reporter_name=name,
        )
        run = Run(
            case=case,
            world=world,
            pattern=pattern,
            intent=Intent(target=case.level),
            reported_at=when,
            start_level=case.level,
            caller=caller,
            result=story[3] if len(story) > 3 else "",
        )
        run.handler = (
            reporter
            if reporter in (world.worker, world.leader)
            else (world.worker if rng.random() < 0.85 else world.leader)
        )
        self._event(run, actor=reporter, action=Action.REPORT, from_state="", from_level="", now=when)
        run.intent = self._intent(run, hold)
        return run

    def _intent(self, run: Run, hold: str | None) -> Intent:
        rng = self.rng
        case, pattern = run.case, run.pattern
        assert pattern is not None
        target = case.level
        up = dict(zip(LEVELS[:3], pattern.escalate, strict=True))
        while target in up and rng.random() < up[target]:
            target = NEXT_LEVEL[target]
        intent = Intent(target=target, on_site=rng.random() < pattern.on_site_share)
        if hold == State.DISPATCHED:
            intent.target = target = CaseLevel.COMMUNITY if target == CaseLevel.GRID else target
        external = case.source in (Source.RESIDENT, Source.HOTLINE, Source.OPEN311, Source.CAMERA)
        if external and hold is None and rng.random() < 0.035:
            intent.outcome, intent.target = "reject", case.level
            return intent
        for level in (CaseLevel.COMMUNITY, CaseLevel.SUBDISTRICT):
            unit = self._unit(case.category, run.world)
            if (
                unit is not None
                and self.unit_handlers.get(unit.pk)
                and (rng.random() < 0.88 or hold == State.DISPATCHED)
            ):
                intent.dispatch[level] = unit
        intent.verify_fails = 1 if rng.random() < 0.03 else 0
        intent.late_accept = rng.random() < 0.012
        intent.late_handle = rng.random() < 0.05
        age = (self.now - run.reported_at).total_seconds() / 3600
        if hold is None:
            chance = 0.7 if age < 24 else 0.45 if age < 72 else 0.3 if age < 240 else 0.06 if age < 1440 else 0.007
            if rng.random() < chance:
                hold = self._hold_state(run, intent, age)
        intent.hold = hold
        if hold == State.IN_PROGRESS and intent.target == CaseLevel.GRID:
            intent.on_site = False
        if hold is not None:
            intent.late_accept = intent.late_handle = False
        return intent

    def _hold_state(self, run: Run, intent: Intent, age: float) -> str:
        case = run.case
        options = {State.REGISTERED: 1.0, State.IN_PROGRESS: 3.0}
        if intent.dispatch.get(intent.target) is not None:
            options[State.DISPATCHED] = 15.0
        if age < 240:
            options[State.RESOLVED] = 1.5
        if intent.target == CaseLevel.SUPERIOR:
            options = {State.IN_PROGRESS: 1.0}
        window = (case.due_at - case.step_started_at).total_seconds() / 3600
        if age < 0.7 * window and case.level != CaseLevel.SUBDISTRICT:
            options[State.REPORTED] = 2.0
        states = list(options)
        return self.rng.choices(states, [options[s] for s in states])[0]

    def _unit(self, category: Category, world: GridWorld) -> Unit | None:
        """The unit of the category's kind that serves the case's place."""
        kind = category.unit_kind
        if kind == UnitKind.DEPARTMENT:
            key = "urban" if category.business_line.code in ("city", "work_safety") else "social"
            return self.units.get(key) or self._unit_of(kind, world)
        return self._unit_of(kind, world) if kind else None

    def _unit_of(self, kind: str, world: GridWorld) -> Unit | None:
        """The unit of this kind closest to the place: the community's own, else the subdistrict's."""
        units = [u for u in self.units.values() if u.kind == kind]
        for area in (world.community, self.subdistrict):
            unit = next((u for u in units if u.area_id == area.pk), None)
            if unit is not None:
                return unit
        return None

    def _co_units(self, run: Run, lead: Unit) -> list[Unit]:
        """Units that sometimes join the responsible one (联合处置)."""
        pattern = run.pattern
        if pattern is None or not pattern.co_units or self.rng.random() > 0.3:
            return []
        units = []
        for key in pattern.co_units:
            if key == "committee":
                unit = self._unit_of(UnitKind.COMMUNITY, run.world)
            elif key == "property":
                unit = run.world.property
            else:
                unit = self.units.get(key)
            if unit is not None and unit.pk != lead.pk:
                units.append(unit)
        return units

    # -- the article's road subsidence ------------------------------------------------------------

    def _story_time(self) -> datetime:
        """June 14 at 09:42 as in the article (2022年6月), the last one a couple of months back; else 4 months ago."""
        today = self.now.date()
        for year in (today.year, today.year - 1):
            day = date(year, 6, 14)
            if 60 <= (today - day).days <= 330:
                return datetime.combine(day, time(9, 42, 17), tzinfo=self.tz)
        day = today - timedelta(days=120)
        return datetime.combine(day, time(9, 42, 17), tzinfo=self.tz)

    def _story(self, when: datetime) -> Run:
        summary = self.summary
        world = self.worlds[summary.grids[0].pk]
        community = world.community
        road = summary.places.get("park_road")
        category = self.categories["02001"]
        if road is not None:
            line = shape(road.geometry)
            p = line.interpolate(0.5, normalized=True)
            point = (round(p.x, 7), round(p.y, 7))
            address = f"{world.prefix}{road.name}"
        else:
            point = self._point(world, self._anchor(world, ("road", "home")))
            address = f"{world.prefix}游园旁道路"
        if not shapely.contains_xy(world.polygon, *point):
            point = self._point(world, Anchor(address, address, point[0], point[1]))
        case = self._open_case(
            category=category,
            world=world,
            source=Source.GRID_WORKER,
            when=when,
            title=STORY_TITLE,
            description=STORY_DESCRIPTION,
            extra=clean_extra(category.form_schema, {"area_m2": 12, "blocks_traffic": True}),
            point=point,
            address=address,
            priority=Priority.NORMAL,
            reporter=world.leader,
            reporter_name="",
        )
        property_company = self._unit(category, world)
        handler = self.unit_handlers[property_company.pk][0]
        staff = self.community_staff[community.pk]
        day = when.date()

        def at(days: int, hour: int, minute: int) -> datetime:
            return datetime.combine(
                day + timedelta(days=days), time(hour, minute, self.rng.randint(0, 59)), tzinfo=self.tz
            )

        script = [
            (
                at(0, 9, 51),
                Action.ESCALATE,
                world.leader,
                {"reason": "道路下沉面积较大，需专业施工维修，超出网格处置能力，上报社区。"},
            ),
            (
                at(0, 10, 22),
                Action.ESCALATE,
                staff,
                {"reason": "路面下沉涉及地下管网排查和道路维修，需街道协调物业公司处置，上报街道综治中心。"},
            ),
            (at(0, 10, 41), Action.ACCEPT, self.center, {"note": "已受理，报街道党工委研判。"}),
            (
                at(0, 14, 30),
                Action.COMMENT,
                self.leader,
                {
                    "note": "街道党工委分析研判：约谈物业公司相关负责人，给物业总公司下整改函，"
                    "责令其对道路进行维修，确保居民出行平安。"
                },
            ),
            (
                at(0, 15, 12),
                Action.DISPATCH,
                self.center,
                {
                    "unit": property_company,
                    "note": "已约谈物业公司负责人并下发整改函，请在整改时限内完成维修。",
                    "measures": "1. 立即在下沉路段设置警示围挡；2. 开挖排查地下管网渗漏情况；"
                    "3. 回填夯实后重新铺设沥青路面；4. 修复后报街道综治中心核查。",
                },
            ),
            (at(0, 15, 40), Action.CLAIM, handler, {"note": "已设置警示围挡，安排施工队进场。"}),
            (
                at(1, 14, 20),
                Action.RESOLVE,
                handler,
                {"result": "已完成下沉路段开挖排查、回填夯实并重新铺设沥青，路面恢复平整，警示围挡已撤除。"},
            ),
            (
                at(1, 17, 10),
                Action.VERIFY,
                self.center,
                {"passed": True, "note": "经现场核查，路面已修复平整，居民出行恢复正常。"},
            ),
        ]
        run = Run(
            case=case,
            world=world,
            pattern=PATTERNS["02001"],
            intent=Intent(target=CaseLevel.SUBDISTRICT, script=script),
            reported_at=when,
            start_level=case.level,
        )
        report = self._event(run, actor=world.leader, action=Action.REPORT, from_state="", from_level="", now=when)
        run.files.append((report, "现场照片.png", _photo(self.rng, repaired=False), world.leader))
        self.story = run
        return run

    # -- duplicates, merged into the case they repeat --------------------------------------------

    def _duplicates(self) -> None:
        rng = self.rng
        candidates = [
            r
            for r in self.runs
            if r.intent.outcome == "normal"
            and r.intent.script is None
            and r.case.state not in (State.MERGED, State.REJECTED)
            and r.case.source != Source.OPEN311
        ]
        rng.shuffle(candidates)
        made = 0
        for target in candidates:
            if made == DUPLICATES:
                break
            end = min(target.case.closed_at or self.now, target.reported_at + timedelta(days=2), self.now)
            if (end - target.reported_at) < timedelta(hours=2):
                continue
            when = target.reported_at + (end - target.reported_at) * rng.uniform(0.1, 0.6)
            when = when.replace(microsecond=0)
            self.runs.append(self._duplicate(target, when))
            made += 1

    def _duplicate(self, target: Run, when: datetime) -> Run:
        rng = self.rng
        category = target.case.category
        world = target.world
        source = Source.RESIDENT if category.resident_reportable else Source.HOTLINE
        reporter = None if source == Source.RESIDENT else self.center
        anchor = Anchor(target.case.address, target.case.address, target.case.lng, target.case.lat)
        case = self._open_case(
            category=category,
            world=world,
            source=source,
            when=when,
            title=target.case.title,
            description=target.case.description,
            extra=dict(target.case.extra),
            point=self._point(world, anchor),
            address=target.case.address,
            priority=target.case.priority,
            reporter=reporter,
            reporter_name="",
        )
        run = Run(
            case=case,
            world=world,
            pattern=target.pattern,
            intent=Intent(target=case.level, outcome="merge", merge_into=target),
            reported_at=when,
            start_level=case.level,
            caller=rng.choice(world.people),
        )
        run.handler = world.worker
        self._event(run, actor=reporter, action=Action.REPORT, from_state="", from_level="", now=when)
        self._simulate(run)
        return run

    # -- the simulation -----------------------------------------------------------------------------

    def _simulate(self, run: Run) -> None:
        """Take the case through its steps until it is closed or today comes; the sweep runs meanwhile."""
        t = run.reported_at
        while run.case.state not in FINAL_STATES:
            step = self._scripted(run) if run.intent.script is not None else self._next(run, t)
            t_next = step[0] if step is not None else None
            escalated_at = self._sweep(run, t, t_next)
            if escalated_at is not None:
                if run.intent.script is not None:
                    raise RuntimeError(f"the scripted case {run.case.title} ran past a deadline")
                t = escalated_at
                continue
            if step is None or t_next is None or t_next > self.now:
                break
            _when, action, actor, params = step
            self._apply(run, action, actor, t_next, **params)
            t = t_next
        if run.case.state == State.CLOSED:
            self._rate(run)

    def _scripted(self, run: Run) -> tuple[datetime, str, User | None, dict[str, Any]] | None:
        script = run.intent.script
        return script.pop(0) if script else None

    def _staff(self, run: Run, level: str) -> User:
        if level == CaseLevel.GRID:
            return run.handler or run.world.worker
        if level == CaseLevel.COMMUNITY:
            return self.community_staff[run.case.handling_area.pk]
        return self.center

    def _verifier(self, run: Run) -> User:
        case, world = run.case, run.world
        if case.level == CaseLevel.GRID:
            return world.worker if case.assignee == world.leader else world.leader
        return self._staff(run, case.level)

    def _after(self, run: Run, t: datetime, fraction: float, *, daytime: bool = True) -> datetime:
        """`fraction` of the current step's time after `t` (staff act by day when the step lasts a day or more)."""
        case = run.case
        window = case.due_at - case.step_started_at
        moment = (t + window * fraction).replace(microsecond=0)
        if moment <= t:
            moment = t + timedelta(seconds=self.rng.randint(30, 300))
        if daytime and window >= timedelta(hours=12):
            moment = self._daytime(moment, latest=case.due_at if fraction < 1 else None)
        return moment

    def _daytime(self, moment: datetime, *, latest: datetime | None) -> datetime:
        hour = moment.hour + moment.minute / 60
        if 7.5 <= hour < 21:
            return moment
        day = moment.date() + timedelta(days=1 if hour >= 21 else 0)
        morning = datetime.combine(day, time(7, 40), tzinfo=self.tz) + timedelta(minutes=self.rng.randint(0, 100))
        if latest is not None and morning >= latest:
            return moment
        return morning

    def _accept_fraction(self, run: Run) -> float:
        if run.intent.late_accept and "accept" not in run.late_used:
            run.late_used.add("accept")
            return self.rng.uniform(1.05, 1.6)
        return 0.03 + 0.55 * self.rng.random() ** 2

    def _handle_fraction(self, run: Run) -> float:
        if run.intent.late_handle and "handle" not in run.late_used:
            run.late_used.add("handle")
            return self.rng.uniform(1.05, 1.8)
        return 0.1 + 0.7 * self.rng.random()

    def _held(self, run: Run) -> bool:
        case, intent = run.case, run.intent
        if intent.hold != case.state:
            return False
        if case.state == State.REPORTED:
            return case.escalation_count == 0
        return case.level == self._target(run)

    def _target(self, run: Run) -> str:
        target, level = run.intent.target, run.case.level
        return target if RANK[target] >= RANK[level] else level

    def _next(self, run: Run, t: datetime) -> tuple[datetime, str, User | None, dict[str, Any]] | None:
        """The next step of the case by its intent: when, what, who, with what."""
        rng = self.rng
        case, intent, pattern = run.case, run.intent, run.pattern
        assert pattern is not None
        if self._held(run):
            return None
        state, level = case.state, case.level
        target = self._target(run)
        staff = self._staff(run, level)
        reasons = pattern.reasons[RANK[level]] if RANK[level] < 3 else ()
        if intent.link is not None and not run.linked and state in (State.REPORTED, State.REGISTERED):
            run.linked = True
            return (self._after(run, t, rng.uniform(0.01, 0.08)), Action.COMMENT, staff, {"link": intent.link})
        if state == State.REPORTED:
            quick = level == CaseLevel.GRID and case.reporter in (run.world.worker, run.world.leader)
            if quick:
                window = case.due_at - case.step_started_at
                when = t + min(timedelta(minutes=rng.uniform(2, 40)), window * 0.8)
                when = when.replace(microsecond=0)
            else:
                when = self._after(run, t, self._accept_fraction(run), daytime=False)
            if intent.outcome == "reject":
                return (when, Action.REJECT, staff, {"reason": rng.choice(REJECT_REASONS)})
            if intent.outcome == "merge":
                return (when, Action.MERGE, staff, {"target": intent.merge_into, "note": rng.choice(MERGE_NOTES)})
            if level != target:
                if rng.random() < (0.5 if level == CaseLevel.SUBDISTRICT else 0.3):
                    return (when, Action.ACCEPT, staff, {"note": rng.choice(ACCEPT_NOTES)})
                return (when, Action.ESCALATE, staff, {"reason": rng.choice(reasons or GENERIC_REASONS[level])})
            if intent.hold == State.REGISTERED:
                return (when, Action.ACCEPT, staff, {"note": rng.choice(ACCEPT_NOTES)})
            if level == CaseLevel.GRID:
                if intent.on_site and rng.random() < 0.8:
                    return (when, Action.HANDLE_ON_SITE, run.handler, self._on_site(run))
                if not intent.on_site and rng.random() < 0.3:
                    return (when, Action.CLAIM, run.handler, {})
                return (when, Action.ACCEPT, staff, {"note": rng.choice(ACCEPT_NOTES)})
            unit = intent.dispatch.get(level)
            if unit is not None and rng.random() < 0.5:
                return (when, Action.DISPATCH, staff, self._dispatch(run, unit))
            if unit is None and rng.random() < 0.3:
                return (when, Action.CLAIM, staff, {})
            return (when, Action.ACCEPT, staff, {"note": rng.choice(ACCEPT_NOTES)})
        if state == State.REGISTERED:
            when = self._after(run, t, rng.uniform(0.01, 0.2))
            if level != target:
                return (when, Action.ESCALATE, staff, {"reason": rng.choice(reasons or GENERIC_REASONS[level])})
            if level == CaseLevel.GRID:
                if intent.on_site:
                    return (when, Action.HANDLE_ON_SITE, run.handler, self._on_site(run))
                return (when, Action.CLAIM, run.handler, {})
            unit = intent.dispatch.get(level)
            if unit is not None:
                return (when, Action.DISPATCH, staff, self._dispatch(run, unit))
            return (when, Action.CLAIM, staff, {})
        if state == State.DISPATCHED:
            handler = rng.choice(self.unit_handlers[case.unit.pk])
            return (
                self._after(run, t, rng.uniform(0.01, 0.15)),
                Action.CLAIM,
                handler,
                {"note": rng.choice(CLAIM_NOTES)},
            )
        if state == State.IN_PROGRESS:
            when = self._after(run, t, self._handle_fraction(run))
            params: dict[str, Any] = {"result": self._result(run)}
            if case.unit is not None:
                return (when, Action.RESOLVE, rng.choice(self.unit_handlers[case.unit.pk]), params)
            if pattern.measures and not case.measures:
                params["measures"] = self._local(run, rng.choice(pattern.measures))
            return (when, Action.RESOLVE, case.assignee or self.center, params)
        if state == State.RESOLVED:
            hours = {CaseLevel.GRID: (0.3, 10), CaseLevel.COMMUNITY: (1, 30)}.get(level, (2, 48))
            when = self._daytime((t + timedelta(hours=rng.uniform(*hours))).replace(microsecond=0), latest=None)
            passed = run.fails >= intent.verify_fails
            if not passed:
                run.fails += 1
            kind_notes = VERIFY_NOTES if case.kind in (CaseKind.INCIDENT, CaseKind.HAZARD) else VERIFY_SERVICE_NOTES
            note = rng.choice(kind_notes) if passed else rng.choice(VERIFY_FAILED)
            return (when, Action.VERIFY, self._verifier(run), {"passed": passed, "note": note})
        return None

    def _on_site(self, run: Run) -> dict[str, Any]:
        pattern = run.pattern
        assert pattern is not None
        return {"result": self._result(run)}

    def _result(self, run: Run) -> str:
        """How the case ended: its story's own ending, else the grid's or the units' words."""
        pattern = run.pattern
        assert pattern is not None
        if run.result:
            return run.result
        texts = pattern.on_site if run.case.level == CaseLevel.GRID else pattern.results
        return self._local(run, self.rng.choice(texts or pattern.results or pattern.on_site))

    @staticmethod
    def _local(run: Run, text: str) -> str:
        """Where no property company serves the community (old mining quarters), the community does its work."""
        return text if run.world.property is not None else text.replace("物业", "社区")

    def _dispatch(self, run: Run, unit: Unit) -> dict[str, Any]:
        pattern = run.pattern
        assert pattern is not None
        params: dict[str, Any] = {
            "unit": unit,
            "co_units": self._co_units(run, unit),
            "note": self.rng.choice(DISPATCH_NOTES),
        }
        if pattern.measures:
            params["measures"] = self._local(run, self.rng.choice(pattern.measures))
        return params

    def _rate(self, run: Run) -> None:
        """Most residents rate a closed case; the hotline calls its callers back (回访) and records their score."""
        rng = self.rng
        case = run.case
        if case.source in (Source.RESIDENT, Source.OPEN311):
            if rng.random() > 0.85:
                return
            actor = None
        elif case.source == Source.HOTLINE and case.reporter is not None:
            if rng.random() > 0.6:
                return
            actor = case.reporter
        else:
            return
        when = (case.closed_at + timedelta(hours=rng.uniform(1, 72))).replace(microsecond=0)
        when = self._daytime(when, latest=None)
        if when > self.now:
            return
        weights = SCORE_WEIGHTS if not case.ever_overdue else (35, 30, 20, 10, 5)
        score = rng.choices(SCORES, weights)[0]
        note = rng.choice(RATINGS[score])
        if actor is not None and note:
            note = f"12345回访：{note}"
        self._apply(run, Action.RATE, actor, when, score=score, note=note)

    # -- what the deadline sweep did meanwhile ------------------------------------------------------

    def _sweep(self, run: Run, t: datetime, t_next: datetime | None) -> datetime | None:
        """Warnings, overdue entries and automatic escalations the minute sweep made before the next step.

        Returns the moment of an automatic escalation (the case's next step must be chosen again)."""
        case = run.case
        if case.state not in TIMED_STATES or case.due_at is None:
            return None
        waits = t_next is None or t_next > self.now

        def seen(moment: datetime) -> datetime | None:
            minute = ceil_minute(moment)
            return minute if (minute <= self.now if waits else minute < t_next) else None

        if not case.warned and case.warn_at is not None and seen(case.warn_at):
            case.warned = True
        minute = None if case.overdue else seen(case.due_at)
        if minute is None:
            return None
        case.overdue = case.warned = case.ever_overdue = True
        case.overdue_at = minute
        self._system_event(run, Action.OVERDUE, minute)
        if case.state == State.REPORTED and case.level in (CaseLevel.GRID, CaseLevel.COMMUNITY):
            from_level = case.level
            case.escalation_count += 1
            case.level = NEXT_LEVEL[case.level]
            case.handling_area = self.parents[case.handling_area.pk]
            case.assignee = None
            _start_clock(case, now=minute, minutes=accept_minutes(case.category, case.priority, self._factor(case)))
            self._system_event(
                run,
                Action.ESCALATE,
                minute,
                from_level=from_level,
                note=_("Not accepted in time: escalated automatically."),
                data={"automatic": True},
            )
            return minute
        # Supervisors urge (督办) most cases that run late.
        end = self.now if waits else t_next
        rng = self.rng
        if rng.random() < (0.75 if waits else 0.45) and end - minute > timedelta(minutes=30):
            urges = 2 if waits and end - minute > timedelta(days=7) and rng.random() < 0.5 else 1
            moments = [minute + (end - minute) * rng.uniform(0.05, 0.9) for _n in range(urges)]
            moments = sorted(self._daytime(m.replace(microsecond=0), latest=end) for m in moments)
            for moment in moments:
                actor = self.center if rng.random() < 0.75 else self.leader
                self._apply(run, Action.URGE, actor, moment, note=rng.choice(URGE_NOTES))
        return None

    def _system_event(
        self,
        run: Run,
        action: str,
        when: datetime,
        *,
        from_level: str | None = None,
        note: str = "",
        data: dict | None = None,
    ) -> None:
        case = run.case
        run.events.append(
            CaseEvent(
                case=case,
                time=when,
                action=action,
                from_state=case.state,
                to_state=case.state,
                from_level=from_level or case.level,
                to_level=case.level,
                unit=case.unit if action == Action.OVERDUE else None,
                note=note,
                data=data or {},
            )
        )

    # -- one step, as `services._STEPS` takes it ----------------------------------------------------

    def _apply(self, run: Run, action: str, actor: User | None, now: datetime, **params: Any) -> None:
        case = run.case
        category, priority, factor = case.category, case.priority, self._factor(case)
        from_state, from_level = case.state, case.level
        note = params.get("note", "")
        unit = None
        data: dict[str, Any] = {}
        if action == Action.ACCEPT:
            case.state = State.REGISTERED
            case.accepted_at = case.accepted_at or now
            _start_clock(case, now=now, minutes=handle_minutes(category, priority, factor))
        elif action == Action.REJECT:
            case.state = State.REJECTED
            _stop_clock(case)
            case.closed_at = now
            note = params["reason"]
        elif action == Action.HANDLE_ON_SITE:
            case.result = note = params["result"]
            case.measures = params.get("measures", "")
            case.state = State.RESOLVED
            case.accepted_at = case.accepted_at or now
            case.assignee = actor
            case.resolved_at = now
            _stop_clock(case)
        elif action == Action.DISPATCH:
            unit = params["unit"]
            co = [u for u in dict.fromkeys(params.get("co_units") or []) if u.pk != unit.pk]
            if case.state == State.REPORTED:
                case.accepted_at = now
            case.state = State.DISPATCHED
            case.unit = unit
            case.assignee = None
            case.dispatched_at = now
            if params.get("measures"):
                case.measures = params["measures"]
            _start_clock(case, now=now, minutes=handle_minutes(category, priority, factor))
            run.co_units = co
            data = {"co_units": [u.pk for u in co], "co_unit_names": [u.name for u in co]}
        elif action == Action.CLAIM:
            if case.state == State.REPORTED:
                case.accepted_at = now
            if case.state in (State.REPORTED, State.REGISTERED) and case.unit is None:
                _start_clock(case, now=now, minutes=handle_minutes(category, priority, factor))
            case.state = State.IN_PROGRESS
            case.assignee = actor
            unit = case.unit
        elif action == Action.ESCALATE:
            note = params["reason"]
            parent = self.parents.get(case.handling_area.pk) if case.level != CaseLevel.SUBDISTRICT else None
            _escalate(case, now=now, factor=factor, parent=parent)
        elif action == Action.RESOLVE:
            case.result = note = params["result"]
            if params.get("measures"):
                case.measures = params["measures"]
            case.state = State.RESOLVED
            case.resolved_at = now
            case.extension_requested_hours = None
            _stop_clock(case)
            unit = case.unit
        elif action == Action.VERIFY:
            case.verifier = actor
            if params["passed"]:
                case.state = State.CLOSED
                case.closed_at = now
                case.closed_level = case.level
                _stop_clock(case)
            else:
                case.state = State.IN_PROGRESS
                case.resolved_at = None
                _start_clock(case, now=now, minutes=handle_minutes(category, priority, factor))
            data = {"passed": bool(params["passed"])}
        elif action == Action.RATE:
            case.satisfaction = params["score"]
            case.satisfaction_note = note = note[:200]
            data = {"score": params["score"]}
        elif action == Action.URGE:
            case.urged = True
            case.urge_count += 1
        elif action == Action.MERGE:
            case.state = State.MERGED
            case.closed_at = now
            _stop_clock(case)
        elif action != Action.COMMENT:
            raise ValueError(f"the demo does not take {action}")
        run.updated_at = now
        event = self._event(
            run,
            actor=actor,
            action=action,
            from_state=from_state,
            from_level=from_level,
            now=now,
            note=note,
            unit=unit,
            data=data,
        )
        if action == Action.MERGE:
            run.merge_event = event
        if action == Action.COMMENT and params.get("link") is not None:
            run.link_notes.append((event, params["link"]))
        if action == Action.RESOLVE and run is self.story:
            run.files.append((event, "修复后.png", _photo(self.rng, repaired=True), actor))

    def _event(
        self,
        run: Run,
        *,
        actor: User | None,
        action: str,
        from_state: str,
        from_level: str,
        now: datetime,
        note: str = "",
        unit: Unit | None = None,
        data: dict[str, Any] | None = None,
    ) -> CaseEvent:
        case = run.case
        event = CaseEvent(
            case=case,
            time=now,
            actor=actor,
            actor_name=(actor.name or actor.get_username()) if actor is not None else "",
            action=action,
            from_state=from_state,
            to_state=case.state,
            from_level=from_level,
            to_level=case.level,
            unit=unit,
            note=note,
            data=data or {},
        )
        run.events.append(event)
        if action == Action.REPORT:
            run.updated_at = now
        return event

    # -- writing ------------------------------------------------------------------------------------

    def _write(self) -> Counts:
        runs = self.runs
        sequences: dict[str, int] = defaultdict(int)
        for run in runs:
            prefix = f"{run.case.area_code}{timezone.localtime(run.reported_at):%Y%m%d}"
            sequences[prefix] += 1
            run.case.code = f"{prefix}{sequences[prefix]:04d}"
        for run in runs:
            if run.merge_event is not None:
                run.merge_event.data = {"into": run.intent.merge_into.case.code}
            for event, other in run.link_notes:
                event.note = _("Related to %(code)s.") % {"code": other.case.code}
        callers = Resident.objects.only("name", "phone").in_bulk({r.caller for r in runs if r.caller is not None})
        for run in runs:
            if run.caller is not None:
                resident = callers[run.caller]
                run.case.reporter_name = resident.name
                run.case.reporter_phone = resident.phone.reveal()
        relations = (
            "category",
            "business_line",
            "grid",
            "handling_area",
            "unit",
            "assignee",
            "reporter",
            "verifier",
            "merged_into",
        )
        cases = [run.case for run in runs]
        for case in cases:
            case.full_clean(exclude=relations, validate_unique=False, validate_constraints=False)
        Case.objects.bulk_create(cases, batch_size=BATCH)
        # `bulk_create` stamps every row with this moment: give each case the times its steps had.
        for run in runs:
            run.case.created_at = run.reported_at
            run.case.updated_at = run.updated_at
            if run.intent.outcome == "merge" and run.case.state == State.MERGED:
                run.case.merged_into = run.intent.merge_into.case
        Case.objects.bulk_update(cases, ["created_at", "updated_at", "merged_into"], batch_size=500)

        order = {id(run): n for n, run in enumerate(runs)}
        events = sorted(
            ((e.time, order[id(run)], n, e) for run in runs for n, e in enumerate(run.events)), key=lambda row: row[:3]
        )
        CaseEvent.objects.bulk_create([row[3] for row in events], batch_size=BATCH)
        CaseCoUnit.objects.bulk_create(
            [CaseCoUnit(case=run.case, unit=u) for run in runs for u in run.co_units], batch_size=BATCH
        )
        through = Case.related.through
        links = []
        for run in runs:
            for _event, other in run.link_notes:
                links.append(through(from_case_id=run.case.pk, to_case_id=other.case.pk))
                links.append(through(from_case_id=other.case.pk, to_case_id=run.case.pk))
        through.objects.bulk_create(links, batch_size=BATCH, ignore_conflicts=True)
        CaseSequence.objects.bulk_create(
            [CaseSequence(prefix=p, value=v) for p, v in sequences.items()], batch_size=BATCH
        )
        self._attach()

        counts = Counts(cases=len(cases), events=len(events))
        counts.open = sum(c.state in OPEN_STATES for c in cases)
        for case in cases:
            if case.state == State.CLOSED:
                counts.closed_by_level[case.closed_level] = counts.closed_by_level.get(case.closed_level, 0) + 1
        return counts

    def _attach(self) -> None:
        """The story's photos, through the same storage as an upload (thumbnails included)."""
        from gridgov.cases.attachments import check_upload, store_upload
        from gridgov.cases.models import CaseAttachment

        for run in self.runs:
            for event, name, data, actor in run.files:
                checked = check_upload(ContentFile(data, name=name))
                attachment = store_upload(case=run.case, event=event, checked=checked, actor=actor)
                CaseAttachment.objects.filter(pk=attachment.pk).update(created_at=event.time, updated_at=event.time)


DUPLICATES = 30


def _photo(rng: random.Random, *, repaired: bool) -> bytes:
    """A small drawn picture of the road: sunk and cracked behind cones, or freshly patched."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 320), (170, 200, 225))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 120, 480, 320), fill=(96, 96, 100))  # the road
    draw.rectangle((0, 100, 480, 120), fill=(90, 150, 80))  # the park's hedge
    for x in range(0, 480, 60):
        draw.rectangle((x, 215, x + 30, 221), fill=(230, 230, 230))
    if repaired:
        draw.rectangle((150, 170, 350, 280), fill=(55, 55, 60))
    else:
        draw.ellipse((160, 180, 340, 270), fill=(60, 55, 50))
        for _n in range(6):
            x, y = rng.randint(170, 330), rng.randint(185, 265)
            draw.line((x, y, x + rng.randint(-40, 40), y + rng.randint(-25, 25)), fill=(30, 30, 30), width=2)
        for x in (130, 360):
            draw.polygon(((x, 290), (x + 16, 240), (x + 32, 290)), fill=(240, 120, 30))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
