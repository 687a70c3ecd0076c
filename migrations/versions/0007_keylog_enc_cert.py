"""key log: keep each entry's enc_cert (clients verify messages sent before a reset)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 13:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('key_log_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enc_cert', sa.LargeBinary(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('key_log_entry', schema=None) as batch_op:
        batch_op.drop_column('enc_cert')
