"""Extensions, created unbound and bound in create_app."""

from flask_htmx import HTMX
from flask_login import LoginManager
from flask_wtf import CSRFProtect

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message_category = "info"
csrf = CSRFProtect()
htmx = HTMX()
