"""Platform tables: teams, roles, sign-in security, API tokens, audit, events, jobs, settings

Revision ID: 767cb81025dd
Revises: 2d9839f51c3d
Create Date: 2026-11-25 12:10:22.875131
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '767cb81025dd'
down_revision: str | Sequence[str] | None = '2d9839f51c3d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('core_login_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_login_attempt'))
    )
    with op.batch_alter_table('core_login_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_login_attempt_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_login_attempt_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_login_attempt_email'), ['email'], unique=False)

    op.create_table('core_api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.String(length=2000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_core_api_token_company_id_core_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['core_user.id'], name=op.f('fk_core_api_token_user_id_core_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_core_api_token_token_hash'))
    )
    with op.batch_alter_table('core_api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_api_token_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_api_token_user_id'), ['user_id'], unique=False)

    op.create_table('core_audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('record_type', sa.String(length=120), nullable=False),
    sa.Column('record_id', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_core_audit_entry_company_id_core_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['core_user.id'], name=op.f('fk_core_audit_entry_user_id_core_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_audit_entry'))
    )
    with op.batch_alter_table('core_audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_audit_entry_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_audit_entry_company_id'), ['company_id'], unique=False)
        batch_op.create_index('ix_core_audit_entry_record', ['company_id', 'record_type', 'record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_audit_entry_user_id'), ['user_id'], unique=False)

    op.create_table('core_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_core_event_company_id_core_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['core_user.id'], name=op.f('fk_core_event_user_id_core_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_event'))
    )
    with op.batch_alter_table('core_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_event_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_event_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_event_name'), ['name'], unique=False)

    op.create_table('core_job',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=True),
    sa.Column('message', sa.String(length=500), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_core_job_company_id_core_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['core_user.id'], name=op.f('fk_core_job_user_id_core_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_job'))
    )
    with op.batch_alter_table('core_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_job_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_job_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_job_status'), ['status'], unique=False)

    op.create_table('core_role',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('template', sa.String(length=120), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_core_role_company_id_core_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_role')),
    sa.UniqueConstraint('company_id', 'name', name=op.f('uq_core_role_company_id_name'))
    )
    with op.batch_alter_table('core_role', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_role_company_id'), ['company_id'], unique=False)

    op.create_table('core_setting_value',
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_core_setting_value_company_id_core_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['core_user.id'], name=op.f('fk_core_setting_value_updated_by_id_core_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('company_id', 'key', name=op.f('pk_core_setting_value'))
    )
    op.create_table('core_team',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('manager_id', sa.Integer(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_core_team_company_id_core_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['manager_id'], ['core_user.id'], name=op.f('fk_core_team_manager_id_core_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_team')),
    sa.UniqueConstraint('company_id', 'name', name=op.f('uq_core_team_company_id_name'))
    )
    with op.batch_alter_table('core_team', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_team_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_team_manager_id'), ['manager_id'], unique=False)

    op.create_table('core_user_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['core_company.id'], name=op.f('fk_core_user_token_company_id_core_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['core_user.id'], name=op.f('fk_core_user_token_user_id_core_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_user_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_core_user_token_token_hash'))
    )
    with op.batch_alter_table('core_user_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_user_token_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_user_token_user_id'), ['user_id'], unique=False)

    op.create_table('core_event_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('handler', sa.String(length=200), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['core_event.id'], name=op.f('fk_core_event_delivery_event_id_core_event'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_event_delivery')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_core_event_delivery_idempotency_key'))
    )
    with op.batch_alter_table('core_event_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_event_delivery_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_event_delivery_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_event_delivery_status'), ['status'], unique=False)

    op.create_table('core_role_permission',
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['role_id'], ['core_role.id'], name=op.f('fk_core_role_permission_role_id_core_role'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('role_id', 'code', name=op.f('pk_core_role_permission'))
    )
    op.create_table('core_role_visibility',
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.Column('record_type', sa.String(length=120), nullable=False),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['role_id'], ['core_role.id'], name=op.f('fk_core_role_visibility_role_id_core_role'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('role_id', 'record_type', name=op.f('pk_core_role_visibility'))
    )
    op.create_table('core_team_member',
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['core_team.id'], name=op.f('fk_core_team_member_team_id_core_team'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['core_user.id'], name=op.f('fk_core_team_member_user_id_core_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('team_id', 'user_id', name=op.f('pk_core_team_member'))
    )
    with op.batch_alter_table('core_team_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_team_member_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('core_membership', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_core_membership_role_id'), ['role_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_core_membership_role_id_core_role'), 'core_role', ['role_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('core_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=16), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('core_user', schema=None) as batch_op:
        batch_op.drop_column('locale')

    with op.batch_alter_table('core_membership', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_core_membership_role_id_core_role'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_core_membership_role_id'))
        batch_op.drop_column('role_id')

    with op.batch_alter_table('core_team_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_team_member_user_id'))

    op.drop_table('core_team_member')
    op.drop_table('core_role_visibility')
    op.drop_table('core_role_permission')
    with op.batch_alter_table('core_event_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_event_delivery_status'))
        batch_op.drop_index(batch_op.f('ix_core_event_delivery_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_core_event_delivery_event_id'))

    op.drop_table('core_event_delivery')
    with op.batch_alter_table('core_user_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_user_token_user_id'))
        batch_op.drop_index(batch_op.f('ix_core_user_token_company_id'))

    op.drop_table('core_user_token')
    with op.batch_alter_table('core_team', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_team_manager_id'))
        batch_op.drop_index(batch_op.f('ix_core_team_company_id'))

    op.drop_table('core_team')
    op.drop_table('core_setting_value')
    with op.batch_alter_table('core_role', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_role_company_id'))

    op.drop_table('core_role')
    with op.batch_alter_table('core_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_job_status'))
        batch_op.drop_index(batch_op.f('ix_core_job_created_at'))
        batch_op.drop_index(batch_op.f('ix_core_job_company_id'))

    op.drop_table('core_job')
    with op.batch_alter_table('core_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_event_name'))
        batch_op.drop_index(batch_op.f('ix_core_event_created_at'))
        batch_op.drop_index(batch_op.f('ix_core_event_company_id'))

    op.drop_table('core_event')
    with op.batch_alter_table('core_audit_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_audit_entry_user_id'))
        batch_op.drop_index('ix_core_audit_entry_record')
        batch_op.drop_index(batch_op.f('ix_core_audit_entry_company_id'))
        batch_op.drop_index(batch_op.f('ix_core_audit_entry_at'))

    op.drop_table('core_audit_entry')
    with op.batch_alter_table('core_api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_api_token_user_id'))
        batch_op.drop_index(batch_op.f('ix_core_api_token_company_id'))

    op.drop_table('core_api_token')
    with op.batch_alter_table('core_login_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_login_attempt_email'))
        batch_op.drop_index(batch_op.f('ix_core_login_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_core_login_attempt_address'))

    op.drop_table('core_login_attempt')
