"""Sans-I/O protocol layer: requests, signatures, push parsing and code mapping for both feeds.

No sockets, threads or pandas here; the transport drives a :class:`Session` with frames and the
frames layer types the columns that :class:`~nexusdata.protocol.tables.Table` flattens.
"""

from . import chainext, nexus, tables, urls
from .chainext import ChaiNextSession, IndexSubscription
from .nexus import NexusSession, NexusSubscription
from .services import SERVICES, Service
from .session import Push, Session
from .tables import TABLES, Table

__all__ = [
    "ChaiNextSession",
    "IndexSubscription",
    "NexusSession",
    "NexusSubscription",
    "Push",
    "SERVICES",
    "Service",
    "Session",
    "TABLES",
    "Table",
    "chainext",
    "nexus",
    "tables",
    "urls",
]
