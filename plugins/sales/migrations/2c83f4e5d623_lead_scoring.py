"""lead scoring rules and grades

Revision ID: 2c83f4e5d623
Revises: 1b72e3d4c512
Create Date: 2026-11-25 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '2c83f4e5d623'
down_revision: str | Sequence[str] | None = '1b72e3d4c512'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sales_scoring_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=False),
    sa.Column('operator', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.Column('interaction_kind', sa.String(length=16), nullable=False),
    sa.Column('with_outcome', sa.Boolean(), nullable=False),
    sa.Column('per_occurrence', sa.Boolean(), nullable=False),
    sa.Column('max_count', sa.Integer(), nullable=True),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_sales_scoring_rule_company_id_core_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_scoring_rule'))
    )
    with op.batch_alter_table('sales_scoring_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sales_scoring_rule_company_id'), ['company_id'], unique=False)
        batch_op.create_index('ix_sales_scoring_rule_company_position', ['company_id', 'position'], unique=False)

    op.create_table('sales_grade_band',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grade', sa.String(length=8), nullable=False),
    sa.Column('min_score', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_sales_grade_band_company_id_core_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_grade_band')),
    sa.UniqueConstraint('company_id', 'grade', name=op.f('uq_sales_grade_band_company_id_grade'))
    )
    with op.batch_alter_table('sales_grade_band', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sales_grade_band_company_id'), ['company_id'], unique=False)

    # The explanation of a lead's score, and the indexes the lead list sorts and filters with.
    with op.batch_alter_table('sales_lead', schema=None) as batch_op:
        batch_op.add_column(sa.Column('score_details', sa.JSON(), nullable=True))
        batch_op.create_index('ix_sales_lead_company_score', ['company_id', 'score'], unique=False)
        batch_op.create_index('ix_sales_lead_company_grade', ['company_id', 'grade'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sales_lead', schema=None) as batch_op:
        batch_op.drop_index('ix_sales_lead_company_grade')
        batch_op.drop_index('ix_sales_lead_company_score')
        batch_op.drop_column('score_details')

    with op.batch_alter_table('sales_grade_band', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sales_grade_band_company_id'))
    op.drop_table('sales_grade_band')

    with op.batch_alter_table('sales_scoring_rule', schema=None) as batch_op:
        batch_op.drop_index('ix_sales_scoring_rule_company_position')
        batch_op.drop_index(batch_op.f('ix_sales_scoring_rule_company_id'))
    op.drop_table('sales_scoring_rule')
