"""The screening page while a pilot round is open: normal screening pauses.

While a lead's pilot round is open, a reviewer's next record on the screening page comes only
from the round's records, and their decisions there are pilot decisions (kept apart from the
quota). A reviewer who has decided every pilot record is told the round waits for the others
and the lead, and is shown no other record until the lead closes the round; then the normal
queue resumes. The other stage is paused too while the round is open.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from review.errors import ConflictError
from review.models import PilotDecision, PilotRound, Record
from review.services import pilot as pilot_service


@dataclass(frozen=True)
class PilotPage:
    """What the screening page shows during an open pilot round."""

    round: PilotRound
    at_stage: bool  # the page's stage is the round's (else that stage is simply paused)
    record: Record | None  # my next pilot record; None once I have decided them all
    decided: int  # my pilot decisions so far

    @property
    def total(self) -> int:
        """Records in the round."""
        return len(self.round.record_ids)


def pilot_page(
    session: Session, *, pilot: PilotRound, reviewer_id: int, stage: str,
    record_id: int | None = None,
) -> PilotPage:
    """The pilot record to show next (or ``record_id`` if still undecided by me).

    For callers that have checked the reviewer may screen the round's project (the screener).
    """
    if stage != pilot.stage:
        return PilotPage(pilot, False, None, 0)
    record, decided = pilot_service.next_pilot_record(session, pilot=pilot,
                                                      reviewer_id=reviewer_id,
                                                      record_id=record_id)
    return PilotPage(pilot, True, record, decided)


def decide_in_pilot(
    session: Session, *, open_round: PilotRound | None, form_pilot_id: int | None,
    project_id: int, reviewer_id: int, stage: str, record_id: int, label: str,
    reason_id: int | None = None,
) -> PilotDecision:
    """A decision posted from the screening page while a pilot round is (or was) open.

    ``form_pilot_id`` is the round the page was showing, ``open_round`` the round open now.

    Raises:
        ConflictError: the round was closed meanwhile, or the decision is for normal
            screening (or the other stage) while a round is open; nothing is saved.
        ValidationError, NotFound: as record_pilot_decision.
    """
    if open_round is None or (form_pilot_id is not None and form_pilot_id != open_round.id):
        raise ConflictError("the pilot round was closed; screening goes on as normal")
    if form_pilot_id is None or stage != open_round.stage:
        raise ConflictError("screening is paused while the pilot round is open")
    return pilot_service.record_pilot_decision(
        session, project_id=project_id, pilot_id=open_round.id, record_id=record_id,
        reviewer_id=reviewer_id, label=label, reason_id=reason_id)
