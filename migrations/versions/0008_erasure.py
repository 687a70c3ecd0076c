"""erasure: account tombstones, departed members' usernames, proposals whose claim was erased

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 14:40:00.000000

Downgrading after an account was erased fails on PostgreSQL (proposals whose claim was erased
have no claim any more); it is meant for empty or test databases.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('conversation_member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('departed_username', sa.String(length=64), nullable=True))

    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.alter_column('child_claim_id', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('parent_claim_id', existing_type=sa.Integer(), nullable=True)


def downgrade():
    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.alter_column('parent_claim_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('child_claim_id', existing_type=sa.Integer(), nullable=False)

    with op.batch_alter_table('conversation_member', schema=None) as batch_op:
        batch_op.drop_column('departed_username')

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
