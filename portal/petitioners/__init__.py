"""What petitioners do online: apply, track, answer requests, escalate, withdraw; and their optional accounts."""
