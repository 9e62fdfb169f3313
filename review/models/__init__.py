"""Every model, imported here so Alembic and the services see one metadata."""

from review.models.audit import AuditEvent, Job
from review.models.extraction import ExtractionConsensus, ExtractionEntry, ExtractionForm
from review.models.projects import ROLES, STAGES, ExclusionReason, Membership, Project
from review.models.ranking import FeatureSet, ModelRun, RecordsVersion
from review.models.records import SOURCE_KINDS, DuplicateCandidate, ImportBatch, Record, Source
from review.models.screening import (
    LABELS,
    Decision,
    PilotDecision,
    PilotRound,
    Resolution,
    ScreeningClaim,
    StopEvent,
)
from review.models.users import LoginAttempt, User

__all__ = [
    "LABELS",
    "ROLES",
    "SOURCE_KINDS",
    "STAGES",
    "AuditEvent",
    "Decision",
    "DuplicateCandidate",
    "ExclusionReason",
    "ExtractionConsensus",
    "ExtractionEntry",
    "ExtractionForm",
    "FeatureSet",
    "ImportBatch",
    "Job",
    "LoginAttempt",
    "Membership",
    "ModelRun",
    "PilotDecision",
    "PilotRound",
    "Project",
    "Record",
    "RecordsVersion",
    "Resolution",
    "ScreeningClaim",
    "Source",
    "StopEvent",
    "User",
]
