"""What accounts announces to the apps above it, which connect in their ``AppConfig.ready()``.

accounts imports nothing of the apps that use it, so a change they must act
on (new thumbnail heights to render) goes out as a signal.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent with tier=<Tier> after a staff member changed the tier's thumbnail heights.
tier_thumbnails_changed = Signal()

# Sent with user=<User> after a staff member moved the user to another tier.
user_tier_changed = Signal()
