"""own work: each submission's training-run chain verification and contamination tests

Revision ID: 0004_own_work
Revises: 0004_expert_drafts
Create Date: 2026-12-02 04:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_own_work'
down_revision = '0004_expert_drafts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('own_work_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('verdict', sa.String(length=20), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('submission_id', 'kind')
    )


def downgrade() -> None:
    op.drop_table('own_work_evidence')
