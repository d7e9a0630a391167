"""回音 Huiyin: the application factory."""

import logging
import os

from flask import Flask, has_request_context, request, session
from flask_login import current_user

from .config import load_config, shared_services
from .core.extensions import babel, csrf, db, login_manager, migrate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
log = logging.getLogger(__name__)


def select_locale() -> str:
    if not has_request_context():
        return "zh_CN"
    if current_user and current_user.is_authenticated and current_user.locale:
        return current_user.locale
    return session.get("lang") or "zh_CN"


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app; ``overrides`` (tests) win over the environment."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("HUIYIN_INSTANCE", os.path.join(ROOT, "instance")),
        template_folder=os.path.join(ROOT, "templates"),
        static_folder=os.path.join(ROOT, "static"),
    )
    # Residents' data: what the app creates (database, uploads, job files, exports) is readable by
    # the app's own user only — files 0600, folders 0700.
    os.umask(0o077)
    os.makedirs(app.instance_path, mode=0o700, exist_ok=True)
    app.config.update(load_config(app.instance_path))
    if overrides:
        app.config.update(overrides)
    shared_services(app.config)
    _private_paths(app)

    db.init_app(app)
    from . import schedule  # noqa: F401 - every task the queue runs, and the scheduled ones
    from .api import models as _api_models  # noqa: F401 - API keys, work orders, rate windows
    from .api import webhooks as _api_webhooks  # noqa: F401 - status changes pushed to API callers
    from .cases import counts as _case_counts  # noqa: F401 - the queues' counters and their upkeep
    from .cases import models as _case_models  # noqa: F401 - case tables, for migrations
    from .core import calendar, jobs, numbering, settings, tasks  # noqa: F401 - core tables; the task queue
    from .handling import models as _handling_models  # noqa: F401 - handling tables
    from .integrity import models as _integrity_models  # noqa: F401 - flags, spot checks, 问责
    from .notifications import models as _notification_models  # noqa: F401 - inbox, deliveries
    from .receipt import models as _receipt_models  # noqa: F401 - the lookup's attempts
    from .stats import reports as _stats_reports  # noqa: F401 - half-month reports table
    from .supervision import models as _supervision_models  # noqa: F401 - 督办单, agendas
    from .visits import models as _visit_models  # noqa: F401 - visits, registers, rounds

    tasks.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"))
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=os.path.join(os.path.dirname(__file__), "translations"),
    )
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.session_protection = None  # sessions are server-side (accounts.auth)

    with app.app_context():
        from .core.db import configure_engine

        configure_engine(db.engine)

    from .core.errors import init_errors
    from .core.security import init_security

    init_security(app)
    from .accounts import throttle

    throttle.init_app(app)
    init_errors(app)
    _register_blueprints(app)
    _register_template_helpers(app)

    from .accounts.gates import enforce_gate

    app.before_request(enforce_gate)

    from .cli import register_cli

    register_cli(app)

    if app.config["REQUIRE_CJK_FONT"]:
        from .core.fonts import require_cjk_font

        app.config["CJK_FONTS"] = require_cjk_font()
    return app


def _private_paths(app: Flask) -> None:
    """Close up what an earlier install (or another umask) left open: the instance and upload
    folders 0700, the SQLite database and its journal files 0600."""
    from sqlalchemy.engine import make_url

    local = (app.config.get("STORAGE_BACKEND") or "local").lower() == "local"
    upload_dir = app.config.get("UPLOAD_DIR") if local else None  # S3: no upload on this host
    if upload_dir:
        os.makedirs(upload_dir, mode=0o700, exist_ok=True)
    paths = [(app.instance_path, 0o700), *([(upload_dir, 0o700)] if upload_dir else [])]
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        paths += [(url.database + suffix, 0o600) for suffix in ("", "-wal", "-shm", "-journal")]
    for path, mode in paths:
        try:
            if os.path.exists(path) and os.stat(path).st_uid == os.getuid():
                os.chmod(path, mode)
        except OSError:
            log.warning("could not restrict the permissions of %s", path)


def _register_blueprints(app: Flask) -> None:
    from .accounts.admin import bp as users_bp
    from .accounts.role_change_routes import bp as role_changes_bp
    from .accounts.routes import bp as accounts_bp
    from .accounts.security_admin import bp as security_bp
    from .accounts.totp_routes import bp as totp_bp
    from .api.admin_routes import bp as api_keys_bp
    from .api.routes import bp as open311_bp
    from .audit.routes import bp as audit_bp
    from .cases.intake_routes import bp as intake_bp
    from .cases.list_routes import bp as lists_bp
    from .cases.routes import bp as cases_bp
    from .cases.sheet_routes import bp as sheets_bp
    from .cases.triage_routes import bp as triage_bp
    from .core.health import bp as health_bp
    from .handling.closure_routes import bp as closure_bp
    from .handling.meeting_routes import bp as meetings_bp
    from .handling.progress_routes import bp as progress_bp
    from .handling.reply_routes import bp as replies_bp
    from .handling.taskbook_routes import bp as taskbook_bp
    from .integrity.accountability_routes import bp as accountability_bp
    from .integrity.routes import bp as integrity_bp
    from .integrity.spotcheck_routes import bp as spotchecks_bp
    from .jobs.routes import bp as jobs_bp
    from .notifications.routes import bp as notifications_bp
    from .offline.routes import bp as offline_bp
    from .org.routes import bp as org_bp
    from .receipt.routes import bp as receipt_bp
    from .settings.mark_routes import bp as marks_bp
    from .settings.routes import bp as settings_bp
    from .stats.routes import bp as stats_bp
    from .supervision.agenda_routes import bp as agendas_bp
    from .supervision.notice_routes import bp as notices_bp
    from .supervision.paper_routes import bp as papers_bp
    from .supervision.routes import bp as supervision_bp
    from .visits.coverage_routes import bp as coverage_bp
    from .visits.import_routes import bp as imports_bp
    from .visits.intake_routes import bp as visits_bp
    from .visits.ledger_routes import bp as ledger_bp
    from .visits.photo_routes import bp as visit_photos_bp
    from .visits.register_routes import bp as registers_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(org_bp)
    app.register_blueprint(users_bp)
    app.register_blueprint(security_bp)
    app.register_blueprint(role_changes_bp)
    app.register_blueprint(totp_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(visits_bp)
    app.register_blueprint(coverage_bp)
    app.register_blueprint(registers_bp)
    app.register_blueprint(ledger_bp)
    app.register_blueprint(visit_photos_bp)
    app.register_blueprint(imports_bp)
    app.register_blueprint(intake_bp)
    app.register_blueprint(triage_bp)
    app.register_blueprint(sheets_bp)
    app.register_blueprint(lists_bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(marks_bp)
    # Handling and closure: the problem page's panels come in this order.
    app.register_blueprint(taskbook_bp)
    app.register_blueprint(progress_bp)
    app.register_blueprint(meetings_bp)
    app.register_blueprint(closure_bp)
    app.register_blueprint(replies_bp)
    app.register_blueprint(receipt_bp)
    app.register_blueprint(stats_bp)
    app.register_blueprint(supervision_bp)
    app.register_blueprint(notices_bp)
    app.register_blueprint(agendas_bp)
    app.register_blueprint(papers_bp)
    app.register_blueprint(integrity_bp)
    app.register_blueprint(spotchecks_bp)
    app.register_blueprint(accountability_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(api_keys_bp)
    app.register_blueprint(open311_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(offline_bp)


def _register_template_helpers(app: Flask) -> None:
    from .accounts.nav import items_for, menu_markup
    from .core import clock
    from .core.forms import error_items, option_tags
    from .notifications.queries import unread_count

    # A global (not a context variable): macros imported without context call it.
    app.add_template_global(error_items, "form_error_items")
    app.add_template_global(option_tags)

    @app.template_filter("localtime")
    def localtime(value, fmt="%Y-%m-%d %H:%M"):
        return "" if value is None else clock.local(value).strftime(fmt)

    @app.context_processor
    def inject():
        user = current_user._get_current_object() if current_user else None
        items = items_for(user) if user else []
        return {
            "nav_items": items,
            "nav_menu_html": lambda: menu_markup(items, select_locale()) if user else "",
            "current_locale": select_locale(),
            "current_path": request.full_path.rstrip("?") if request else "/",
            # Called by the layout's bell only: one index-only count per full page.
            "unread_notifications": lambda: (
                unread_count(current_user.id) if current_user and current_user.is_authenticated else 0),
        }
