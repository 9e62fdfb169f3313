"""Domain errors become HTTP responses here, so views need no try/except for them."""

from __future__ import annotations

from flask import Flask, render_template

from review.errors import ConflictError, NotFound, PermissionDenied, RateLimited, ValidationError


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(NotFound)
    @app.errorhandler(404)
    def not_found(exc: Exception) -> tuple[str, int]:
        return render_template("errors/error.html", code=404, message="Not found."), 404

    @app.errorhandler(PermissionDenied)
    @app.errorhandler(403)
    def forbidden(exc: Exception) -> tuple[str, int]:
        message = str(exc) if isinstance(exc, PermissionDenied) else "Not allowed."
        return render_template("errors/error.html", code=403, message=message), 403

    @app.errorhandler(ValidationError)
    def invalid(exc: ValidationError) -> tuple[str, int]:
        return render_template("errors/error.html", code=422, message=exc.message), 422

    @app.errorhandler(ConflictError)
    def conflict(exc: ConflictError) -> tuple[str, int]:
        return render_template("errors/error.html", code=409, message=str(exc)), 409

    @app.errorhandler(RateLimited)
    def limited(exc: RateLimited) -> tuple[str, int, dict[str, str]]:
        body = render_template("errors/error.html", code=429, message=str(exc))
        return body, 429, {"Retry-After": str(exc.retry_after)}

    @app.errorhandler(400)
    def bad_request(exc: Exception) -> tuple[str, int]:
        message = getattr(exc, "description", None) or "Bad request."
        return render_template("errors/error.html", code=400, message=message), 400
