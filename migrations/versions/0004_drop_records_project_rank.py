"""drop ix_records_project_rank: its columns are the first three of ix_records_screening

Every query it served (kept records of a project, the top ranks) is served as well by the
wider index, while each import and each rank write kept both up to date.

Revision ID: 0004_drop_records_project_rank
Revises: 0003_records_versions
Create Date: 2026-11-28
"""
from alembic import op

revision = '0004_drop_records_project_rank'
down_revision = '0003_records_versions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_project_rank')


def downgrade() -> None:
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index('ix_records_project_rank', ['project_id', 'canonical_id', 'rank'],
                              unique=False)
