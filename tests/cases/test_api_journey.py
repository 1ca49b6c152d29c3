"""The issue's "We will check" journey, entirely over HTTP with the demo accounts' tokens.

wg01 reports inside grid 1 → the grid escalates to community 1 → the community to the center →
the center dispatches to the property company → unit01 claims and resolves → the center verifies.
The timeline holds every step in order and the resolution figures move; a grid-level case handled
on the spot counts toward 不出网率.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.cases.conftest import IN_G11
from tests.conftest import token_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


class Account:
    """A demo account speaking JSON to the API with its token."""

    def __init__(self, client, username: str) -> None:
        self.client = client
        self.auth = {"HTTP_AUTHORIZATION": f"Token {token_for(client, username)}"}

    def get(self, url: str, params: dict | None = None) -> dict:
        response = self.client.get(url, params or {}, **self.auth)
        assert response.status_code == 200, response.content
        return response.json()

    def post(self, url: str, data: dict | None = None, expect: int = 200) -> dict:
        response = self.client.post(url, data or {}, content_type="application/json", **self.auth)
        assert response.status_code == expect, response.content
        return response.json()

    def act(self, case_id: int, action: str, data: dict | None = None) -> dict:
        return self.post(f"/api/v1/cases/{case_id}/actions/{action}/", data)


def figures(center: Account, area_code: str) -> dict:
    today = timezone.localdate().isoformat()
    return center.get("/api/v1/stats/resolution/", {"area": area_code, "start": today, "end": today})


def test_the_journey_from_grid_to_center_to_unit_and_back(client, org):
    wg01, sq01, center, unit01, gl01 = (Account(client, name) for name in ("wg01", "sq01", "center", "unit01", "gl01"))
    before = figures(center, org.s.code)

    # wg01 reports at a point inside grid 1: the case lands in grid 1, at grid level.
    case = wg01.post(
        "/api/v1/cases/",
        {
            "category": "02001",
            "title": "公园旁道路塌陷",
            "description": "新建社区A区公园旁路面塌陷约2平方米",
            **IN_G11,
            "extra": {"area_m2": 2, "blocks_traffic": True},
        },
        expect=201,
    )
    case_id = case["id"]
    assert (case["grid"]["code"], case["level"], case["state"]) == (org.g11.code, "grid", "reported")
    assert case["handling_area"]["code"] == org.g11.code
    assert "escalate" in case["allowed_actions"]

    # The grid cannot solve it: up to community 1, then to the center.
    case = wg01.act(case_id, "escalate", {"reason": "塌陷面积大，网格无法处置"})
    assert (case["level"], case["handling_area"]["code"], case["state"]) == ("community", org.c1.code, "reported")
    assert "escalate" in sq01.get(f"/api/v1/cases/{case_id}/")["allowed_actions"]
    case = sq01.act(case_id, "escalate", {"reason": "需街道协调物业"})
    assert (case["level"], case["handling_area"]["code"]) == ("subdistrict", org.s.code)

    # The center dispatches to the property company; unit01 sees it in its queue, claims and resolves.
    case = center.act(case_id, "dispatch", {"unit": org.prop.pk, "note": "请物业三日内修复"})
    assert (case["state"], case["unit"]["id"]) == ("dispatched", org.prop.pk)
    queue = {section["key"]: section for section in unit01.get("/api/v1/cases/queue/")}
    assert [c["id"] for c in queue["claim"]["cases"]] == [case_id]
    case = unit01.act(case_id, "claim")
    assert case["state"] == "in_progress" and "resolve" in case["allowed_actions"]
    case = unit01.act(case_id, "resolve", {"result": "已回填修复路面", "measures": "回填、压实、铺设沥青"})
    assert case["state"] == "resolved"
    assert figures(center, org.s.code)["closed"] == before["closed"]

    # The center verifies: closed at subdistrict level.
    case = center.act(case_id, "verify", {"passed": True, "note": "现场核查已修复"})
    assert (case["state"], case["closed_level"]) == ("closed", "subdistrict")

    # The timeline holds every step, in order, with who did it and where the case went.
    timeline = center.get(f"/api/v1/cases/{case_id}/")["timeline"]
    assert [(e["action"], e["actor_name"], e["to_state"], e["to_level"]) for e in timeline] == [
        ("report", "wg01", "reported", "grid"),
        ("escalate", "wg01", "reported", "community"),
        ("escalate", "sq01", "reported", "subdistrict"),
        ("dispatch", "center", "dispatched", "subdistrict"),
        ("claim", "unit01", "in_progress", "subdistrict"),
        ("resolve", "unit01", "resolved", "subdistrict"),
        ("verify", "center", "closed", "subdistrict"),
    ]
    assert timeline[1]["note"] == "塌陷面积大，网格无法处置"
    assert timeline[3]["unit"] == {"id": org.prop.pk, "name": "测试物业"}
    assert [e["time"] for e in timeline] == sorted(e["time"] for e in timeline)

    # The figures move: one more case closed, at subdistrict level.
    after = figures(center, org.s.code)
    assert after["closed"] == before["closed"] + 1
    assert after["closed_by_level"]["subdistrict"] == before["closed_by_level"]["subdistrict"] + 1
    assert after["closed_by_level"]["grid"] == before["closed_by_level"]["grid"]
    assert (after["within_grid"], after["within_community"], after["within_subdistrict"]) == (0.0, 0.0, 1.0)

    # A grid-level case handled on the spot by wg01 and verified by gl01 counts toward 不出网率.
    on_site = wg01.post("/api/v1/cases/", {"category": "01001", "title": "楼道垃圾", **IN_G11}, expect=201)
    assert on_site["level"] == "grid"
    handled = wg01.act(on_site["id"], "handle_on_site", {"result": "已当场清理"})
    assert handled["state"] == "resolved"
    closed = gl01.act(on_site["id"], "verify", {"passed": True})
    assert (closed["state"], closed["closed_level"]) == ("closed", "grid")
    final = figures(center, org.s.code)
    assert final["closed"] == before["closed"] + 2
    assert final["closed_by_level"]["grid"] == before["closed_by_level"]["grid"] + 1
    assert (final["within_grid"], final["within_community"], final["within_subdistrict"]) == (0.5, 0.5, 1.0)
    community_1 = next(child for child in final["children"] if child["area"]["code"] == org.c1.code)
    assert (community_1["closed"], community_1["within_grid"]) == (2, 0.5)
    # Grid 1's own figures, as its leader sees them: both cases lie in grid 1.
    grid_1 = figures(gl01, org.g11.code)
    assert (grid_1["closed"], grid_1["closed_by_level"]["grid"], grid_1["within_grid"]) == (2, 1, 0.5)
