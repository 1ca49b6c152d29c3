"""Point → grid lookups of the grid index."""


def test_locate_many_answers_like_locate(org):
    from gridgov.areas.geo import grid_index

    points = [(117.005, 32.605), (117.015, 32.605), (117.025, 32.605), (10.0, 10.0)]
    assert grid_index.locate_many(points) == [grid_index.locate(lng, lat) for lng, lat in points]
    assert grid_index.locate_many(points)[:3] == [org.g11.pk, org.g12.pk, org.g21.pk]
