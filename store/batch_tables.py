"""Tables of batch review: batches, their members, and every list a batch card showed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.tables import Base, UTCDateTime


class BatchRow(Base):
    """Similar pending requests shown on one card. ``open_key`` is the batch key while the
    batch still takes members (unique: one open batch per key), NULL once it is closed."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    open_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    action: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    max_members: Mapped[int] = mapped_column(Integer)
    members: Mapped[int] = mapped_column(Integer, default=0)
    card_channel: Mapped[str | None] = mapped_column(String(64))
    card_ts: Mapped[str | None] = mapped_column(String(64))


class BatchMemberRow(Base):
    """A ticket's place in its batch (a ticket is in at most one)."""

    __tablename__ = "batch_members"

    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)


class BatchViewRow(Base):
    """A list of members a batch card showed, by its hash: what "Approve all N" binds."""

    __tablename__ = "batch_views"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
