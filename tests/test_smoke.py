from gridgov.core.scope import scoped
from gridgov.areas.models import Area


def test_grid_worker_sees_only_own_grid_subtree(org):
    codes = set(scoped(Area.objects.all(), org.users.grid_worker).values_list("code", flat=True))
    assert codes == {org.g11.code, org.grp1.code, org.grp2.code}
