from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from gridgov.accounts.models import User
from gridgov.areas.models import Post
from gridgov.core.admin import AuditedModelAdmin


class PostInline(admin.TabularInline):
    model = Post
    extra = 0
    raw_id_fields = ["area", "unit"]


@admin.register(User)
class UserAdmin(AuditedModelAdmin, DjangoUserAdmin):
    list_display = ["username", "name", "is_active", "is_superuser", "locked_until", "last_login"]
    search_fields = ["username", "name"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        (_("Person"), {"fields": ["name", "phone", "email"]}),
        (_("Status"), {"fields": ["is_active", "is_staff", "is_superuser", "failed_logins", "locked_until"]}),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    readonly_fields = ["last_login", "date_joined"]
    inlines = [PostInline]
