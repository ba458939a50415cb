"""Every table of the store, as SQLAlchemy Core metadata.

Alembic revisions in ``store/migrations/versions`` create and change these tables; a test
checks that a database upgraded to the newest revision matches this metadata exactly.
Dates of the simulated migration day are ``Date`` columns named ``*_on``; wall-clock
instants are timezone-aware ``DateTime`` columns named ``*_at``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

EUI64 = String(16)
CODE = String(40)

setting = Table(
    "setting",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

device_model = Table(
    "device_model",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_type", String(8), nullable=False),
    Column("manufacturer", String(64), nullable=False),
    Column("model", String(64), nullable=False),
    Column("firmware_version", String(64), nullable=False),
    Column("state", CODE, nullable=False, server_default="NEW"),
    Column("state_reason", Text),
    Column("state_changed_on", Date),
    # The state a suspended model returns to when it is resumed.
    Column("suspended_from_state", CODE),
    # Index into the proving plan of the step in progress, or of the last step started.
    Column("proving_step", Integer),
    Column("non_migratable_on", Date),
    UniqueConstraint("device_type", "manufacturer", "model", "firmware_version"),
)

model_upgrade = Table(
    "model_upgrade",
    metadata,
    Column("from_model_id", Integer, ForeignKey("device_model.id"), primary_key=True),
    Column("to_model_id", Integer, ForeignKey("device_model.id"), primary_key=True),
)

device = Table(
    "device",
    metadata,
    Column("id", EUI64, primary_key=True),
    Column("device_type", String(8), nullable=False),
    Column("generation", String(8), nullable=False),
    Column("smi_status", CODE, nullable=False),
    Column("model_id", Integer, ForeignKey("device_model.id")),
    Column("chf_id", EUI64),
    Column("supplier_id", String(32)),
    Column("mpxn", String(32)),
    Column("commissioned_on", Date),
    Column("last_change_of_supplier_on", Date),
    Column("cos_request_pending_until", Date),
    Column("comms_status", CODE, nullable=False, server_default="OK"),
    Column("credential", CODE, nullable=False),
    Column("migration_state", CODE, nullable=False, server_default="NOT_STARTED"),
    Column("first_seen_on", Date),
    # Cached result of the device-level eligibility rule: the primary reason (NULL when no
    # device-level reason applies), the first date it may stop holding, and the date it was
    # evaluated on. Model-level conditions are joined at selection time.
    Column("reason", CODE),
    Column("reason_until", Date),
    Column("evaluated_on", Date),
    # Seeded random selection order; never insertion order.
    Column("selection_key", BigInteger, nullable=False),
    # Indexes whose entries move when a device's eligibility changes end with the selection
    # key, not the row id. The engine starts devices in selection order, so the entries it
    # moves in one chunk are neighbours on a few pages instead of one page each.
    Index(None, "reason", "selection_key"),
    Index(None, "model_id", "reason", "selection_key"),
    # Covers the eligibility summary, so counting the fleet reads this index, not the table.
    Index(
        "ix_device_eligibility_summary",
        "device_type",
        "model_id",
        "reason",
        "evaluated_on",
        "reason_until",
        "selection_key",
    ),
    # Only devices with a transient reason have an end date, so only they are indexed.
    Index(
        None,
        "reason_until",
        sqlite_where=text("reason_until IS NOT NULL"),
        postgresql_where=text("reason_until IS NOT NULL"),
    ),
    Index(None, "evaluated_on", "selection_key"),
    # The eligible devices in selection order, with their model: the engine's daily
    # selection reads them in order and stops at the day's capacity. PostgreSQL does not
    # take "reason IS NULL" as fixing the first column of (reason, selection_key), so that
    # index cannot give it the order.
    Index(
        "ix_device_eligible",
        "selection_key",
        "model_id",
        sqlite_where=text("reason IS NULL"),
        postgresql_where=text("reason IS NULL"),
    ),
    # Devices between attempts: few at any time, and read every day for their retries. A
    # device that a chunk migrates or fails for good never enters this index.
    Index(
        "ix_device_in_progress",
        "selection_key",
        sqlite_where=text("migration_state = 'IN_PROGRESS'"),
        postgresql_where=text("migration_state = 'IN_PROGRESS'"),
    ),
    Index(None, "chf_id"),
    Index(None, "supplier_id"),
)

device_event = Table(
    "device_event",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("device_id", EUI64, nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("kind", CODE, nullable=False),
    Column("field", String(40)),
    Column("old_value", Text),
    Column("new_value", Text),
    Column("attempt_id", String(64)),
    Column("error_code", CODE),
    Column("actor", String(64)),
    Column("reason", Text),
    Index(None, "device_id"),
    Index(None, "kind", "occurred_on"),
)

model_event = Table(
    "model_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("device_model.id"), nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("kind", CODE, nullable=False),
    Column("from_state", CODE),
    Column("to_state", CODE),
    Column("actor", String(64)),
    Column("reason", Text),
    Index(None, "model_id"),
)

evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", EUI64, nullable=False),
    Column("model_id", Integer, ForeignKey("device_model.id")),
    # CERTIFICATE_REPLACEMENT_TCOS_TO_TCOS, CERTIFICATE_REPLACEMENT_TCOS_TO_ECOS or SRV_6_23_SUCCESS
    Column("kind", CODE, nullable=False),
    Column("occurred_on", Date, nullable=False),
    # IMPORTED or RECORDED
    Column("source", CODE, nullable=False),
    Column("reference", String(128)),
    Index(None, "model_id", "kind"),
    Index(None, "device_id"),
)

attempt = Table(
    "attempt",
    metadata,
    # Stable attempt id sent with every instruction, so a replay is recognised.
    Column("id", String(64), primary_key=True),
    Column("device_id", EUI64, nullable=False),
    Column("model_id", Integer, ForeignKey("device_model.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("proving_step", Integer),
    Column("started_on", Date, nullable=False),
    # INSTRUCT, REVIEW, REPLACE, RECONCILE: the step reached so far.
    Column("step", CODE, nullable=False),
    # IN_FLIGHT, SUCCEEDED, FAILED or UNKNOWN (the answer was lost).
    Column("status", CODE, nullable=False),
    Column("error_code", CODE),
    Column("finished_on", Date),
    # When a failed attempt is retried, the first day the next attempt may start.
    Column("retry_on", Date),
    Index(None, "device_id"),
    Index(None, "status"),
    # Ends with the id so that a model's newest outcomes, ordered by day and id, are read
    # from the end of the index without a sort of all the model's attempts.
    Index(None, "model_id", "finished_on", "id"),
)

incident = Table(
    "incident",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("device_model.id")),
    Column("category", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("target_resolution_at", DateTime(timezone=True), nullable=False),
    # OPEN or RESOLVED
    Column("status", CODE, nullable=False),
    Column("resolved_on", Date),
    Column("note", Text),
)

appeal = Table(
    "appeal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("device_model.id"), nullable=False),
    Column("supplier_id", String(32), nullable=False),
    # LODGED, UPHELD or OVERTURNED
    Column("status", CODE, nullable=False),
    Column("recorded_on", Date, nullable=False),
    Column("note", Text),
    Index(None, "model_id"),
)

cos_request = Table(
    "cos_request",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(128), nullable=False),
    Column("device_id", EUI64),
    Column("originator", EUI64),
    Column("service_reference", String(16)),
    # TCOS_PARTY, ECOS_PARTY, SMETS1_SERVICE_PROVIDER, HOLD or REJECT
    Column("decision", CODE, nullable=False),
    Column("reason", CODE),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("execution_at", DateTime(timezone=True)),
    # DECIDED, PENDING, CANCELLED, SUCCEEDED or FAILED
    Column("status", CODE, nullable=False),
    Column("outcome_at", DateTime(timezone=True)),
    Index(None, "request_id"),
    Index(None, "device_id"),
)

run_day = Table(
    "run_day",
    metadata,
    Column("day", Date, primary_key=True),
    Column("started", Integer, nullable=False),
    Column("migrated", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("retried", Integer, nullable=False),
    Column("in_scope_remaining", Integer, nullable=False),
    Column("eligible", Integer, nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=False),
)
