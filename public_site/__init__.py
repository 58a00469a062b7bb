"""The public site at ``/``: petitioners apply, track and escalate here."""
