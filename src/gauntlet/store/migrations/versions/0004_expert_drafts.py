"""expert drafts: an expert's unsubmitted scores, kept apart from the final reviews

Revision ID: 0004_expert_drafts
Revises: 0003_arena
Create Date: 2026-12-02 03:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_expert_drafts'
down_revision = '0003_arena'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('review_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['review_assignments.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('assignment_id')
    )


def downgrade() -> None:
    op.drop_table('review_drafts')
