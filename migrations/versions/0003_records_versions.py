"""records_versions: a counter per project that marks the cached ranking features stale

Revision ID: 0003_records_versions
Revises: 0002_screening
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = '0003_records_versions'
down_revision = '0002_screening'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('records_versions',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'],
                            name=op.f('fk_records_versions_project_id_projects'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_records_versions'))
    )


def downgrade() -> None:
    op.drop_table('records_versions')
