"""Create the initial schema.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cos_request",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("device_id", sa.String(length=16), nullable=True),
        sa.Column("originator", sa.String(length=16), nullable=True),
        sa.Column("service_reference", sa.String(length=16), nullable=True),
        sa.Column("decision", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("execution_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cos_request")),
    )
    op.create_index(op.f("ix_cos_request_device_id"), "cos_request", ["device_id"], unique=False)
    op.create_index(op.f("ix_cos_request_request_id"), "cos_request", ["request_id"], unique=False)
    op.create_table(
        "device_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("device_id", sa.String(length=16), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("attempt_id", sa.String(length=64), nullable=True),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_event")),
    )
    op.create_index(op.f("ix_device_event_device_id"), "device_event", ["device_id"], unique=False)
    op.create_index(
        op.f("ix_device_event_kind_occurred_on"),
        "device_event",
        ["kind", "occurred_on"],
        unique=False,
    )
    op.create_table(
        "device_model",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device_type", sa.String(length=8), nullable=False),
        sa.Column("manufacturer", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("firmware_version", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=40), server_default="NEW", nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("state_changed_on", sa.Date(), nullable=True),
        sa.Column("suspended_from_state", sa.String(length=40), nullable=True),
        sa.Column("proving_step", sa.Integer(), nullable=True),
        sa.Column("non_migratable_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_model")),
        sa.UniqueConstraint(
            "device_type",
            "manufacturer",
            "model",
            "firmware_version",
            name=op.f("uq_device_model_device_type_manufacturer_model_firmware_version"),
        ),
    )
    op.create_table(
        "run_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started", sa.Integer(), nullable=False),
        sa.Column("migrated", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("retried", sa.Integer(), nullable=False),
        sa.Column("in_scope_remaining", sa.Integer(), nullable=False),
        sa.Column("eligible", sa.Integer(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_run_day")),
    )
    op.create_table(
        "setting",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_setting")),
    )
    op.create_table(
        "appeal",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("supplier_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"], ["device_model.id"], name=op.f("fk_appeal_model_id_device_model")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeal")),
    )
    op.create_index(op.f("ix_appeal_model_id"), "appeal", ["model_id"], unique=False)
    op.create_table(
        "attempt",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=16), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("proving_step", sa.Integer(), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("finished_on", sa.Date(), nullable=True),
        sa.Column("retry_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"], ["device_model.id"], name=op.f("fk_attempt_model_id_device_model")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempt")),
    )
    op.create_index(op.f("ix_attempt_device_id"), "attempt", ["device_id"], unique=False)
    op.create_index(
        op.f("ix_attempt_model_id_finished_on_id"),
        "attempt",
        ["model_id", "finished_on", "id"],
        unique=False,
    )
    op.create_index(op.f("ix_attempt_status"), "attempt", ["status"], unique=False)
    op.create_table(
        "device",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("device_type", sa.String(length=8), nullable=False),
        sa.Column("generation", sa.String(length=8), nullable=False),
        sa.Column("smi_status", sa.String(length=40), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("chf_id", sa.String(length=16), nullable=True),
        sa.Column("supplier_id", sa.String(length=32), nullable=True),
        sa.Column("mpxn", sa.String(length=32), nullable=True),
        sa.Column("commissioned_on", sa.Date(), nullable=True),
        sa.Column("last_change_of_supplier_on", sa.Date(), nullable=True),
        sa.Column("cos_request_pending_until", sa.Date(), nullable=True),
        sa.Column("comms_status", sa.String(length=40), server_default="OK", nullable=False),
        sa.Column("credential", sa.String(length=40), nullable=False),
        sa.Column(
            "migration_state", sa.String(length=40), server_default="NOT_STARTED", nullable=False
        ),
        sa.Column("first_seen_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("reason_until", sa.Date(), nullable=True),
        sa.Column("evaluated_on", sa.Date(), nullable=True),
        sa.Column("selection_key", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["device_model.id"], name=op.f("fk_device_model_id_device_model")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device")),
    )
    op.create_index(op.f("ix_device_chf_id"), "device", ["chf_id"], unique=False)
    op.create_index(
        "ix_device_eligibility_summary",
        "device",
        ["device_type", "model_id", "reason", "evaluated_on", "reason_until", "selection_key"],
        unique=False,
    )
    op.create_index(
        "ix_device_eligible",
        "device",
        ["selection_key", "model_id"],
        unique=False,
        sqlite_where=sa.text("reason IS NULL"),
        postgresql_where=sa.text("reason IS NULL"),
    )
    op.create_index(
        op.f("ix_device_evaluated_on_selection_key"),
        "device",
        ["evaluated_on", "selection_key"],
        unique=False,
    )
    op.create_index(
        "ix_device_in_progress",
        "device",
        ["selection_key"],
        unique=False,
        sqlite_where=sa.text("migration_state = 'IN_PROGRESS'"),
        postgresql_where=sa.text("migration_state = 'IN_PROGRESS'"),
    )
    op.create_index(
        op.f("ix_device_model_id_reason_selection_key"),
        "device",
        ["model_id", "reason", "selection_key"],
        unique=False,
    )
    op.create_index(
        op.f("ix_device_reason_selection_key"), "device", ["reason", "selection_key"], unique=False
    )
    op.create_index(
        op.f("ix_device_reason_until"),
        "device",
        ["reason_until"],
        unique=False,
        sqlite_where=sa.text("reason_until IS NOT NULL"),
        postgresql_where=sa.text("reason_until IS NOT NULL"),
    )
    op.create_index(op.f("ix_device_supplier_id"), "device", ["supplier_id"], unique=False)
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=16), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"], ["device_model.id"], name=op.f("fk_evidence_model_id_device_model")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
    )
    op.create_index(op.f("ix_evidence_device_id"), "evidence", ["device_id"], unique=False)
    op.create_index(
        op.f("ix_evidence_model_id_kind"), "evidence", ["model_id", "kind"], unique=False
    )
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("target_resolution_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"], ["device_model.id"], name=op.f("fk_incident_model_id_device_model")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    op.create_table(
        "model_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("from_state", sa.String(length=40), nullable=True),
        sa.Column("to_state", sa.String(length=40), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"], ["device_model.id"], name=op.f("fk_model_event_model_id_device_model")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_event")),
    )
    op.create_index(op.f("ix_model_event_model_id"), "model_event", ["model_id"], unique=False)
    op.create_table(
        "model_upgrade",
        sa.Column("from_model_id", sa.Integer(), nullable=False),
        sa.Column("to_model_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_model_id"],
            ["device_model.id"],
            name=op.f("fk_model_upgrade_from_model_id_device_model"),
        ),
        sa.ForeignKeyConstraint(
            ["to_model_id"],
            ["device_model.id"],
            name=op.f("fk_model_upgrade_to_model_id_device_model"),
        ),
        sa.PrimaryKeyConstraint("from_model_id", "to_model_id", name=op.f("pk_model_upgrade")),
    )


def downgrade() -> None:
    op.drop_table("model_upgrade")
    op.drop_index(op.f("ix_model_event_model_id"), table_name="model_event")
    op.drop_table("model_event")
    op.drop_table("incident")
    op.drop_index(op.f("ix_evidence_model_id_kind"), table_name="evidence")
    op.drop_index(op.f("ix_evidence_device_id"), table_name="evidence")
    op.drop_table("evidence")
    op.drop_index(op.f("ix_device_supplier_id"), table_name="device")
    op.drop_index(
        op.f("ix_device_reason_until"),
        table_name="device",
        sqlite_where=sa.text("reason_until IS NOT NULL"),
        postgresql_where=sa.text("reason_until IS NOT NULL"),
    )
    op.drop_index(op.f("ix_device_reason_selection_key"), table_name="device")
    op.drop_index(op.f("ix_device_model_id_reason_selection_key"), table_name="device")
    op.drop_index(
        "ix_device_in_progress",
        table_name="device",
        sqlite_where=sa.text("migration_state = 'IN_PROGRESS'"),
        postgresql_where=sa.text("migration_state = 'IN_PROGRESS'"),
    )
    op.drop_index(op.f("ix_device_evaluated_on_selection_key"), table_name="device")
    op.drop_index(
        "ix_device_eligible",
        table_name="device",
        sqlite_where=sa.text("reason IS NULL"),
        postgresql_where=sa.text("reason IS NULL"),
    )
    op.drop_index("ix_device_eligibility_summary", table_name="device")
    op.drop_index(op.f("ix_device_chf_id"), table_name="device")
    op.drop_table("device")
    op.drop_index(op.f("ix_attempt_status"), table_name="attempt")
    op.drop_index(op.f("ix_attempt_model_id_finished_on_id"), table_name="attempt")
    op.drop_index(op.f("ix_attempt_device_id"), table_name="attempt")
    op.drop_table("attempt")
    op.drop_index(op.f("ix_appeal_model_id"), table_name="appeal")
    op.drop_table("appeal")
    op.drop_table("setting")
    op.drop_table("run_day")
    op.drop_table("device_model")
    op.drop_index(op.f("ix_device_event_kind_occurred_on"), table_name="device_event")
    op.drop_index(op.f("ix_device_event_device_id"), table_name="device_event")
    op.drop_table("device_event")
    op.drop_index(op.f("ix_cos_request_request_id"), table_name="cos_request")
    op.drop_index(op.f("ix_cos_request_device_id"), table_name="cos_request")
    op.drop_table("cos_request")
