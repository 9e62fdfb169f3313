"""Review projects: creation, protocol, members and who may do what."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from review.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from review.models import ROLES, ExclusionReason, Membership, Project, User
from review.services.audit import log_event
from review.services.users import find_user

# The outcomes-contracting screening template's exclusion reasons (shared/data/domain/templates).
DEFAULT_REASONS = (
    "Not an outcomes-based payment mechanism",
    "Not a public service or social/environmental programme",
    "No empirical data",
    "Outside date range",
    "Duplicate / full text not retrievable",
)
PROTOCOL_FIELDS = (
    "title", "question", "inclusion_criteria", "exclusion_criteria", "include_terms",
    "exclude_terms", "reviewers_ta", "reviewers_ft", "dual_fraction_ta", "dual_fraction_ft",
    "reason_required_ta", "conflict_on_reason_ft",
)
READ = ("lead", "reviewer", "viewer")
SCREEN = ("lead", "reviewer")
LEAD = ("lead",)


def create_project(
    session: Session, *, title: str, lead_id: int, reasons: tuple[str, ...] = DEFAULT_REASONS,
    **protocol: Any,
) -> Project:
    """Create a project with its first lead and the default exclusion reasons."""
    if not title.strip():
        raise ValidationError("a title is required", field="title")
    project = Project(title=title.strip(), include_terms=[], exclude_terms=[])
    session.add(project)
    _apply_protocol(project, protocol)
    session.flush()
    session.add(Membership(project_id=project.id, user_id=lead_id, role="lead"))
    for position, label in enumerate(reasons):
        session.add(ExclusionReason(project_id=project.id, position=position, label=label))
    session.flush()
    log_event(session, action="project.create", object_type="project", object_id=project.id,
              project_id=project.id, user_id=lead_id, after=protocol_snapshot(project))
    return project


def protocol_snapshot(project: Project) -> dict[str, Any]:
    """The protocol fields as plain data, for the audit log."""
    return {name: getattr(project, name) for name in PROTOCOL_FIELDS}


def update_protocol(
    session: Session, *, project_id: int, user_id: int, changes: dict[str, Any]
) -> Project:
    """Change protocol fields (leads only); the before/after go to the audit log."""
    project = require_project(session, project_id=project_id, user_id=user_id, roles=LEAD)
    before = protocol_snapshot(project)
    _apply_protocol(project, changes)
    after = protocol_snapshot(project)
    if after != before:
        diff_before = {k: v for k, v in before.items() if after[k] != v}
        diff_after = {k: after[k] for k in diff_before}
        log_event(session, action="project.protocol", object_type="project",
                  object_id=project.id, project_id=project.id, user_id=user_id,
                  before=diff_before, after=diff_after)
    session.flush()
    return project


def _apply_protocol(project: Project, changes: dict[str, Any]) -> None:
    unknown = set(changes) - set(PROTOCOL_FIELDS)
    if unknown:
        raise ValidationError(f"unknown protocol field(s): {', '.join(sorted(unknown))}",
                              field=sorted(unknown)[0])
    for name, value in changes.items():
        if name == "title" and not str(value).strip():
            raise ValidationError("a title is required", field="title")
        if name in ("reviewers_ta", "reviewers_ft") and value not in (1, 2, 3):
            raise ValidationError("reviewers per record must be 1, 2 or 3", field=name)
        if name.startswith("dual_fraction") and value is not None and not 0 < value <= 1:
            raise ValidationError("the share of dual-screened records is between 0 and 1",
                                  field=name)
        if name.endswith("_terms"):
            value = [t.strip() for t in value if t and t.strip()]
        setattr(project, name, value)


def set_reasons(session: Session, *, project_id: int, user_id: int, labels: list[str]) -> None:
    """Replace the ordered exclusion reasons; reasons in use are deactivated, not deleted."""
    require_project(session, project_id=project_id, user_id=user_id, roles=LEAD)
    labels = [label.strip() for label in labels if label.strip()]
    if len(set(labels)) != len(labels):
        raise ValidationError("exclusion reasons must be distinct", field="reasons")
    existing = {r.label: r for r in session.scalars(
        select(ExclusionReason).where(ExclusionReason.project_id == project_id))}
    before = [r.label for r in sorted(existing.values(), key=lambda r: r.position) if r.active]
    for position, label in enumerate(labels):
        reason = existing.pop(label, None) or ExclusionReason(project_id=project_id, label=label)
        reason.position, reason.active = position, True
        session.add(reason)
    for offset, reason in enumerate(existing.values()):
        reason.active, reason.position = False, len(labels) + offset
    if before != labels:
        log_event(session, action="project.reasons", object_type="project", object_id=project_id,
                  project_id=project_id, user_id=user_id, before={"reasons": before},
                  after={"reasons": labels})
    session.flush()


def active_reasons(session: Session, *, project_id: int) -> list[ExclusionReason]:
    """The project's exclusion reasons in their order."""
    stmt = (select(ExclusionReason)
            .where(ExclusionReason.project_id == project_id, ExclusionReason.active.is_(True))
            .order_by(ExclusionReason.position))
    return list(session.scalars(stmt))


def require_project(
    session: Session, *, project_id: int, user_id: int, roles: tuple[str, ...] = READ
) -> Project:
    """The project if the user is a member with one of ``roles``.

    Non-members get NotFound (so ids cannot be probed); members without the role get
    PermissionDenied.
    """
    return require_membership(session, project_id=project_id, user_id=user_id,
                              roles=roles).project


def require_membership(
    session: Session, *, project_id: int, user_id: int, roles: tuple[str, ...] = READ
) -> Membership:
    """The user's membership (project and role) if its role is one of ``roles``.

    Raises NotFound for non-members and PermissionDenied for other roles, as require_project.
    """
    membership = session.scalar(select(Membership).where(
        Membership.project_id == project_id, Membership.user_id == user_id))
    if membership is None:
        raise NotFound(f"no project {project_id}")
    if membership.role not in roles:
        raise PermissionDenied(f"this needs the role {' or '.join(roles)}")
    return membership


def role_in(session: Session, *, project_id: int, user_id: int) -> str | None:
    """The user's role in the project, or None."""
    return session.scalar(select(Membership.role).where(
        Membership.project_id == project_id, Membership.user_id == user_id))


def projects_for_user(session: Session, *, user_id: int) -> list[tuple[Project, str]]:
    """The user's projects with their role, newest first."""
    stmt = (select(Project, Membership.role).join(Membership)
            .where(Membership.user_id == user_id).order_by(Project.id.desc()))
    return [(p, role) for p, role in session.execute(stmt)]


def all_projects(session: Session) -> list[Project]:
    """Every project (for the command line)."""
    return list(session.scalars(select(Project).order_by(Project.id)))


def members(session: Session, *, project_id: int) -> list[tuple[User, str]]:
    """The project's members with their roles."""
    stmt = (select(User, Membership.role).join(Membership, Membership.user_id == User.id)
            .where(Membership.project_id == project_id).order_by(User.name))
    return [(u, role) for u, role in session.execute(stmt)]


def add_member(
    session: Session, *, project_id: int, by_user_id: int, email: str, role: str
) -> Membership:
    """A lead invites an existing account to the project with a role (or changes its role)."""
    require_project(session, project_id=project_id, user_id=by_user_id, roles=LEAD)
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}", field="role")
    try:
        user = find_user(session, email=email)
    except NotFound as exc:
        raise ValidationError(f"{exc}; an admin creates accounts first", field="email") from exc
    membership = session.scalar(select(Membership).where(
        Membership.project_id == project_id, Membership.user_id == user.id))
    before = {"role": membership.role} if membership else None
    if membership is None:
        membership = Membership(project_id=project_id, user_id=user.id, role=role)
        session.add(membership)
    else:
        _keep_a_lead(session, project_id, membership, role)
        membership.role = role
    session.flush()
    log_event(session, action="member.set", object_type="membership", object_id=membership.id,
              project_id=project_id, user_id=by_user_id, before=before,
              after={"email": user.email, "role": role})
    return membership


def remove_member(session: Session, *, project_id: int, by_user_id: int, user_id: int) -> None:
    """Remove a member (their decisions stay); the last lead cannot be removed."""
    require_project(session, project_id=project_id, user_id=by_user_id, roles=LEAD)
    membership = session.scalar(select(Membership).where(
        Membership.project_id == project_id, Membership.user_id == user_id))
    if membership is None:
        raise NotFound("not a member")
    _keep_a_lead(session, project_id, membership, None)
    log_event(session, action="member.remove", object_type="membership",
              object_id=membership.id, project_id=project_id, user_id=by_user_id,
              before={"user_id": user_id, "role": membership.role})
    session.delete(membership)
    session.flush()


def _keep_a_lead(session: Session, project_id: int, membership: Membership,
                 new_role: str | None) -> None:
    if membership.role != "lead" or new_role == "lead":
        return
    leads = session.scalars(select(Membership.id).where(
        Membership.project_id == project_id, Membership.role == "lead")).all()
    if len(leads) <= 1:
        raise ConflictError("a project keeps at least one lead")
