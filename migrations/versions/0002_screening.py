"""screening: a covering index for the queue and progress; claims on records being read

Revision ID: 0002_screening
Revises: 0001
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = '0002_screening'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index('ix_records_screening', ['project_id', 'canonical_id', 'rank',
                              'auto_excluded_by_id', 'quota_ta', 'quota_ft'], unique=False)
    op.create_table('screening_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'],
                            name=op.f('fk_screening_claims_record_id_records'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'],
                            name=op.f('fk_screening_claims_reviewer_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screening_claims')),
    sa.UniqueConstraint('record_id', 'stage', 'reviewer_id',
                        name=op.f('uq_screening_claims_record_id_stage_reviewer_id'))
    )
    with op.batch_alter_table('screening_claims', schema=None) as batch_op:
        batch_op.create_index('ix_screening_claims_reviewer', ['reviewer_id', 'stage'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('screening_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_screening_claims_reviewer')
    op.drop_table('screening_claims')
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_screening')
