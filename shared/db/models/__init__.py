"""Every table of Conveyor, importable from one place (Alembic reads `Base.metadata` from here)."""

from shared.db.base import Base
from shared.db.models.automations import Automation, AutomationDefaultValue, AutomationExecutionLog, AutomationRule
from shared.db.models.billing import CreditAccount, CreditLedger, CreditReservation, Payment
from shared.db.models.cache import CacheEntry
from shared.db.models.content import Item, ItemFile, PricePreset, Publisher, SaleQueueEntry, Template
from shared.db.models.i18n import Translation
from shared.db.models.identity import ApiKey, Credential, InstanceSettings, OneTimeToken, Session, User, UserSettings
from shared.db.models.jobs import Job, JobLog, JobSegment, Schedule, WebhookDelivery, Worker
from shared.db.models.media import MediaFile, MediaStatusEvent
from shared.db.models.metrics import Metric
from shared.db.models.projects import Project

__all__ = [
    "ApiKey",
    "Automation",
    "AutomationDefaultValue",
    "AutomationExecutionLog",
    "AutomationRule",
    "Base",
    "CacheEntry",
    "Credential",
    "CreditAccount",
    "CreditLedger",
    "CreditReservation",
    "InstanceSettings",
    "Item",
    "ItemFile",
    "Job",
    "JobLog",
    "JobSegment",
    "MediaFile",
    "MediaStatusEvent",
    "Metric",
    "OneTimeToken",
    "Payment",
    "PricePreset",
    "Project",
    "Publisher",
    "SaleQueueEntry",
    "Schedule",
    "Session",
    "Template",
    "Translation",
    "User",
    "UserSettings",
    "WebhookDelivery",
    "Worker",
]
