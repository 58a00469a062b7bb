"""Identity: single sign-on (OpenID Connect), the staff second factor, the session registry, the sign-in log.

``settings``, ``claims`` and ``totp`` are pure; ``operations`` works on the database; ``oidc``, ``web`` and
``views`` are the Flask side (``web`` lists what other blueprints call).
"""
