"""record ledger: the hash-chained event table is the challenge's record; decisions are drafts until published

Revision ID: 0003_record
Revises: 0003
Create Date: 2026-12-02 01:00:00

Decisions stored before this revision were public as soon as they were made:
they become published at the time they were made.  The ledger file such a
store kept next to it is imported into the table, record for record, the first
time `gauntlet challenge ...` opens the workspace (`gauntlet.rounds.service.import_ledger_file`):
a migration cannot know where that file is.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_record'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ledger_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('challenge_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('round_key', sa.String(length=100), nullable=True),
    sa.Column('record_hash', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['challenge_id'], ['challenges.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('challenge_id', 'seq'),
    sa.UniqueConstraint('challenge_id', 'record_hash')
    )
    with op.batch_alter_table('decisions') as batch:
        batch.add_column(sa.Column('published_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE decisions SET published_at = created_at")
    op.drop_table('ledger_heads')


def downgrade() -> None:
    op.create_table('ledger_heads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('challenge_id', sa.Integer(), nullable=False),
    sa.Column('head', sa.String(length=64), nullable=False),
    sa.Column('records', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['challenge_id'], ['challenges.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('decisions') as batch:
        batch.drop_column('published_at')
    op.drop_table('ledger_records')
