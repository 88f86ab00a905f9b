"""arena: where each vote came from (one-way address and network keys) and the arena's open/closed state

Revision ID: 0003_arena
Revises: 0003
Create Date: 2026-12-02 01:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_arena'
down_revision = '0003_harden'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('arena_votes') as batch:
        batch.add_column(sa.Column('address_key', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('network_key', sa.String(length=64), nullable=True))
    op.create_table('arena_states',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('challenge_id', sa.Integer(), nullable=False),
    sa.Column('round_key', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['challenge_id'], ['challenges.id'], ),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('arena_states')
    with op.batch_alter_table('arena_votes') as batch:
        batch.drop_column('network_key')
        batch.drop_column('address_key')
