"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('login_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempts'))
    )
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_attempts_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_attempts_email'), ['email'], unique=False)

    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('inclusion_criteria', sa.Text(), nullable=False),
    sa.Column('exclusion_criteria', sa.Text(), nullable=False),
    sa.Column('include_terms', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('exclude_terms', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reviewers_ta', sa.Integer(), nullable=False),
    sa.Column('reviewers_ft', sa.Integer(), nullable=False),
    sa.Column('dual_fraction_ta', sa.Float(), nullable=True),
    sa.Column('dual_fraction_ft', sa.Float(), nullable=True),
    sa.Column('reason_required_ta', sa.Boolean(), nullable=False),
    sa.Column('conflict_on_reason_ft', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=100), nullable=False),
    sa.Column('object_type', sa.String(length=50), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=True),
    sa.Column('before', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('after', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_audit_events_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_audit_events_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_object', ['object_type', 'object_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_project_id'), ['project_id'], unique=False)

    op.create_table('exclusion_reasons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_exclusion_reasons_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exclusion_reasons')),
    sa.UniqueConstraint('project_id', 'label', name=op.f('uq_exclusion_reasons_project_id_label'))
    )
    op.create_table('extraction_forms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_extraction_forms_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_extraction_forms_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extraction_forms')),
    sa.UniqueConstraint('project_id', 'version', name=op.f('uq_extraction_forms_project_id_version'))
    )
    op.create_table('feature_sets',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_feature_sets_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_feature_sets'))
    )
    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=50), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('run_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_jobs_status')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_jobs_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_jobs_status', ['status', 'run_after'], unique=False)

    op.create_table('memberships',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('lead', 'reviewer', 'viewer')", name=op.f('ck_memberships_role')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_memberships_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_memberships_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memberships')),
    sa.UniqueConstraint('project_id', 'user_id', name=op.f('uq_memberships_project_id_user_id'))
    )
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_memberships_user_id'), ['user_id'], unique=False)

    op.create_table('model_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('model_name', sa.String(length=100), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('n_labels', sa.Integer(), nullable=False),
    sa.Column('n_included', sa.Integer(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('metrics', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('trained_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_model_runs_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_runs'))
    )
    with op.batch_alter_table('model_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_runs_project_id'), ['project_id'], unique=False)

    op.create_table('pilot_rounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('record_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_pilot_rounds_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_pilot_rounds_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pilot_rounds'))
    )
    with op.batch_alter_table('pilot_rounds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pilot_rounds_project_id'), ['project_id'], unique=False)

    op.create_table('sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('database', 'register', 'other')", name=op.f('ck_sources_kind')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_sources_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sources')),
    sa.UniqueConstraint('project_id', 'name', name=op.f('uq_sources_project_id_name'))
    )
    op.create_table('stop_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('rule', sa.String(length=100), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('evidence', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('n_excluded', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_stop_events_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_stop_events_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stop_events'))
    )
    with op.batch_alter_table('stop_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stop_events_project_id'), ['project_id'], unique=False)

    op.create_table('import_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=500), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('format', sa.String(length=32), nullable=False),
    sa.Column('encoding', sa.String(length=32), nullable=True),
    sa.Column('n_read', sa.Integer(), nullable=False),
    sa.Column('n_imported', sa.Integer(), nullable=False),
    sa.Column('n_skipped', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('mapping', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('forced', sa.Boolean(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_import_batches_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_import_batches_source_id_sources')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_import_batches_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_batches'))
    )
    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_batches_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_batches_sha256'), ['sha256'], unique=False)

    op.create_table('records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('source_record_id', sa.String(length=200), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('abstract', sa.Text(), nullable=True),
    sa.Column('authors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('journal', sa.Text(), nullable=True),
    sa.Column('volume', sa.String(length=100), nullable=True),
    sa.Column('issue', sa.String(length=100), nullable=True),
    sa.Column('pages', sa.String(length=100), nullable=True),
    sa.Column('doi', sa.String(length=300), nullable=True),
    sa.Column('pmid', sa.String(length=40), nullable=True),
    sa.Column('issn', sa.String(length=100), nullable=True),
    sa.Column('isbn', sa.String(length=100), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('keywords', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('language', sa.String(length=100), nullable=True),
    sa.Column('publication_type', sa.String(length=200), nullable=True),
    sa.Column('publisher', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('locator', sa.String(length=100), nullable=True),
    sa.Column('canonical_id', sa.Integer(), nullable=True),
    sa.Column('full_text', sa.Text(), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('pdf_filename', sa.String(length=500), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('model_run_id', sa.Integer(), nullable=True),
    sa.Column('quota_ta', sa.Integer(), nullable=True),
    sa.Column('quota_ft', sa.Integer(), nullable=True),
    sa.Column('auto_excluded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['auto_excluded_by_id'], ['stop_events.id'], name=op.f('fk_records_auto_excluded_by_id_stop_events'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batches.id'], name=op.f('fk_records_batch_id_import_batches'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['canonical_id'], ['records.id'], name=op.f('fk_records_canonical_id_records'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['model_run_id'], ['model_runs.id'], name=op.f('fk_records_model_run_id_model_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_records_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records'))
    )
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_records_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_records_canonical_id'), ['canonical_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_records_doi'), ['doi'], unique=False)
        batch_op.create_index('ix_records_project_rank', ['project_id', 'canonical_id', 'rank'], unique=False)

    op.create_table('decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=10), nullable=False),
    sa.Column('reason_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("label IN ('include', 'exclude', 'maybe')", name=op.f('ck_decisions_label')),
    sa.CheckConstraint("stage IN ('title_abstract', 'full_text')", name=op.f('ck_decisions_stage')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_decisions_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reason_id'], ['exclusion_reasons.id'], name=op.f('fk_decisions_reason_id_exclusion_reasons'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], name=op.f('fk_decisions_record_id_records'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_decisions_reviewer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions')),
    sa.UniqueConstraint('record_id', 'stage', 'reviewer_id', name=op.f('uq_decisions_record_id_stage_reviewer_id')),
    sa.UniqueConstraint('record_id', 'stage', 'slot', name=op.f('uq_decisions_record_id_stage_slot'))
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index('ix_decisions_reviewer', ['project_id', 'stage', 'reviewer_id'], unique=False)

    op.create_table('duplicate_candidates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('record_a_id', sa.Integer(), nullable=False),
    sa.Column('record_b_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reasons', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('flagged_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('auto', 'pending', 'confirmed', 'rejected')", name=op.f('ck_duplicate_candidates_status')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_duplicate_candidates_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['flagged_by_id'], ['users.id'], name=op.f('fk_duplicate_candidates_flagged_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_duplicate_candidates_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['record_a_id'], ['records.id'], name=op.f('fk_duplicate_candidates_record_a_id_records'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['record_b_id'], ['records.id'], name=op.f('fk_duplicate_candidates_record_b_id_records'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duplicate_candidates')),
    sa.UniqueConstraint('record_a_id', 'record_b_id', name=op.f('uq_duplicate_candidates_record_a_id_record_b_id'))
    )
    with op.batch_alter_table('duplicate_candidates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duplicate_candidates_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_duplicate_candidates_record_b_id'), ['record_b_id'], unique=False)

    op.create_table('extraction_consensus',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('values', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['form_id'], ['extraction_forms.id'], name=op.f('fk_extraction_consensus_form_id_extraction_forms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lead_id'], ['users.id'], name=op.f('fk_extraction_consensus_lead_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], name=op.f('fk_extraction_consensus_record_id_records'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extraction_consensus')),
    sa.UniqueConstraint('form_id', 'record_id', name=op.f('uq_extraction_consensus_form_id_record_id'))
    )
    op.create_table('extraction_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('extractor_id', sa.Integer(), nullable=False),
    sa.Column('values', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'submitted')", name=op.f('ck_extraction_entries_status')),
    sa.ForeignKeyConstraint(['extractor_id'], ['users.id'], name=op.f('fk_extraction_entries_extractor_id_users')),
    sa.ForeignKeyConstraint(['form_id'], ['extraction_forms.id'], name=op.f('fk_extraction_entries_form_id_extraction_forms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], name=op.f('fk_extraction_entries_record_id_records'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extraction_entries')),
    sa.UniqueConstraint('form_id', 'record_id', 'extractor_id', name=op.f('uq_extraction_entries_form_id_record_id_extractor_id'))
    )
    with op.batch_alter_table('extraction_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extraction_entries_record_id'), ['record_id'], unique=False)

    op.create_table('pilot_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pilot_id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=10), nullable=False),
    sa.Column('reason_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['pilot_id'], ['pilot_rounds.id'], name=op.f('fk_pilot_decisions_pilot_id_pilot_rounds'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reason_id'], ['exclusion_reasons.id'], name=op.f('fk_pilot_decisions_reason_id_exclusion_reasons'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], name=op.f('fk_pilot_decisions_record_id_records'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_pilot_decisions_reviewer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pilot_decisions')),
    sa.UniqueConstraint('pilot_id', 'record_id', 'reviewer_id', name=op.f('uq_pilot_decisions_pilot_id_record_id_reviewer_id'))
    )
    op.create_table('resolutions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=10), nullable=False),
    sa.Column('reason_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("label IN ('include', 'exclude')", name=op.f('ck_resolutions_label')),
    sa.ForeignKeyConstraint(['lead_id'], ['users.id'], name=op.f('fk_resolutions_lead_id_users')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_resolutions_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reason_id'], ['exclusion_reasons.id'], name=op.f('fk_resolutions_reason_id_exclusion_reasons'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], name=op.f('fk_resolutions_record_id_records'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resolutions')),
    sa.UniqueConstraint('record_id', 'stage', name=op.f('uq_resolutions_record_id_stage'))
    )
    with op.batch_alter_table('resolutions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resolutions_project_id'), ['project_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('resolutions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resolutions_project_id'))

    op.drop_table('resolutions')
    op.drop_table('pilot_decisions')
    with op.batch_alter_table('extraction_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extraction_entries_record_id'))

    op.drop_table('extraction_entries')
    op.drop_table('extraction_consensus')
    with op.batch_alter_table('duplicate_candidates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duplicate_candidates_record_b_id'))
        batch_op.drop_index(batch_op.f('ix_duplicate_candidates_project_id'))

    op.drop_table('duplicate_candidates')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_decisions_reviewer')

    op.drop_table('decisions')
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_project_rank')
        batch_op.drop_index(batch_op.f('ix_records_doi'))
        batch_op.drop_index(batch_op.f('ix_records_canonical_id'))
        batch_op.drop_index(batch_op.f('ix_records_batch_id'))

    op.drop_table('records')
    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_batches_sha256'))
        batch_op.drop_index(batch_op.f('ix_import_batches_project_id'))

    op.drop_table('import_batches')
    with op.batch_alter_table('stop_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stop_events_project_id'))

    op.drop_table('stop_events')
    op.drop_table('sources')
    with op.batch_alter_table('pilot_rounds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pilot_rounds_project_id'))

    op.drop_table('pilot_rounds')
    with op.batch_alter_table('model_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_runs_project_id'))

    op.drop_table('model_runs')
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_memberships_user_id'))

    op.drop_table('memberships')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_status')
        batch_op.drop_index(batch_op.f('ix_jobs_project_id'))

    op.drop_table('jobs')
    op.drop_table('feature_sets')
    op.drop_table('extraction_forms')
    op.drop_table('exclusion_reasons')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_project_id'))
        batch_op.drop_index('ix_audit_events_object')

    op.drop_table('audit_events')
    op.drop_table('users')
    op.drop_table('projects')
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_attempts_email'))
        batch_op.drop_index(batch_op.f('ix_login_attempts_created_at'))

    op.drop_table('login_attempts')

