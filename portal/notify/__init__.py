"""Notifications: e-mail and SMS senders, message texts, and in-app notifications for staff.

Senders take finished texts and addresses; they never see the outbox or the database. Who gets what, and when,
is decided by ``portal.outbox`` (delivery of outbox rows) and ``portal.sweeps`` (deadline reminders).
"""
