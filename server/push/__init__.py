"""Web Push alerts and statutory deadline reminders (issue 6).

* :mod:`server.push.vapid`: the VAPID key pair in the data dir;
* :mod:`server.push.subscriptions`: per-device Web Push subscriptions (validated);
* :mod:`server.push.payload`: the personal-data-free payload, Topic, TTL and Urgency of an alert;
* :mod:`server.push.worker`: the durable outbox: alerts -> per-subscription deliveries -> the push services;
* :mod:`server.push.deadlines`: reminders before/on due dates and escalation of missed deadlines;
* :mod:`server.push.cli`: ``caseflow push ...`` and ``caseflow deadlines tick``.

The design is in docs/push.md and docs/decisions/0008-push-outbox.md.
"""

from server.push.deadlines import scan_deadlines, start_scheduler
from server.push.subscriptions import remove_device_subscriptions, remove_user_subscriptions
from server.push.worker import deliver_pending, start_push_worker

__all__ = [
    "deliver_pending", "remove_device_subscriptions", "remove_user_subscriptions", "scan_deadlines",
    "start_push_worker", "start_scheduler",
]
