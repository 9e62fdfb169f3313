"""screening: a covering index for the screening queue and progress

Revision ID: 0002_screening
Revises: 0001
Create Date: 2026-11-28
"""
from alembic import op

revision = '0002_screening'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index('ix_records_screening', ['project_id', 'canonical_id', 'rank',
                              'auto_excluded_by_id', 'quota_ta', 'quota_ft'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_screening')
