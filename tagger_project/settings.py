"""Tagger settings: the only module that reads the environment.

Every setting has an embedded default so that a fresh clone runs with no
variables set: SQLite, the in-memory channel layer and a generated
development secret key (which a system check refuses when DEBUG is off).
"""

import importlib.util
import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() not in ("true", "false"):
        raise ValueError(f"{name} must be 'true' or 'false', not {raw!r}")
    return raw.lower() == "true"


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

# A fresh key per process would log everyone out on restart, so the dev key is
# generated once and kept beside the database. checks.py refuses it when
# DEBUG is off.
DEV_SECRET_KEY_FILE = BASE_DIR / "var" / "dev-secret-key"


def _dev_secret_key() -> str:
    try:
        return DEV_SECRET_KEY_FILE.read_text().strip()
    except FileNotFoundError:
        DEV_SECRET_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
        key = "dev-insecure-" + secrets.token_urlsafe(48)
        DEV_SECRET_KEY_FILE.write_text(key)
        return key


SECRET_KEY = os.environ.get("SECRET_KEY") or _dev_secret_key()
SECRET_KEY_IS_DEV = "SECRET_KEY" not in os.environ

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# django-ninja's bundled Swagger UI, served from our static files (a CDN is
# blank offline and outside our CSP). Its folders join the template and static
# dirs below instead of "ninja" joining INSTALLED_APPS: an installed app is
# imported at start-up, and ninja brings pydantic and django.test with it
# (~0.1 s of every command). find_spec locates the package without running it.
NINJA_DIR = Path(importlib.util.find_spec("ninja").origin).parent  # type: ignore[union-attr, arg-type]

INSTALLED_APPS = [
    # daphne's app only swaps in its ASGI runserver, and its AppConfig imports
    # twisted into every process (~0.27 CPU-s, half of a command's start-up):
    # installed for runserver alone. `serve` imports daphne itself.
    *(["daphne"] if sys.argv[1:2] == ["runserver"] else []),
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "tagger_project",
    "images",
    "tags",
    "sessions_app",
    "live",
    "datasets",
    "accounts",
    "taggers",
    "jobs",
    "axes",
]

MIDDLEWARE = [
    # First, before anything reads a body: part headers in Latin-1 reach the parser as UTF-8.
    "tagger_project.multipart_names.MultipartNamesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "tagger_project.middleware.PrivatePagesMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into a 429.
    "axes.middleware.AxesMiddleware",
]

# A strict Content-Security-Policy: scripts and styles from our own origin only,
# no inline script or style attribute (the templates have none; scripts set
# styles through the CSSOM, which CSP allows), no plugins, no framing, forms
# post only to us. 'self' covers the same-origin ws:// / wss:// socket.
# data: images: Swagger UI's stylesheet draws its icons with them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

ROOT_URLCONF = "tagger_project.urls"
ASGI_APPLICATION = "tagger_project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates", NINJA_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
SQLITE_PATH = BASE_DIR / "var" / "db.sqlite3"
DATABASES = {
    "default": dj_database_url.config(env="DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")
}
# HTTP requests run on a fixed pool of threads (tagger_project.http_handler),
# each keeping its connection between requests; Django's own ASGI handler
# would give every request a fresh thread, and so a fresh connection.
HTTP_THREADS = env_int("HTTP_THREADS", 8)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A psycopg pool: WebSocket consumers and commands borrow connections too,
    # and a new PostgreSQL connection costs ~4 ms (a 7 ms no-op API call here
    # without it, 2.9 ms with). Django refuses CONN_MAX_AGE beside a pool.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DB_POOL_MIN", 2),
        "max_size": env_int("DB_POOL_MAX", 20),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A kept connection keeps its page cache (~1 ms of a filtered page).
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 300)
    # WAL lets readers run beside the one writer; IMMEDIATE transactions take
    # the write lock up front, so concurrent writers wait for the busy
    # timeout instead of failing with "database is locked" mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        # SQLite's default page cache is 2 MiB; a filtered page of the 100k-image
        # bench walks more than that, and each page missed is a read from the OS
        # (3.94 -> 3.52 ms a 3-term AND page in-process). Negative: KiB.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        f" PRAGMA cache_size=-{env_int('SQLITE_CACHE_MB', 64) * 1024};",
    }
    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
# Tests that start real daphne processes need a database file they can share
# (SQLite's default test database lives in memory). The process id keeps test
# runs that happen at the same time on one machine apart.
_TEST_DB_SUFFIX = f"{os.getpid()}"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {
        "NAME": str(BASE_DIR / "var" / "test-db" / f"test-{_TEST_DB_SUFFIX}.sqlite3")
    }
    (BASE_DIR / "var" / "test-db").mkdir(parents=True, exist_ok=True)
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_tagger_{_TEST_DB_SUFFIX}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channels -------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
REDIS_LAYER_BACKENDS = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "classic": "channels_redis.core.RedisChannelLayer",
}
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # pub/sub by default: measured in bench/ws_bench.py against the classic layer.
            "BACKEND": REDIS_LAYER_BACKENDS[env_str("REDIS_CHANNEL_LAYER", "pubsub")],
            # A prefix keeps deployments (and concurrent test runs) sharing one Redis apart.
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("CHANNEL_LAYER_PREFIX", "asgi")},
        }
    }
else:
    # Each worker's hub holds one channel for all its sessions (live/hub.py),
    # so it needs more room than the per-socket default of 100 messages.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 10_000},
        }
    }

# --- Files ----------------------------------------------------------------
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
# Never served under this prefix: stored names are content hashes. Members get
# files from /api/images/<id>/file and /thumbnail (images/delivery.py).
MEDIA_URL = "/media/"
# WD14-family tagger models the operator brings: one subfolder per model, each
# holding model.onnx and selected_tags.csv. Nothing is downloaded at run time.
TAGGER_MODELS_DIR = Path(env_str("TAGGER_MODELS_DIR", str(BASE_DIR / "var" / "tagger-models")))

# --- Background jobs (jobs app) -----------------------------------------------
# `serve` runs a job worker thread beside the web server: on the embedded
# default (in-memory channel layer) only a worker in the server's process can
# reach its browsers. `manage.py worker` adds workers on more machines.
TAGGER_WORKER_IN_SERVER = env_bool("TAGGER_WORKER_IN_SERVER", True)
# Seconds a claimed job stays a worker's without it reporting progress; after
# that another worker resumes it. A chunk of work must fit well inside it.
TAGGER_JOB_LEASE_S = env_int("TAGGER_JOB_LEASE_S", 60)
# Images per chunk of an auto-tagging job: progress is committed after each.
TAGGER_JOB_CHUNK = env_int("TAGGER_JOB_CHUNK", 16)
# An export job commits and broadcasts its progress at most this often (milliseconds).
TAGGER_EXPORT_PROGRESS_MS = env_int("TAGGER_EXPORT_PROGRESS_MS", 500)
# The niceness (Linux) of a worker's threads, inference included: above 0 it
# gives way to the web server's requests, and to anything else on the machine.
TAGGER_WORKER_NICE = env_int("TAGGER_WORKER_NICE", 10)
# Leave the bytes of an authorized file to a front proxy: "x-accel-redirect"
# (nginx: an `internal` location at TAGGER_MEDIA_OFFLOAD_PREFIX aliased to
# MEDIA_ROOT) or "x-sendfile" (Apache mod_xsendfile, lighttpd). Empty: stream
# from the worker.
TAGGER_MEDIA_OFFLOAD = env_str("TAGGER_MEDIA_OFFLOAD", "")
if TAGGER_MEDIA_OFFLOAD not in ("", "x-accel-redirect", "x-sendfile"):
    raise ValueError(
        f"TAGGER_MEDIA_OFFLOAD must be empty, x-accel-redirect or x-sendfile,"
        f" not {TAGGER_MEDIA_OFFLOAD!r}"
    )
TAGGER_MEDIA_OFFLOAD_PREFIX = env_str("TAGGER_MEDIA_OFFLOAD_PREFIX", "/protected-media/")
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
# WhiteNoise warns on every request cycle when STATIC_ROOT is missing (before collectstatic).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static", NINJA_DIR / "static"]
# One setting moves originals, thumbnails and exports to S3-compatible storage
# (django-storages) when workers run on several machines.
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        # WhiteNoise's compressed manifest storage, with the ES modules' own
        # import lines rewritten to the hashed names (tagger_project/static_storage.py).
        else "tagger_project.static_storage.HashedModulesStorage"
    },
}
# Media on S3-compatible storage, for workers on several machines: set the bucket.
# Objects stay private (no ACL is sent, presigned URLs are never handed out):
# the media view authorizes each request and streams the object itself, so
# clients never learn a storage key (a content hash) and a removed member's
# link dies with the membership (images/delivery.py). Credentials: AWS_ACCESS_KEY_ID
# and AWS_SECRET_ACCESS_KEY, or, when unset, boto3's own chain (instance role, ...).
TAGGER_S3_BUCKET = env_str("TAGGER_S3_BUCKET", "")
if TAGGER_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "tagger_project.s3_storage.StreamedS3Storage",
        "OPTIONS": {
            "bucket_name": TAGGER_S3_BUCKET,
            # Any S3-compatible server (MinIO, Ceph, R2, ...); empty: AWS itself.
            "endpoint_url": env_str("TAGGER_S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("TAGGER_S3_REGION", "") or None,
            "location": env_str("TAGGER_S3_PREFIX", ""),
            "access_key": os.environ.get("AWS_ACCESS_KEY_ID"),
            "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY"),
            "default_acl": None,
            # Names are content addresses: the same name is the same bytes.
            "file_overwrite": True,
        },
    }
    if TAGGER_MEDIA_OFFLOAD:
        # The proxies' hand-offs name a file on disk or a location aliased to MEDIA_ROOT.
        raise ValueError("TAGGER_MEDIA_OFFLOAD needs media on local disk, not TAGGER_S3_BUCKET")

# --- HTTPS ----------------------------------------------------------------
# HTTPS=true once TLS is in front (here or at a proxy): secure cookies, HSTS,
# and a redirect of plain HTTP. Off by default: the embedded server and the
# loopback production test speak plain HTTP, where secure cookies never come back.
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS and env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
# A TLS-terminating proxy says so in X-Forwarded-Proto; trusted only when told.
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# `check --deploy` warns about these TLS settings. Over plain HTTP they are
# silenced on purpose, and only then: W004 (HSTS), W008 (SSL redirect), W012
# and W016 (secure session and CSRF cookies) cannot apply without TLS.
# W005 and W021 (HSTS for subdomains, HSTS preload) are always silenced: they
# bind every subdomain of the domain, which is the domain owner's call; set
# SECURE_HSTS_INCLUDE_SUBDOMAINS=true to opt in.
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
if not HTTPS:
    SILENCED_SYSTEM_CHECKS += ["security.W004", "security.W008", "security.W012", "security.W016"]

# --- Auth -----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# django-axes counts failed sign-ins (the form and POST /api/auth/login) per
# username and client address together: guessing one account's password stops
# after LOGIN_FAILURE_LIMIT tries, while the same person from elsewhere, or
# other accounts behind one address, still sign in. Counts live in the
# database (deterministic in tests: each test's transaction rolls them back);
# a success resets them; the lock lifts LOGIN_LOCKOUT_MINUTES after the last
# failure. `manage.py axes_reset` lifts every lock.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.throttling.lockout_response"
# No access-log row per sign-in: failures are what is counted.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/sessions/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Tagger limits ----------------------------------------------------------
# Pillow refuses images above this many pixels (decompression bombs).
TAGGER_MAX_IMAGE_PIXELS = env_int("TAGGER_MAX_IMAGE_PIXELS", 100_000_000)
TAGGER_MAX_UPLOAD_BYTES = env_int("TAGGER_MAX_UPLOAD_BYTES", 64 * 1024 * 1024)
TAGGER_MAX_UPLOAD_FILES = env_int("TAGGER_MAX_UPLOAD_FILES", 100)
# Django counts files before our handler does; keep its bound out of the way, and
# let tagger_project.uploads enforce the TAGGER_* limits while the body streams.
DATA_UPLOAD_MAX_NUMBER_FILES = TAGGER_MAX_UPLOAD_FILES + 1
FILE_UPLOAD_HANDLERS = [
    "tagger_project.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
TAGGER_THUMBNAIL_SIZE = 256
# Longest side of the display rendition the workspace panel shows (images.renditions).
TAGGER_DISPLAY_SIZE = 1536
# A WebSocket client that has not been heard from for this long is dropped.
STALE_CLIENT_TIMEOUT = env_int("STALE_CLIENT_TIMEOUT", 60)
# A client resuming further behind than this many events gets `resync` (reload).
TAGGER_MAX_REPLAY = env_int("TAGGER_MAX_REPLAY", 1000)
# Per WebSocket connection: largest frame, sustained frames/s and burst, and
# how many bad frames within a minute before closing with 1008.
TAGGER_WS_MAX_FRAME_BYTES = env_int("TAGGER_WS_MAX_FRAME_BYTES", 64 * 1024)
TAGGER_WS_RATE = env_int("TAGGER_WS_RATE", 20)
TAGGER_WS_BURST = env_int("TAGGER_WS_BURST", 60)
TAGGER_WS_MAX_BAD_FRAMES = env_int("TAGGER_WS_MAX_BAD_FRAMES", 10)
# Seconds between each worker's re-check of every open socket's token or
# session and role (revocations are also pushed at once; this catches the rest).
TAGGER_WS_RECHECK_S = env_int("TAGGER_WS_RECHECK_S", 5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"drop_http2_notice": {"()": "tagger_project.log_filters.DropHttp2Notice"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "daphne.server": {"filters": ["drop_http2_notice"]},
        # django-axes logs every counter reset (each sign-in) at INFO.
        "axes": {"level": "WARNING"},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
