"""Template helpers shared by every app."""

from django import template

register = template.Library()


@register.filter
def bootstrap(field):
    """Render a form field with the Bootstrap class that fits its widget."""
    widget = field.field.widget
    kind = getattr(widget, "input_type", None)
    if kind in ("checkbox", "radio"):
        css = "form-check-input"
    elif kind == "select" or widget.__class__.__name__.endswith("Select"):
        css = "form-select form-select-sm"
    else:
        css = "form-control form-control-sm"
    if field.errors:
        css += " is-invalid"
    return field.as_widget(attrs={"class": css})
