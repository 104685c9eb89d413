"""The reference sync client: a device's outbox and replica in one local file, push, pull, sync.

``SyncClient`` is the library (``sync.client_cli`` is its command line). Nothing here imports the
server: it talks to it over HTTP only, as a tablet would.
"""

from sync.client.core import DeviceRevoked, NeedLogin, SyncClient, SyncError
from sync.client.local import LocalState
from sync.client.transport import Http, RetryPolicy, Unavailable

__all__ = ["DeviceRevoked", "Http", "LocalState", "NeedLogin", "RetryPolicy", "SyncClient", "SyncError",
           "Unavailable"]
