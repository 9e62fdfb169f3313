"""The demo review: accounts, a project with its protocol, and real records to screen."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files

from sqlalchemy import select
from sqlalchemy.orm import Session

from review.models import Project, User
from review.services import projects as project_service
from review.services import users as user_service
from review.services.dedup import demo_step as dedup_demo_step
from review.services.imports import import_file
from review.services.ranking import rank_demo
from review.services.screening_demo import screening_demo_step

DEMO_TITLE = "Nudges for healthcare professionals (demo)"
DEMO_PASSWORD = "sieve-demo"
DEMO_ACCOUNTS = (
    ("lead@demo.sieve", "Lena Lead", "lead"),
    ("ada@demo.sieve", "Ada Reviewer", "reviewer"),
    ("ben@demo.sieve", "Ben Reviewer", "reviewer"),
)
DEMO_PROTOCOL = {
    "question": "Which nudges change the behaviour of healthcare professionals, and by how much?",
    "inclusion_criteria": (
        "Studies of healthcare professionals (physicians, nurses, pharmacists).\n"
        "An intervention that changes the choice architecture: defaults, reminders, feedback, "
        "social norms, salience, order effects.\n"
        "A measured behavioural outcome (prescribing, ordering, adherence to guidelines)."
    ),
    "exclusion_criteria": (
        "Education-only or financial-incentive interventions.\n"
        "Patients as the target population.\nNo behavioural outcome."
    ),
    "include_terms": ["nudge", "default", "reminder", "feedback", "choice architecture",
                      "physician", "prescribing", "social norm"],
    "exclude_terms": ["patient education", "financial incentive", "mice", "rats"],
}
DEMO_REASONS = (
    "Wrong population (not healthcare professionals)",
    "Not a nudge intervention",
    "No behavioural outcome",
    "Wrong study design",
    "Duplicate / not retrievable",
)


@dataclass(frozen=True)
class DemoInfo:
    """What `sieve demo` prints: the project and the accounts to sign in with."""

    project_id: int
    created: bool
    accounts: tuple[tuple[str, str, str], ...]
    password: str


def ensure_demo(session: Session) -> DemoInfo:
    """Create the demo accounts and project once; later calls return what exists."""
    project = session.scalar(select(Project).where(Project.title == DEMO_TITLE))
    if project is not None:
        return DemoInfo(project.id, False, DEMO_ACCOUNTS, DEMO_PASSWORD)
    users: dict[str, User] = {}
    for email, name, _role in DEMO_ACCOUNTS:
        existing = session.scalar(select(User).where(User.email == email))
        users[email] = existing or user_service.create_user(
            session, email=email, name=name, password=DEMO_PASSWORD,
            is_admin=email.startswith("lead"))
    lead = users[DEMO_ACCOUNTS[0][0]]
    project = project_service.create_project(session, title=DEMO_TITLE, lead_id=lead.id,
                                             reasons=DEMO_REASONS, **DEMO_PROTOCOL)
    for email, _name, role in DEMO_ACCOUNTS[1:]:
        project_service.add_member(session, project_id=project.id, by_user_id=lead.id,
                                   email=email, role=role)
    for step in demo_steps():
        step(session, project, users)
    return DemoInfo(project.id, True, DEMO_ACCOUNTS, DEMO_PASSWORD)


def demo_steps() -> list[Callable[[Session, Project, dict[str, User]], None]]:
    """What grows the demo after the accounts and protocol, in order.

    Each area (import, dedup, ranking, screening) adds its step here:
    ``step(session, project, users_by_email)``.
    """
    return [_import_demo_records, dedup_demo_step, rank_demo, screening_demo_step]


DEMO_SOURCE = "PubMed (demo)"


def _import_demo_records(session: Session, project: Project, users: dict[str, User]) -> None:
    """The bundled nagtegaal_2019 records (CC0), imported like an uploaded CSV."""
    data = gzip.decompress(files("review.demo_data").joinpath("nagtegaal_2019.csv.gz")
                           .read_bytes())
    import_file(session, project_id=project.id, user_id=users[DEMO_ACCOUNTS[0][0]].id,
                source_name=DEMO_SOURCE, source_kind="database", filename="nagtegaal_2019.csv",
                data=data)
