"""Projects: creation, protocol editing with audit, members and roles."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from review.errors import ConflictError, ValidationError
from review.models import AuditEvent
from review.services import projects as service
from tests.factories import make_project, make_user


def test_create_from_the_web_makes_the_creator_lead(client, auth, session) -> None:
    user = make_user(session)
    session.commit()
    auth.login(user.email)
    response = auth.post("/projects", {"title": "SIB outcomes review",
                                       "question": "Do SIBs work?"})
    assert response.status_code == 303
    dashboard = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "SIB outcomes review" in dashboard and "lead" in dashboard
    assert 'data-count="records">0<' in dashboard


def test_empty_title_is_refused_with_a_message(client, auth, session) -> None:
    user = make_user(session)
    session.commit()
    auth.login(user.email)
    response = auth.post("/projects", {"title": "  "})
    assert response.status_code == 422
    assert "a title is required" in response.get_data(as_text=True)


def test_lead_edits_protocol_and_it_is_audited(client, auth, session) -> None:
    lead = make_user(session)
    project = make_project(session, lead=lead)
    session.commit()
    auth.login(lead.email)
    form = {"title": project.title, "question": "Q", "inclusion_criteria": "Adults",
            "exclusion_criteria": "Children", "include_terms": "impact bond\npayment by results",
            "exclude_terms": "mice", "reviewers_ta": "2", "reviewers_ft": "1",
            "dual_fraction_ta": "20", "dual_fraction_ft": "",
            "reasons": "Wrong design\nWrong population",
            "reason_required_ta": "on"}
    assert auth.post(f"/projects/{project.id}/protocol", form).status_code == 303
    session.expire_all()
    assert project.include_terms == ["impact bond", "payment by results"]
    assert project.reviewers_ft == 1 and project.dual_fraction_ta == pytest.approx(0.2)
    assert [r.label for r in service.active_reasons(session, project_id=project.id)] == [
        "Wrong design", "Wrong population"]
    actions = session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.project_id == project.id)).all()
    assert "project.protocol" in actions and "project.reasons" in actions
    event = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "project.protocol"))
    assert event.before["inclusion_criteria"] == ""
    assert event.after["inclusion_criteria"] == "Adults"


def test_bad_protocol_value_names_the_field(client, auth, session) -> None:
    lead = make_user(session)
    project = make_project(session, lead=lead)
    session.commit()
    auth.login(lead.email)
    response = auth.post(f"/projects/{project.id}/protocol",
                         {"title": project.title, "reviewers_ta": "7", "reviewers_ft": "2"})
    assert response.status_code == 422
    assert "reviewers per record must be 1, 2 or 3" in response.get_data(as_text=True)


def test_lead_invites_members_with_roles(client, auth, session) -> None:
    lead, other = make_user(session), make_user(session, name="Rita Reviewer")
    project = make_project(session, lead=lead)
    session.commit()
    auth.login(lead.email)
    assert auth.post(f"/projects/{project.id}/members",
                     {"email": other.email, "role": "reviewer"}).status_code == 303
    assert service.role_in(session, project_id=project.id, user_id=other.id) == "reviewer"
    unknown = auth.post(f"/projects/{project.id}/members",
                        {"email": "nobody@example.org", "role": "reviewer"})
    assert unknown.status_code == 422 and "no account" in unknown.get_data(as_text=True)


def test_reasons_in_use_are_kept_inactive_and_reordered(session) -> None:
    lead = make_user(session)
    project = make_project(session, lead=lead)
    service.set_reasons(session, project_id=project.id, user_id=lead.id, labels=["B", "A"])
    service.set_reasons(session, project_id=project.id, user_id=lead.id, labels=["A"])
    assert [r.label for r in service.active_reasons(session, project_id=project.id)] == ["A"]
    with pytest.raises(ValidationError):
        service.set_reasons(session, project_id=project.id, user_id=lead.id, labels=["A", "A"])


def test_last_lead_stays(session) -> None:
    lead = make_user(session)
    project = make_project(session, lead=lead)
    with pytest.raises(ConflictError):
        service.add_member(session, project_id=project.id, by_user_id=lead.id, email=lead.email,
                           role="viewer")
