"""opportunities' furthest open stage; monthly tallies of the funnel report

Revision ID: 6b1d2e3f4a50
Revises: 5fb6c7b8a956
Create Date: 2026-11-25 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '6b1d2e3f4a50'
down_revision: str | Sequence[str] | None = '5fb6c7b8a956'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The funnel reads the days at the edges of its periods from these indexes alone.
CREATED_COVERING = ['company_id', 'created_at', 'pipeline_id', 'deleted_at', 'owner_id', 'team_id', 'source',
                    'furthest_stage_id', 'stage_id']
CLOSED_COVERING = ['company_id', 'closed_at', 'pipeline_id', 'deleted_at', 'stage_id', 'owner_id', 'team_id', 'source',
                   'created_at', 'amount']

# The furthest open stage (by position) among the deal's history rows in its current
# pipeline, else its current stage when that is open.
BACKFILL_FURTHEST = """
UPDATE sales_opportunity SET furthest_stage_id = COALESCE(
    (SELECT s.id FROM sales_stage_change c JOIN sales_stage s ON s.id = c.to_stage_id
     WHERE c.opportunity_id = sales_opportunity.id AND s.pipeline_id = sales_opportunity.pipeline_id
       AND NOT s.is_won AND NOT s.is_lost
     ORDER BY s.position DESC, s.id DESC LIMIT 1),
    (SELECT s.id FROM sales_stage s
     WHERE s.id = sales_opportunity.stage_id AND NOT s.is_won AND NOT s.is_lost))
"""


def tally_statements(dialect: str) -> list[str]:
    """The same INSERT … SELECT … GROUP BY as plugins.sales.funnel_tally.rebuild (for every
    company), written out so that this migration does not depend on the models of today."""
    def month(column: str) -> str:
        if dialect == 'postgresql':
            return f"CAST(date_trunc('month', timezone('UTC', {column})) AS DATE)"
        return f"date({column}, 'start of month')"

    days = ("EXTRACT(EPOCH FROM closed_at - created_at) / 86400.0" if dialect == 'postgresql'
            else "julianday(closed_at) - julianday(created_at)")
    common = "company_id, pipeline_id, {month}, COALESCE(owner_id, 0), COALESCE(team_id, 0), COALESCE(source, '')"
    created = common.format(month=month('created_at'))
    closed = common.format(month=month('closed_at'))
    return [
        "INSERT INTO sales_funnel_created (company_id, pipeline_id, month, owner_id, team_id, source, "
        "furthest_stage_id, stage_id, n) "
        f"SELECT {created}, COALESCE(furthest_stage_id, 0), stage_id, COUNT(*) FROM sales_opportunity "
        "WHERE deleted_at IS NULL AND created_at IS NOT NULL "
        f"GROUP BY {created}, COALESCE(furthest_stage_id, 0), stage_id",
        "INSERT INTO sales_funnel_closed (company_id, pipeline_id, month, owner_id, team_id, source, stage_id, n, "
        "amount, days) "
        f"SELECT {closed}, stage_id, COUNT(*), COALESCE(SUM(amount), 0), COALESCE(SUM({days}), 0) "
        "FROM sales_opportunity WHERE deleted_at IS NULL AND created_at IS NOT NULL AND closed_at IS NOT NULL "
        f"GROUP BY {closed}, stage_id",
    ]


def upgrade() -> None:
    with op.batch_alter_table('sales_opportunity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('furthest_stage_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_sales_opportunity_furthest_stage_id_sales_stage'), 'sales_stage',
                                    ['furthest_stage_id'], ['id'], ondelete='SET NULL')
        batch_op.drop_index('ix_sales_opportunity_company_created')
        batch_op.create_index('ix_sales_opportunity_company_created', CREATED_COVERING, unique=False)
        batch_op.drop_index('ix_sales_opportunity_company_closed')
        batch_op.create_index('ix_sales_opportunity_company_closed', CLOSED_COVERING, unique=False)
    op.execute(BACKFILL_FURTHEST)
    op.create_table('sales_funnel_created',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('pipeline_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=60), nullable=False),
    sa.Column('furthest_stage_id', sa.Integer(), nullable=False),
    sa.Column('stage_id', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'],
                            name=op.f('fk_sales_funnel_created_company_id_core_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_funnel_created')),
    sa.UniqueConstraint('company_id', 'pipeline_id', 'month', 'owner_id', 'team_id', 'source', 'furthest_stage_id',
                        'stage_id', name=op.f('uq_sales_funnel_created_key'))
    )
    op.create_table('sales_funnel_closed',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('pipeline_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=60), nullable=False),
    sa.Column('stage_id', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('days', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'],
                            name=op.f('fk_sales_funnel_closed_company_id_core_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_funnel_closed')),
    sa.UniqueConstraint('company_id', 'pipeline_id', 'month', 'owner_id', 'team_id', 'source', 'stage_id',
                        name=op.f('uq_sales_funnel_closed_key'))
    )
    for statement in tally_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table('sales_funnel_closed')
    op.drop_table('sales_funnel_created')
    with op.batch_alter_table('sales_opportunity', schema=None) as batch_op:
        batch_op.drop_index('ix_sales_opportunity_company_closed')
        batch_op.create_index('ix_sales_opportunity_company_closed', ['company_id', 'closed_at'], unique=False)
        batch_op.drop_index('ix_sales_opportunity_company_created')
        batch_op.create_index('ix_sales_opportunity_company_created', ['company_id', 'created_at'], unique=False)
        batch_op.drop_constraint(batch_op.f('fk_sales_opportunity_furthest_stage_id_sales_stage'), type_='foreignkey')
        batch_op.drop_column('furthest_stage_id')
