"""What every page's layout needs: navigation, the current area and the areas to switch to."""

from __future__ import annotations

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from gridgov.core import navigation


def layout(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"site_name": settings.GRIDGOV_SITE_NAME}
    from gridgov.areas.selectors import current_area, switchable_areas
    from gridgov.notifications.selectors import unread_count

    return {
        "site_name": settings.GRIDGOV_SITE_NAME,
        "nav_items": navigation.items_for(user),
        "current_area": current_area(request),
        "switchable_areas": switchable_areas(user=user),
        # Lazy: one COUNT when the layout shows the bell, none for partials that do not.
        "unread_notifications": SimpleLazyObject(lambda: unread_count(user=user)),
        # The user menu's posts with their area or unit in one query (not one per post).
        "user_posts": SimpleLazyObject(
            lambda: list(user.posts.filter(active=True).select_related("area", "unit").order_by("role"))
        ),
    }
