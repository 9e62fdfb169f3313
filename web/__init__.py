"""The Flask application factory."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from review.config import database_url, default_instance_path, normalise_url
from web.extensions import csrf, htmx, login_manager


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then SIEVE_* environment variables, then ``config``."""
    app = Flask(__name__, instance_path=str(default_instance_path()),
                instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=None,
        DATABASE_URL=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=512 * 1024 * 1024,
        JOBS_INLINE=False,
    )
    app.config.from_prefixed_env("SIEVE")
    if config:
        app.config.from_mapping(config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config["DATABASE_URL"] = normalise_url(
        app.config["DATABASE_URL"] or database_url(instance_path=Path(app.instance_path))
    )
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    # Cookies marked Secure whenever the app is served over https (behind a proxy too).
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]

    from web import db

    db.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)

    from web import admin, auth, errors, projects

    errors.init_app(app)
    for module in (auth, projects, admin):
        app.register_blueprint(module.bp)
    _register_optional_blueprints(app)

    @app.context_processor
    def _helpers() -> dict[str, Any]:
        return {"has_endpoint": lambda name: name in app.view_functions}

    return app


def _register_optional_blueprints(app: Flask) -> None:
    """Areas that register themselves in web/areas.py."""
    from web.areas import blueprints

    for blueprint in blueprints():
        app.register_blueprint(blueprint)


def _instance_secret(instance: Path) -> str:
    """A secret key kept in the instance folder, made once, so sessions survive restarts."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
