"""web sessions: sign-ins kept on the server so signing out and revoking end them

Revision ID: 0003_harden
Revises: 0003
Create Date: 2026-12-02 01:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_harden'
down_revision = '0003_record'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('secret_sha256', sa.String(length=64), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['token_id'], ['access_tokens.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('secret_sha256')
    )
    op.create_index('ix_web_sessions_token_id', 'web_sessions', ['token_id'])


def downgrade() -> None:
    op.drop_index('ix_web_sessions_token_id', table_name='web_sessions')
    op.drop_table('web_sessions')
