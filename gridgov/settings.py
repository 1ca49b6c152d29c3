"""Settings, read from environment variables with safe defaults.

The embedded default needs no variable at all: SQLite under `var/`, a Huey queue in SQLite, and
secrets generated once into `var/` (mode 0600). Production sets every secret explicitly.
"""

import base64
import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("GRIDGOV_VAR_DIR", BASE_DIR.parent / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def secret_from_env_or_file(name: str, make) -> str:
    """A secret from the environment, or generated once into var/ for the embedded default."""
    value = os.environ.get(name)
    if value:
        return value
    path = VAR_DIR / name.lower()
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env_bool("GRIDGOV_DEBUG", False)
SECRET_KEY = secret_from_env_or_file("SECRET_KEY", lambda: secrets.token_urlsafe(50))
# 32 bytes, base64: the AES-256-GCM key for personal data (used by the registry's encrypted fields).
FIELD_ENCRYPTION_KEY = secret_from_env_or_file(
    "FIELD_ENCRYPTION_KEY", lambda: base64.b64encode(secrets.token_bytes(32)).decode()
)
# 32 bytes, base64: keys the HMAC blind index that exact search of encrypted values uses.
FIELD_HASH_KEY = secret_from_env_or_file("FIELD_HASH_KEY", lambda: base64.b64encode(secrets.token_bytes(32)).decode())
# aes-256-gcm, or sm4-gcm for 商用密码 deployments.
GRIDGOV_FIELD_CIPHER = os.environ.get("GRIDGOV_FIELD_CIPHER", "aes-256-gcm")
# Roles that may ask to see a full ID or phone number (each view is audited).
GRIDGOV_REVEAL_ROLES = env_list("GRIDGOV_REVEAL_ROLES", "center,community,grid_leader,grid_worker")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "huey.contrib.djhuey",
    "gridgov.core",
    "gridgov.accounts",
    "gridgov.areas",
    "gridgov.registry",
    "gridgov.notifications",
    "gridgov.cases",
    "gridgov.fieldwork",
    "gridgov.integrations",
    "gridgov.webhooks",
    "gridgov.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "gridgov.core.middleware.GenerationSnapshotMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "gridgov.core.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "gridgov.urls"
WSGI_APPLICATION = "gridgov.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "gridgov.core.context_processors.layout",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'gridgov.sqlite3'}"),
        conn_max_age=int(os.environ.get("GRIDGOV_DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the worker read while the other writes.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
    }
    # Tests on a file, not shared-cache memory: concurrent tests then wait on locks (busy_timeout) as in production.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_gridgov.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Statements sent through a server-binding cursor (the case report) are prepared from their Nth run on a
    # connection; Django's own cursors bind on the client and are never prepared. Empty: never prepare
    # (behind a pooler in transaction mode that does not support prepared statements, PgBouncer < 1.21).
    _prepare = os.environ.get("GRIDGOV_DB_PREPARE_THRESHOLD", "5").strip()
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = int(_prepare) if _prepare else None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "gridgov.accounts.validators.ComplexityValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Lock an account for 15 minutes after 5 failed logins in a row; end idle sessions after 30 minutes.
GRIDGOV_LOCKOUT_FAILURES = int(os.environ.get("GRIDGOV_LOCKOUT_FAILURES", "5"))
GRIDGOV_LOCKOUT_MINUTES = int(os.environ.get("GRIDGOV_LOCKOUT_MINUTES", "15"))
SESSION_COOKIE_AGE = int(os.environ.get("GRIDGOV_SESSION_IDLE_MINUTES", "30")) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("GRIDGOV_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
OTP_TOTP_ISSUER = "gridgov 网格通"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("GRIDGOV_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns about a missing root
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Spreadsheet imports (registry): larger files are refused before they are read.
GRIDGOV_IMPORT_MAX_BYTES = int(os.environ.get("GRIDGOV_IMPORT_MAX_BYTES", str(20 * 1024 * 1024)))

# Case pipeline: emergency mode multiplies every step's time by this factor; warnings come at this share.
GRIDGOV_EMERGENCY_DEADLINE_FACTOR = float(os.environ.get("GRIDGOV_EMERGENCY_DEADLINE_FACTOR", "0.5"))
GRIDGOV_DEADLINE_WARNING_SHARE = 0.8
# Photos and files on cases: larger uploads are refused.
GRIDGOV_CASE_FILE_MAX_BYTES = int(os.environ.get("GRIDGOV_CASE_FILE_MAX_BYTES", str(10 * 1024 * 1024)))

# Public resident reports (居民下单): how many one IP address may make per hour.
GRIDGOV_PUBLIC_REPORTS_PER_HOUR = int(os.environ.get("GRIDGOV_PUBLIC_REPORTS_PER_HOUR", "10"))
# Ledger exports: the most rows one file may hold.
GRIDGOV_EXPORT_MAX_ROWS = int(os.environ.get("GRIDGOV_EXPORT_MAX_ROWS", "50000"))

# Fieldwork. Patrol tracks: the most points in one upload, the speed (m/s) above which a point is kept
# but flagged and not counted, and the hours without a point after which a forgotten patrol is ended.
GRIDGOV_PATROL_BATCH_MAX = int(os.environ.get("GRIDGOV_PATROL_BATCH_MAX", "500"))
GRIDGOV_PATROL_MAX_SPEED = float(os.environ.get("GRIDGOV_PATROL_MAX_SPEED", "30"))
GRIDGOV_PATROL_STALE_HOURS = int(os.environ.get("GRIDGOV_PATROL_STALE_HOURS", "12"))
# Care checks: days after its due day before an undone check counts as missed (0: by the end of the day).
GRIDGOV_CARE_GRACE_DAYS = int(os.environ.get("GRIDGOV_CARE_GRACE_DAYS", "0"))

# Map: no base tiles unless a tile server is configured (intranets have no internet).
GRIDGOV_MAP_TILE_URL = os.environ.get("GRIDGOV_MAP_TILE_URL", "")
GRIDGOV_MAP_TILE_ATTRIBUTION = os.environ.get("GRIDGOV_MAP_TILE_ATTRIBUTION", "")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "gridgov.accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "gridgov.core.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "gridgov.core.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "gridgov API",
    "DESCRIPTION": "网格通 REST API. Authenticate with `Authorization: Token <token>` from /api/v1/auth/token/.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "UnitKindEnum": "gridgov.areas.choices.UnitKind",
        "CaseLevelEnum": "gridgov.cases.choices.CaseLevel",
        "CategoryLevelEnum": ["grid", "community", "subdistrict"],
        "CaseKindEnum": "gridgov.cases.choices.CaseKind",
        "CaseStateEnum": "gridgov.cases.choices.State",
        "CaseActionEnum": "gridgov.cases.choices.Action",
        "CaseSourceEnum": "gridgov.cases.choices.Source",
        "CasePriorityEnum": "gridgov.cases.choices.Priority",
        "TagKindEnum": "gridgov.registry.choices.TagKind",
        "PlaceKindEnum": "gridgov.registry.choices.PlaceKind",
        "PatrolStateEnum": "gridgov.fieldwork.choices.PatrolState",
        "ActivityKindEnum": "gridgov.fieldwork.choices.ActivityKind",
        "HomeServiceKindEnum": "gridgov.fieldwork.choices.ServiceKind",
        "CareMethodEnum": "gridgov.fieldwork.choices.CareMethod",
        "CareCheckStateEnum": "gridgov.fieldwork.choices.CareCheckState",
        "TargetKindEnum": "gridgov.fieldwork.choices.TargetKind",
        "CampaignStateEnum": "gridgov.fieldwork.choices.CampaignState",
        "TargetStateEnum": "gridgov.fieldwork.choices.TargetState",
    },
}

# Filter forms: an empty choice reads "All", not "---------".
FILTERS_EMPTY_CHOICE_LABEL = _("All")

# Notifications: the channels that run besides the in-app centre (console, email, http, wecom). HTTP and WeCom
# send only to users who set their address on the 通知设置 page.
GRIDGOV_NOTIFICATION_CHANNELS = env_list("GRIDGOV_NOTIFICATION_CHANNELS", "console,http,wecom")
GRIDGOV_NOTIFICATION_HTTP_TIMEOUT = float(os.environ.get("GRIDGOV_NOTIFICATION_HTTP_TIMEOUT", "10"))
# The WeCom group-robot address before ?key= (change it for a privately deployed WeCom).
GRIDGOV_NOTIFICATION_WECOM_URL = os.environ.get(
    "GRIDGOV_NOTIFICATION_WECOM_URL", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
)
# Users' HTTP endpoints may not point at this server (localhost) or link-local addresses unless this is on.
GRIDGOV_NOTIFICATION_ALLOW_LOCAL_TARGETS = env_bool("GRIDGOV_NOTIFICATION_ALLOW_LOCAL_TARGETS")
# The site's own address (https://grid.example.gov.cn): makes links in e-mails and pushes absolute.
GRIDGOV_SITE_URL = os.environ.get("GRIDGOV_SITE_URL", "")

# Signed intake (/api/v1/intake/{channel}/): the largest body read, and the largest 12345 .xlsx accepted.
GRIDGOV_INTAKE_MAX_BYTES = int(os.environ.get("GRIDGOV_INTAKE_MAX_BYTES", str(256 * 1024)))
GRIDGOV_INTAKE_IMPORT_MAX_BYTES = int(os.environ.get("GRIDGOV_INTAKE_IMPORT_MAX_BYTES", str(5 * 1024 * 1024)))

# Outbound webhooks: seconds per attempt, the first wait after a failure (doubling up to the cap), attempts per
# round before a delivery gives up, and how far each scan of the case timeline looks back for late commits.
GRIDGOV_WEBHOOK_TIMEOUT = float(os.environ.get("GRIDGOV_WEBHOOK_TIMEOUT", "10"))
GRIDGOV_WEBHOOK_BACKOFF_SECONDS = int(os.environ.get("GRIDGOV_WEBHOOK_BACKOFF_SECONDS", "30"))
GRIDGOV_WEBHOOK_BACKOFF_MAX_SECONDS = int(os.environ.get("GRIDGOV_WEBHOOK_BACKOFF_MAX_SECONDS", "3600"))
GRIDGOV_WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("GRIDGOV_WEBHOOK_MAX_ATTEMPTS", "8"))
GRIDGOV_WEBHOOK_SCAN_OVERLAP_SECONDS = int(os.environ.get("GRIDGOV_WEBHOOK_SCAN_OVERLAP_SECONDS", "300"))

# Open311 GeoReport v2 (/open311/v2/): the largest POST body, and discovery's contact and key service texts.
GRIDGOV_OPEN311_MAX_BODY_BYTES = int(os.environ.get("GRIDGOV_OPEN311_MAX_BODY_BYTES", str(64 * 1024)))
GRIDGOV_OPEN311_CONTACT = os.environ.get("GRIDGOV_OPEN311_CONTACT", "")
GRIDGOV_OPEN311_KEY_SERVICE = os.environ.get("GRIDGOV_OPEN311_KEY_SERVICE", "")
# E-mail: printed to the console unless an SMTP host is configured.
EMAIL_HOST = os.environ.get("GRIDGOV_EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("GRIDGOV_EMAIL_PORT", "25"))
    EMAIL_HOST_USER = os.environ.get("GRIDGOV_EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("GRIDGOV_EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("GRIDGOV_EMAIL_USE_TLS", False)
    EMAIL_TIMEOUT = int(os.environ.get("GRIDGOV_EMAIL_TIMEOUT", "10"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("GRIDGOV_DEFAULT_FROM_EMAIL", "gridgov@localhost")

REDIS_URL = os.environ.get("REDIS_URL", "")
HUEY_IMMEDIATE = env_bool("GRIDGOV_HUEY_IMMEDIATE", False)
# The cache holds rate-limit counters; with several web processes they must share it (Redis).
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": "gridgov",
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": int(os.environ.get("GRIDGOV_WORKERS", "2")), "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "gridgov",
        "filename": str(VAR_DIR / "huey.sqlite3"),
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": int(os.environ.get("GRIDGOV_WORKERS", "2")), "worker_type": "thread"},
    }

GRIDGOV_DEMO_PASSWORD = os.environ.get("GRIDGOV_DEMO_PASSWORD", "Gridgov-demo-2026")
GRIDGOV_SITE_NAME = _("gridgov")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"mask_personal_data": {"()": "gridgov.core.logging.MaskPersonalData"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_personal_data"]}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("GRIDGOV_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # runserver's request lines: through the same masking handler, not Django's own.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
CSRF_FAILURE_VIEW = "gridgov.core.views.csrf_failure"
GRIDGOV_TRUST_X_FORWARDED_FOR = env_bool("GRIDGOV_TRUST_X_FORWARDED_FOR", False)
