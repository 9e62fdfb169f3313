"""Records on two topics and decisions written as the screening service stores them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from review.models import Decision, Project, Record, Resolution, User
from tests.factories import add_member, make_project, make_user

BOND = [
    "Social impact bond for homelessness: outcomes payments and evaluation",
    "Payment by results contracts in employment services: an outcomes fund",
    "Development impact bond for education outcomes in India",
    "Outcomes-based commissioning and social impact bonds in the UK",
    "An outcomes fund paying for results in youth services",
    "Impact bond investors and outcome payers: a case study",
]
OTHER = [
    "Protein folding kinetics in yeast cells",
    "Coral reef fish populations after bleaching",
    "Crystal structure of a bacterial membrane transporter",
    "Deep sea sediment microbiology",
    "Soil nitrogen cycling in temperate forests",
    "Neutron star mergers and gravitational waves",
    "Photosynthesis efficiency of wheat under drought",
    "Volcanic ash dispersion models",
]


def setup_project(session: Session, **protocol) -> tuple[Project, User, User, list[Record]]:
    """A project with a lead, a reviewer and the 14 records above (bond topics first)."""
    lead, reviewer = make_user(session), make_user(session)
    project = make_project(session, lead=lead, **protocol)
    add_member(session, project, reviewer, "reviewer")
    records = [Record(project_id=project.id, title=t, abstract=f"{t}. A study.", authors=[],
                      keywords=[], raw={}) for t in BOND + OTHER]
    session.add_all(records)
    session.flush()
    return project, lead, reviewer, records


def decide(session: Session, record: Record, user: User, label: str, slot: int = 1,
           stage: str = "title_abstract") -> Decision:
    d = Decision(project_id=record.project_id, record_id=record.id, stage=stage,
                 reviewer_id=user.id, slot=slot, label=label)
    session.add(d)
    session.flush()
    return d


def resolve(session: Session, record: Record, lead: User, label: str) -> Resolution:
    r = Resolution(project_id=record.project_id, record_id=record.id, stage="title_abstract",
                   lead_id=lead.id, label=label)
    session.add(r)
    session.flush()
    return r
